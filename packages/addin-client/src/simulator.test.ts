import { createHash, randomUUID } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { AddinJob, CompleteJobBody } from '@mcms/contracts';
import type { AddinClient } from './client';
import { AddinApiError } from './errors';
import { leaseMsOf, pickOutcome, runSimulator, type SimEvent, type SimulatorOptions } from './simulator';

function job(overrides: Partial<AddinJob> = {}): AddinJob {
  const routingCode = overrides.routingCode ?? `GT${Math.floor(Math.random() * 1e6)}`;
  return {
    jobId: randomUUID(),
    routingId: randomUUID(),
    routingCode,
    status: 'InProgress',
    attempt: 1,
    parameters: {
      routingCode,
      itemCode: 'ITEM-1',
      revisionCode: 'A',
      camRevision: '1.0.0',
      outputFolder: `ITEM-1/A/Routings/${routingCode}`,
    },
    createdAt: '2026-11-28T10:00:00.000Z',
    startedAt: '2026-11-28T10:00:00.000Z',
    completedAt: null,
    leaseExpiresAt: '2026-11-28T10:00:03.000Z', // a 3 s lease
    claimedBy: null,
    resultStatus: null,
    message: null,
    outputs: null,
    ...overrides,
  };
}

const lostLease = () =>
  new AddinApiError({ code: 'lease_not_held', message: 'lease lost', status: 409, retryable: false });

/** A plain fake of the client port: hands out `jobs` in order, then reports the queue empty. */
function fakeGateway(jobs: AddinJob[], { onEmpty = () => {} }: { onEmpty?: () => void } = {}) {
  const calls: string[] = [];
  const completions: Array<{ deviceId: string; jobId: string; body: CompleteJobBody }> = [];
  const heartbeats: Array<{ deviceId: string; jobId: string }> = [];
  const handedTo = new Map<string, string>();
  let heartbeatFailure: ((jobId: string, count: number) => Error | undefined) | undefined;
  let nextFailure: Error | undefined;
  const createClient = (deviceId: string): AddinClient => ({
    deviceId,
    async next() {
      calls.push(`${deviceId} next`);
      if (nextFailure) throw nextFailure;
      const taken = jobs.shift();
      if (!taken) {
        onEmpty();
        return null;
      }
      handedTo.set(taken.jobId, deviceId);
      return { ...taken, claimedBy: deviceId };
    },
    async heartbeat(jobId) {
      heartbeats.push({ deviceId, jobId });
      const failure = heartbeatFailure?.(jobId, heartbeats.length);
      if (failure) throw failure;
      return { leaseExpiresAt: '2026-11-28T10:05:00.000Z' };
    },
    async complete(jobId, body) {
      completions.push({ deviceId, jobId, body });
      return job({ jobId, status: body.resultStatus === 'completed' ? 'Completed' : 'Failed' });
    },
    async getJob() {
      throw new Error('not used');
    },
  });
  return {
    createClient,
    calls,
    completions,
    heartbeats,
    handedTo,
    failHeartbeats: (fn: typeof heartbeatFailure) => (heartbeatFailure = fn),
    failNext: (err: Error) => (nextFailure = err),
  };
}

/** A clock that only moves when the simulator sleeps, so durations and latencies are exact. */
function fakeTime() {
  let now = 0;
  const sleeps: number[] = [];
  return {
    now: () => now,
    sleeps,
    advance: (ms: number) => (now += ms),
    sleep: async (ms: number) => {
      sleeps.push(ms);
      now += ms;
    },
  };
}

describe('picking an outcome from the mix', () => {
  it('splits the draw range in proportion to the weights, in the order success, failure, crash, slow', () => {
    const mix = { success: 2, failure: 1, crash: 1, slow: 0 };
    expect([0, 0.49, 0.5, 0.74, 0.75, 0.999].map((draw) => pickOutcome(mix, draw))).toEqual([
      'success',
      'success',
      'failure',
      'failure',
      'crash',
      'crash',
    ]);
  });

  it('never picks an outcome of weight zero, even at the edges', () => {
    const onlySlow = { success: 0, failure: 0, crash: 0, slow: 3 };
    expect([0, 0.5, 0.9999999999].map((draw) => pickOutcome(onlySlow, draw))).toEqual([
      'slow',
      'slow',
      'slow',
    ]);
  });

  it('refuses a mix without a positive weight', () => {
    expect(() => pickOutcome({ success: 0, failure: 0, crash: 0, slow: 0 }, 0.3)).toThrow(/positive weight/);
  });

  it("reads the lease length from the job's own timestamps", () => {
    expect(leaseMsOf(job())).toBe(3_000);
    expect(() => leaseMsOf(job({ startedAt: null }))).toThrow(/startedAt/);
  });
});

describe('the add-in simulator', () => {
  let drive: string;
  beforeEach(async () => {
    drive = await mkdtemp(path.join(os.tmpdir(), 'mcms-sim-'));
  });
  afterEach(() => rm(drive, { recursive: true, force: true }));

  const base = (gateway: ReturnType<typeof fakeGateway>, time = fakeTime()): SimulatorOptions => ({
    createClient: gateway.createClient,
    sharedDriveRoot: drive,
    waitSeconds: 0,
    now: time.now,
    sleep: time.sleep,
  });

  it('writes the .esp, .nc and .stl files to the routing folder and completes with their sizes and checksums', async () => {
    const taken = job({ routingCode: 'GT310001' });
    const gateway = fakeGateway([taken]);
    const summary = await runSimulator({ ...base(gateway), maxJobs: 1 });

    const folder = path.join(drive, 'ITEM-1', 'A', 'Routings', 'GT310001');
    expect((await readdir(folder)).sort()).toEqual(['GT310001.esp', 'GT310001.nc', 'GT310001.stl']);
    const [completion] = gateway.completions;
    expect(completion?.body.resultStatus).toBe('completed');
    for (const output of completion?.body.outputs ?? []) {
      const bytes = await readFile(path.join(folder, output.path));
      expect(output).toEqual({
        path: output.path,
        sha256: createHash('sha256').update(bytes).digest('hex'),
        sizeBytes: bytes.length,
      });
    }
    const nc = await readFile(path.join(folder, 'GT310001.nc'), 'utf8');
    expect(nc).toContain('GT310001');
    expect(nc).toContain(taken.jobId);
    expect(await readFile(path.join(folder, 'GT310001.stl'), 'utf8')).toMatch(
      /^solid GT310001\n[\s\S]*endsolid GT310001\n$/,
    );
    expect(summary).toMatchObject({
      taken: 1,
      outcomes: { success: 1 },
      reported: { completed: 1, failed: 0 },
      errors: 0,
    });
  });

  it('reports a failure with the ESPRIT message and writes no files', async () => {
    const gateway = fakeGateway([job()]);
    const summary = await runSimulator({
      ...base(gateway),
      maxJobs: 1,
      mix: { failure: 1 },
      failureMessage: 'ESPRIT: toolpath collision in operation 3',
    });
    expect(gateway.completions.map((c) => c.body)).toEqual([
      { resultStatus: 'failed', message: 'ESPRIT: toolpath collision in operation 3' },
    ]);
    expect(await readdir(drive)).toEqual([]);
    expect(summary.reported).toEqual({ completed: 0, failed: 1 });
  });

  it('takes the job on a crash and then neither heartbeats nor completes it', async () => {
    const gateway = fakeGateway([job()]);
    const events: SimEvent[] = [];
    const summary = await runSimulator({
      ...base(gateway),
      maxJobs: 1,
      mix: { crash: 1 },
      onEvent: (e) => events.push(e),
    });
    expect(gateway.completions).toEqual([]);
    expect(gateway.heartbeats).toEqual([]);
    expect(events.map((e) => e.type)).toEqual(['taken', 'crashed']);
    expect(summary.outcomes.crash).toBe(1);
  });

  it('heartbeats every third of the lease while a slow job works past its lease, then completes it', async () => {
    const gateway = fakeGateway([job()]);
    const time = fakeTime();
    const summary = await runSimulator({ ...base(gateway, time), maxJobs: 1, mix: { slow: 1 } });
    // 1.5 × the 3 s lease = 4.5 s of work in steps of 1 s, with a heartbeat between steps.
    expect(time.sleeps).toEqual([1_000, 1_000, 1_000, 1_000, 500]);
    expect(gateway.heartbeats).toHaveLength(4);
    expect(gateway.completions.map((c) => c.body.resultStatus)).toEqual(['completed']);
    expect(summary).toMatchObject({ heartbeats: 4, outcomes: { slow: 1 }, reported: { completed: 1 } });
  });

  it('gives up a slow job without completing it once a heartbeat says the lease is gone', async () => {
    const gateway = fakeGateway([job()]);
    gateway.failHeartbeats((_jobId, count) => (count === 2 ? lostLease() : undefined));
    const summary = await runSimulator({
      ...base(gateway),
      maxJobs: 1,
      mix: { slow: 1 },
      slowWorkMs: 10_000,
    });
    expect(gateway.heartbeats).toHaveLength(2);
    expect(gateway.completions).toEqual([]);
    expect(summary).toMatchObject({ leaseLost: 1, errors: 0, heartbeats: 1 });
  });

  it('never takes more than the job limit, however many devices poll', async () => {
    const jobs = Array.from({ length: 10 }, () => job());
    const gateway = fakeGateway(jobs);
    const summary = await runSimulator({ ...base(gateway), devices: 4, maxJobs: 6 });
    expect(summary.taken).toBe(6);
    expect(gateway.completions).toHaveLength(6);
    expect(jobs).toHaveLength(4);
    expect(new Set(gateway.completions.map((c) => c.deviceId))).toEqual(
      new Set(['SIM-01', 'SIM-02', 'SIM-03', 'SIM-04']),
    );
  });

  it('stops polling once the duration has passed', async () => {
    const time = fakeTime();
    const gateway = fakeGateway([], { onEmpty: () => time.advance(400) });
    const summary = await runSimulator({ ...base(gateway, time), durationMs: 1_000 });
    // Empty polls at t=0, 400 and 800; at 1,200 the duration is over.
    expect(gateway.calls).toEqual(['SIM-01 next', 'SIM-01 next', 'SIM-01 next']);
    expect(summary.elapsedMs).toBe(1_200);
  });

  it('stops taking jobs when told to and still finishes the job in hand', async () => {
    const stop = new AbortController();
    const gateway = fakeGateway([job(), job()]);
    const summary = await runSimulator({
      ...base(gateway),
      signal: stop.signal,
      onEvent: (e) => e.type === 'taken' && stop.abort(),
    });
    expect(summary.taken).toBe(1);
    expect(gateway.completions).toHaveLength(1);
  });

  it('stops every device when the gateway refuses the key, reporting why', async () => {
    const gateway = fakeGateway([job()]);
    gateway.failNext(
      new AddinApiError({
        code: 'unauthorized',
        message: 'add-in key expired',
        status: 401,
        retryable: false,
      }),
    );
    const summary = await runSimulator({ ...base(gateway), devices: 3 });
    expect(summary.fatal).toBe('add-in key expired');
    expect(summary.taken).toBe(0);
    expect(gateway.calls).toHaveLength(3);
  });

  it('keeps polling after a passing error, after a back-off', async () => {
    const time = fakeTime();
    const gateway = fakeGateway([job()]);
    const realNext = gateway.createClient;
    let failures = 1;
    const summary = await runSimulator({
      ...base(gateway, time),
      maxJobs: 1,
      createClient: (deviceId) => {
        const client = realNext(deviceId);
        return {
          ...client,
          next: async (o) => {
            if (failures-- > 0)
              throw new AddinApiError({
                code: 'network_error',
                message: 'ECONNRESET',
                status: null,
                retryable: true,
              });
            return client.next(o);
          },
        };
      },
    });
    expect(summary).toMatchObject({ errors: 1, taken: 1, reported: { completed: 1 } });
    expect(time.sleeps[0]).toBe(1_000);
  });

  it('measures /complete latency on its clock and reports p50, p95 and p99', async () => {
    const time = fakeTime();
    const jobs = Array.from({ length: 20 }, () => job());
    const gateway = fakeGateway(jobs);
    let n = 0;
    const summary = await runSimulator({
      ...base(gateway, time),
      maxJobs: 20,
      mix: { failure: 1 },
      createClient: (deviceId) => {
        const client = gateway.createClient(deviceId);
        return { ...client, complete: async (id, body) => (time.advance(++n), client.complete(id, body)) };
      },
    });
    expect(summary.completeLatencyMs).toEqual({ count: 20, p50: 10, p95: 19, p99: 20, max: 20 });
  });

  it('reports a failure instead of leaving the job hanging when the files cannot be written', async () => {
    const gateway = fakeGateway([job()]);
    await runSimulator({ ...base(gateway), sharedDriveRoot: path.join(drive, 'missing\0dir'), maxJobs: 1 });
    expect(gateway.completions[0]?.body).toMatchObject({
      resultStatus: 'failed',
      message: expect.stringMatching(/^could not write the output files/),
    });
  });
});
