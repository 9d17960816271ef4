import { randomUUID } from 'node:crypto';
import { AddinJobExpired, AddinJobResultCommand } from '@mcms/contracts';
import { startGateway, waitFor, type GatewayHarness } from './support/gateway';

const LEASE_MS = 600_000;
let gw: GatewayHarness;
let key: string;

beforeAll(async () => {
  gw = await startGateway({ longPollFallbackMs: 60_000 });
  key = gw.bootstrapKey;
});

afterAll(async () => {
  await gw?.close();
});

beforeEach(async () => {
  await gw.prisma.$executeRaw`DELETE FROM addin_job`;
});

const device = () => `WS-${randomUUID().slice(0, 8)}`;
const next = (dev: string, waitSeconds = 0) =>
  gw.call('GET', `/api/addin/jobs/next?waitSeconds=${waitSeconds}`, { key, device: dev });
const job = (jobId: string) => gw.prisma.addinJob.findUniqueOrThrow({ where: { jobId } });

async function claim(jobId: string): Promise<string> {
  const dev = device();
  const answer = await next(dev);
  expect([answer.status, answer.body?.jobId]).toEqual([200, jobId]);
  return dev;
}

describe('the lease sweeper', () => {
  it('puts a job whose lease ran out back to Pending with attempt + 1 and announces it', async () => {
    const jobId = await gw.queueJob();
    const first = await claim(jobId);
    gw.advanceClock(LEASE_MS);

    const swept = await gw.app.sweepNow();

    expect(swept.map((s) => [s.job.jobId, s.decision.kind])).toEqual([[jobId, 'requeue']]);
    expect(await job(jobId)).toMatchObject({
      status: 'Pending',
      attempt: 2,
      claimedBy: null,
      leaseExpiresAt: null,
      startedAt: null,
    });
    await gw.settle();
    expect(gw.messagesOf(AddinJobExpired, jobId).map((m) => m.payload)).toEqual([
      {
        jobId,
        routingId: expect.any(String),
        routingCode: expect.any(String),
        attempt: 1,
        action: 'requeued',
        reason: 'add-in did not finish attempt 1 within its lease',
        deviceId: first,
      },
    ]);
    expect(gw.messagesOf(AddinJobResultCommand, jobId)).toHaveLength(0);

    const second = device();
    const retaken = await next(second);
    expect(retaken.body).toMatchObject({ jobId, attempt: 2, claimedBy: second });
    const late = await gw.call('POST', `/api/addin/jobs/${jobId}/heartbeat`, { key, device: first });
    expect([late.status, late.body.error.code]).toEqual([409, 'lease_not_held']);
  });

  it('leaves alone a job whose holder keeps heartbeating', async () => {
    const jobId = await gw.queueJob();
    const dev = await claim(jobId);
    gw.advanceClock(LEASE_MS - 60_000);
    expect((await gw.call('POST', `/api/addin/jobs/${jobId}/heartbeat`, { key, device: dev })).status).toBe(
      200,
    );
    gw.advanceClock(LEASE_MS - 60_000);

    expect(await gw.app.sweepNow()).toEqual([]);
    expect(await job(jobId)).toMatchObject({ status: 'InProgress', attempt: 1, claimedBy: dev });
  });

  it('fails a job after its 5th lease ran out and sends its result command like any failure', async () => {
    const jobId = await gw.queueJob();
    let last = '';
    for (let attempt = 1; attempt <= 5; attempt += 1) {
      last = await claim(jobId);
      gw.advanceClock(LEASE_MS);
      await gw.app.sweepNow();
    }

    const failed = await job(jobId);
    expect(failed).toMatchObject({
      status: 'Failed',
      attempt: 5,
      resultStatus: 'failed',
      message: 'add-in did not finish within its lease after 5 attempts',
      claimedBy: last,
    });
    await gw.settle();
    expect(gw.messagesOf(AddinJobExpired, jobId).map((m) => [m.payload.action, m.payload.attempt])).toEqual([
      ['requeued', 1],
      ['requeued', 2],
      ['requeued', 3],
      ['requeued', 4],
      ['failed', 5],
    ]);
    const results = gw.messagesOf(AddinJobResultCommand, jobId);
    expect(results).toHaveLength(1);
    expect(results[0]!.payload).toEqual({
      jobId,
      routingId: failed.routingId,
      resultStatus: 'failed',
      message: 'add-in did not finish within its lease after 5 attempts',
      outputs: [],
      attempt: 5,
      deviceId: last,
      finishedAt: failed.completedAt!.toISOString(),
    });
    // The add-in turning up afterwards can't overturn the gateway's verdict.
    const late = await gw.call('POST', `/api/addin/jobs/${jobId}/complete`, {
      key,
      device: last,
      body: { resultStatus: 'completed' },
    });
    expect([late.status, late.body.error.code]).toEqual([409, 'result_conflict']);
  });

  it('fails a job that no add-in took within the pending timeout', async () => {
    const jobId = await gw.queueJob();
    gw.advanceClock(24 * 3_600_000 - 60_000);
    expect(await gw.app.sweepNow()).toEqual([]);
    gw.advanceClock(60_000);

    await gw.app.sweepNow();

    expect(await job(jobId)).toMatchObject({
      status: 'Failed',
      attempt: 1,
      resultStatus: 'failed',
      message: 'no add-in took the job within 24 h',
      claimedBy: null,
    });
    await gw.settle();
    expect(gw.messagesOf(AddinJobExpired, jobId).map((m) => m.payload)).toEqual([
      expect.objectContaining({
        action: 'failed',
        attempt: 1,
        deviceId: null,
        reason: 'no add-in took the job within 24 h',
      }),
    ]);
    expect(gw.messagesOf(AddinJobResultCommand, jobId).map((m) => m.payload)).toEqual([
      expect.objectContaining({
        resultStatus: 'failed',
        message: 'no add-in took the job within 24 h',
        deviceId: null,
        attempt: 1,
      }),
    ]);
  });

  it('requeues each job once when two sweepers run at the same time', async () => {
    const jobIds: string[] = [];
    for (let i = 0; i < 12; i += 1) jobIds.push(await gw.queueJob());
    for (let i = 0; i < 12; i += 1) expect((await next(device())).status).toBe(200);
    gw.advanceClock(LEASE_MS);
    const policy = { maxAttempts: 5, pendingTimeoutMs: 24 * 3_600_000 };

    const [a, b] = await Promise.all([
      gw.app.jobs.sweep(gw.now(), policy, 5),
      gw.app.jobs.sweep(gw.now(), policy, 5),
    ]);

    expect([...a, ...b].map((s) => s.job.jobId).sort()).toEqual([...jobIds].sort());
    const rows = await gw.prisma.addinJob.findMany();
    expect(rows.every((row) => row.status === 'Pending' && row.attempt === 2)).toBe(true);
    await gw.settle();
    for (const jobId of jobIds) expect(gw.messagesOf(AddinJobExpired, jobId)).toHaveLength(1);
  });

  it('wakes a waiting long poll when it requeues a job', async () => {
    const jobId = await gw.queueJob();
    await claim(jobId);
    const waiting = next(device(), 10);
    await waitFor(async () => (await gw.metric('mcms_addin_long_poll_waiters')) === 1, 'the request to wait');
    gw.advanceClock(LEASE_MS);

    const requeuedAt = performance.now();
    await gw.app.sweepNow();
    const answer = await waiting;

    expect(answer.body).toMatchObject({ jobId, attempt: 2 });
    expect(performance.now() - requeuedAt).toBeLessThan(1_500);
  });

  it('notifies once per requeued job, with its id, and never for a claim or a completion', async () => {
    const jobIds = [await gw.queueJob(), await gw.queueJob(), await gw.queueJob()];
    const devices = [await claim(jobIds[0]!), await claim(jobIds[1]!), await claim(jobIds[2]!)];
    const listener = await gw.pool.connect();
    const payloads: string[] = [];
    listener.on('notification', (n) => payloads.push(n.payload ?? ''));
    try {
      await listener.query(`LISTEN "mcms_jobs_${gw.schema}"`);
      // A completion and a heartbeat update the row too; only the requeue below makes jobs Pending.
      const done = await gw.call('POST', `/api/addin/jobs/${jobIds[0]}/complete`, {
        key,
        device: devices[0],
        body: { resultStatus: 'failed', message: 'ESPRIT stopped' },
      });
      expect(done.status).toBe(200);
      gw.advanceClock(LEASE_MS);
      const waiting = [next(device(), 10), next(device(), 10)];
      await waitFor(
        async () => (await gw.metric('mcms_addin_long_poll_waiters')) === 2,
        'two requests to wait',
      );

      await gw.app.sweepNow();
      const answers = await Promise.all(waiting);

      // Both waiters were woken by the one sweep: two notifications, not one merged into the other.
      expect(answers.map((a) => a.body?.jobId).sort()).toEqual([jobIds[1], jobIds[2]].sort());
      // Notifications arrive in commit order: everything the completion, the sweep and the two claims sent
      // comes before this marker.
      await listener.query(`NOTIFY "mcms_jobs_${gw.schema}", 'end'`);
      await waitFor(() => payloads.includes('end'), 'the marker notification');
      expect(payloads.slice(0, -1).sort()).toEqual([jobIds[1], jobIds[2]].sort());
    } finally {
      listener.release(true);
    }
  });
});
