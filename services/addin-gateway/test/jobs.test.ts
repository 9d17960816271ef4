import { randomUUID } from 'node:crypto';
import {
  AddinJob,
  AddinJobQueued,
  AddinJobResultCommand,
  AddinJobStarted,
  CONTRACTS_VERSION,
  createMessage,
  EspritGenerationCommand,
  openApiFor,
} from '@mcms/contracts';
import { outgoing } from '@mcms/messaging';
import { pgPoolConfig, planOf } from '@mcms/db';
import { Pool } from 'pg';
import { createJobStore } from '../src/adapters/job-store';
import { startGateway, waitFor, type GatewayHarness } from './support/gateway';

const DATABASE_URL = process.env.DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres';
const SHA_A = 'a'.repeat(64);
const SHA_B = 'B'.repeat(64);

let gw: GatewayHarness;
let key: string;

beforeAll(async () => {
  // A long fallback timer: a long poll that is answered promptly was woken by the NOTIFY, not by the timer.
  gw = await startGateway({ longPollFallbackMs: 60_000 });
  key = gw.bootstrapKey;
});

afterAll(async () => {
  await gw?.close();
});

// `next` hands out the oldest Pending job of the whole table: no test may see another's jobs.
beforeEach(async () => {
  await gw.prisma.$executeRaw`DELETE FROM addin_job`;
});

const device = () => `WS-${randomUUID().slice(0, 8)}`;
const next = (dev: string, waitSeconds = 0) =>
  gw.call('GET', `/api/addin/jobs/next?waitSeconds=${waitSeconds}`, { key, device: dev });
const complete = (jobId: string, dev: string, body: unknown) =>
  gw.call('POST', `/api/addin/jobs/${jobId}/complete`, { key, device: dev, body });

/** `n` jobs claimed by one device through a job store of the test's own (its memory of what it handed out). */
async function jobsClaimedThroughAStore(n: number) {
  const store = createJobStore(gw.pool);
  const dev = device();
  const jobIds: string[] = [];
  for (let i = 0; i < n; i += 1) jobIds.push(await gw.queueJob());
  for (const _ of jobIds) expect(await store.claimNext(dev, gw.now(), 600_000)).toBeDefined();
  return { store, dev, jobIds };
}

async function claimedJob(): Promise<{ jobId: string; dev: string; job: AddinJob }> {
  const jobId = await gw.queueJob();
  const dev = device();
  const answer = await next(dev);
  expect(answer.status).toBe(200);
  expect(answer.body.jobId).toBe(jobId);
  return { jobId, dev, job: answer.body };
}

describe('creating jobs from EspritGenerationCommand', () => {
  it('creates one Pending job even when the command is delivered twice, and announces it once', async () => {
    const command = createMessage(
      EspritGenerationCommand,
      {
        jobId: randomUUID(),
        routingId: randomUUID(),
        routingCode: 'GT310001',
        itemCode: 'ITEM-7',
        revisionCode: 'B',
        camRevision: '1.2.0',
        parameters: { machine: 'DMU-50' },
        requestedBy: 'approver-1',
      },
      { correlationId: `corr-${randomUUID()}` },
    );
    const handledBefore = await gw.metric('mcms_messages_consumed_total', { outcome: 'ack' });
    await gw.broker.publisher.publish(outgoing(EspritGenerationCommand, command));
    await gw.broker.publisher.publish(outgoing(EspritGenerationCommand, command));
    await waitFor(
      async () => (await gw.metric('mcms_messages_consumed_total', { outcome: 'ack' })) === handledBefore + 2,
      'both deliveries to be handled',
    );
    await gw.settle();

    const rows = await gw.prisma.addinJob.findMany({ where: { routingId: command.payload.routingId } });
    expect(rows).toHaveLength(1);
    const answer = await gw.call('GET', `/api/addin/jobs/${command.payload.jobId}`, {
      token: gw.token(['viewer']),
    });
    expect(answer.status).toBe(200);
    expect(AddinJob.parse(answer.body)).toEqual({
      jobId: command.payload.jobId,
      routingId: command.payload.routingId,
      routingCode: 'GT310001',
      status: 'Pending',
      attempt: 1,
      parameters: { machine: 'DMU-50' },
      createdAt: expect.any(String),
      startedAt: null,
      completedAt: null,
      leaseExpiresAt: null,
      claimedBy: null,
      resultStatus: null,
      message: null,
      outputs: null,
    });
    const queued = gw.messagesOf(AddinJobQueued, command.payload.jobId);
    expect(queued).toHaveLength(1);
    expect(queued[0]).toMatchObject({
      correlationId: command.correlationId,
      causationId: command.messageId,
      payload: {
        jobId: command.payload.jobId,
        routingId: command.payload.routingId,
        routingCode: 'GT310001',
        attempt: 1,
      },
    });
  });
});

describe('creating jobs in batches', () => {
  const command = () =>
    createMessage(
      EspritGenerationCommand,
      {
        jobId: randomUUID(),
        routingId: randomUUID(),
        routingCode: 'GT310002',
        itemCode: 'ITEM-8',
        revisionCode: 'A',
        camRevision: '1.0.0',
        parameters: { machine: 'DMU-50', fixture: 'F-2' },
        requestedBy: 'approver-1',
      },
      { correlationId: `corr-${randomUUID()}` },
    );

  it('creates the jobs of commands handled together in one statement, a repeated command once', async () => {
    const store = createJobStore(gw.pool);
    const commands = Array.from({ length: 10 }, () => command());
    const statements = jest.spyOn(gw.pool, 'query');
    let created: Array<unknown>;
    let creates: number;
    try {
      // One tick: ten commands, and the first one published twice (a relay that published it again).
      created = await Promise.all([...commands, commands[0]!].map((c) => store.create(c, gw.now())));
      creates = statements.mock.calls.filter(([query]) =>
        String((query as { text?: unknown }).text ?? query).includes('INSERT INTO addin_job'),
      ).length;
    } finally {
      statements.mockRestore();
    }

    expect(creates).toBe(1);
    expect(created.map((job) => (job as { jobId?: string } | undefined)?.jobId)).toEqual([
      ...commands.map((c) => c.payload.jobId),
      undefined,
    ]);
    const rows = await gw.prisma.addinJob.findMany({
      where: { jobId: { in: commands.map((c) => c.payload.jobId) } },
    });
    expect(rows.map((row) => [row.status, row.attempt, row.parameters])).toEqual(
      Array(10).fill(['Pending', 1, { machine: 'DMU-50', fixture: 'F-2' }]),
    );
    await gw.settle();
    for (const c of commands) expect(gw.messagesOf(AddinJobQueued, c.payload.jobId)).toHaveLength(1);
  });

  it('fails only the command the database refuses, not the others of its batch', async () => {
    const store = createJobStore(gw.pool);
    // A lone surrogate: the contract refuses it and jsonb can't hold it — the store is given it directly.
    const refused = command();
    const commands = [
      command(),
      { ...refused, payload: { ...refused.payload, parameters: { note: 'bad \ud800' } } },
      command(),
    ];

    const outcomes = await Promise.allSettled(commands.map((c) => store.create(c, gw.now())));

    expect(outcomes.map((o) => o.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    const rows = await gw.prisma.addinJob.findMany({
      where: { jobId: { in: commands.map((c) => c.payload.jobId) } },
    });
    expect(rows.map((row) => row.jobId).sort()).toEqual(
      [commands[0]!.payload.jobId, commands[2]!.payload.jobId].sort(),
    );
  });
});

describe('GET /api/addin/jobs/next', () => {
  it('hands each of 10 jobs to exactly one of 50 concurrent callers and answers 204 to the other 40', async () => {
    const jobIds = [];
    for (let i = 0; i < 10; i += 1) jobIds.push(await gw.queueJob());
    const devices = Array.from({ length: 50 }, device);

    const answers = await Promise.all(devices.map((dev) => next(dev)));

    const handedOut = answers.filter((a) => a.status === 200).map((a) => a.body.jobId as string);
    expect(answers.filter((a) => a.status === 204)).toHaveLength(40);
    expect(handedOut.sort()).toEqual([...jobIds].sort());
    const rows = await gw.prisma.addinJob.findMany();
    expect(rows.every((row) => row.status === 'InProgress')).toBe(true);
    for (const [index, answer] of answers.entries()) {
      if (answer.status !== 200) continue;
      expect(rows.find((row) => row.jobId === answer.body.jobId)?.claimedBy).toBe(devices[index]);
    }
    await gw.settle();
    for (const jobId of jobIds) expect(gw.messagesOf(AddinJobStarted, jobId)).toHaveLength(1);
  });

  it('hands out the oldest Pending job, InProgress under a lease for the calling device', async () => {
    const first = await gw.queueJob();
    const second = await gw.queueJob();
    const dev = device();

    const answer = await next(dev);

    expect(answer.status).toBe(200);
    const job = AddinJob.parse(answer.body);
    expect(job).toMatchObject({ jobId: first, status: 'InProgress', claimedBy: dev, attempt: 1 });
    const leaseMs = Date.parse(job.leaseExpiresAt!) - Date.parse(job.startedAt!);
    expect(leaseMs).toBe(600_000);
    expect((await next(device())).body.jobId).toBe(second);
    await gw.settle();
    expect(gw.messagesOf(AddinJobStarted, first)[0]?.payload).toEqual({
      jobId: first,
      routingId: job.routingId,
      routingCode: job.routingCode,
      attempt: 1,
      deviceId: dev,
      leaseExpiresAt: job.leaseExpiresAt,
    });
  });

  it('hands the oldest jobs to claims that arrive together in one transaction, in order, and nothing past them', async () => {
    // On a pool of its own, whose connections (one per transaction) can be counted.
    const pool = new Pool(pgPoolConfig({ databaseUrl: DATABASE_URL, schema: gw.schema, max: 2 }));
    const store = createJobStore(pool);
    const jobIds: string[] = [];
    for (let i = 0; i < 3; i += 1) jobIds.push(await gw.queueJob());
    const devices = Array.from({ length: 5 }, () => device());
    const statements = jest.spyOn(pool, 'connect');
    try {
      // One tick: five claims for three Pending jobs.
      const claimed = await Promise.all(devices.map((dev) => store.claimNext(dev, gw.now(), 600_000)));

      expect(statements).toHaveBeenCalledTimes(1); // one transaction for the five
      expect(claimed.map((job) => job?.jobId)).toEqual([...jobIds, undefined, undefined]);
      expect(claimed.map((job) => job?.claimedBy)).toEqual([...devices.slice(0, 3), undefined, undefined]);
      await gw.settle();
      for (const [i, jobId] of jobIds.entries()) {
        expect(gw.messagesOf(AddinJobStarted, jobId).map((m) => m.payload.deviceId)).toEqual([devices[i]]);
      }
    } finally {
      await pool.end();
    }
  });

  it('never starts a job before it became Pending, when the claim read its clock before the job existed', async () => {
    const store = createJobStore(gw.pool);
    const jobId = await gw.queueJob();
    const pending = (await store.find(jobId))!.pendingSince;
    const dev = device();

    // A claim whose clock was read 5 s before the job was created, and whose statement found it anyway.
    const claimed = await store.claimNext(dev, new Date(pending.getTime() - 5_000), 600_000);

    expect(claimed?.jobId).toBe(jobId);
    expect(claimed?.startedAt?.getTime()).toBe(pending.getTime() + 1);
    expect(claimed!.leaseExpiresAt!.getTime() - claimed!.startedAt!.getTime()).toBe(600_000);
    expect((await store.find(jobId))?.startedAt).toEqual(claimed?.startedAt);
    await gw.settle();
    const [queued] = gw.messagesOf(AddinJobQueued, jobId);
    const [started] = gw.messagesOf(AddinJobStarted, jobId);
    // History orders a routing's entries by these times: started must come after queued.
    expect(Date.parse(started!.occurredAt)).toBeGreaterThan(Date.parse(queued!.occurredAt));
    expect(started?.payload.leaseExpiresAt).toBe(claimed?.leaseExpiresAt?.toISOString());
  });

  it('answers a long poll with a job that arrives while it waits, promptly and before its deadline', async () => {
    const started = performance.now();
    const waiting = next(device(), 5);
    await waitFor(async () => (await gw.metric('mcms_addin_long_poll_waiters')) === 1, 'the request to wait');

    const queuedAt = performance.now();
    const jobId = await gw.queueJob();
    const answer = await waiting;
    const answeredAt = performance.now();

    expect(answer.status).toBe(200);
    expect(answer.body.jobId).toBe(jobId);
    expect(answeredAt - started).toBeLessThan(5_000);
    // Woken by the trigger's NOTIFY: the fallback timer is a minute away.
    expect(answeredAt - queuedAt).toBeLessThan(1_500);
  });

  it('answers 204 when no job arrives before the deadline', async () => {
    const started = performance.now();
    const answer = await next(device(), 1);
    expect(answer.status).toBe(204);
    expect(performance.now() - started).toBeGreaterThanOrEqual(990);
  });

  it('stops waiting for a client that hung up, and does not hand it a job', async () => {
    const controller = new AbortController();
    const waiting = next(device(), 5).catch(() => 'aborted');
    void waiting;
    const gone = gw
      .call('GET', '/api/addin/jobs/next?waitSeconds=5', {
        key,
        device: 'WS-GONE',
        signal: controller.signal,
      })
      .catch(() => 'aborted');
    await waitFor(
      async () => (await gw.metric('mcms_addin_long_poll_waiters')) === 2,
      'both requests to wait',
    );
    controller.abort();
    await gone;
    await waitFor(
      async () => (await gw.metric('mcms_addin_long_poll_waiters')) === 1,
      'the gone request to stop waiting',
    );

    const jobId = await gw.queueJob();
    const answer = (await waiting) as { status: number; body: { jobId: string; claimedBy: string } };
    expect(answer.status).toBe(200);
    expect(answer.body.jobId).toBe(jobId);
    expect(answer.body.claimedBy).not.toBe('WS-GONE');
  });

  it('refuses waitSeconds outside 0..30 with 400 naming the field', async () => {
    const answer = await next(device(), 31);
    expect(answer.status).toBe(400);
    expect(answer.body.error.details).toEqual([expect.objectContaining({ path: 'waitSeconds' })]);
  });
});

describe('POST /api/addin/jobs/{jobId}/heartbeat', () => {
  it('extends the lease for the holder and refuses any other device with 409', async () => {
    const { jobId, dev, job } = await claimedJob();
    gw.advanceClock(60_000);

    const extended = await gw.call('POST', `/api/addin/jobs/${jobId}/heartbeat`, { key, device: dev });
    const other = await gw.call('POST', `/api/addin/jobs/${jobId}/heartbeat`, { key, device: 'WS-OTHER' });

    expect(extended.status).toBe(200);
    // Ten minutes from the heartbeat: a minute (and the few milliseconds the calls took) after the first lease.
    const movedBy = Date.parse(extended.body.leaseExpiresAt) - Date.parse(job.leaseExpiresAt!);
    expect(movedBy).toBeGreaterThanOrEqual(60_000);
    expect(movedBy).toBeLessThan(65_000);
    expect(other.status).toBe(409);
    expect(other.body.error.code).toBe('lease_not_held');
    const row = await gw.prisma.addinJob.findUniqueOrThrow({ where: { jobId } });
    expect(row.leaseExpiresAt?.toISOString()).toBe(extended.body.leaseExpiresAt);
  });

  it('refuses a heartbeat on a Pending job with 409 and on an unknown job with 404', async () => {
    const jobId = await gw.queueJob();
    const pending = await gw.call('POST', `/api/addin/jobs/${jobId}/heartbeat`, { key, device: device() });
    const unknown = await gw.call('POST', `/api/addin/jobs/${randomUUID()}/heartbeat`, {
      key,
      device: device(),
    });
    expect([pending.status, pending.body.error.code]).toEqual([409, 'lease_not_held']);
    expect(unknown.status).toBe(404);
  });
});

describe('POST /api/addin/jobs/{jobId}/complete', () => {
  const outputs = [
    { path: 'GT310001.nc', sha256: SHA_B, sizeBytes: 2048 },
    { path: 'GT310001.esp', sha256: SHA_A, sizeBytes: 4096 },
  ];

  it('records the result and sends exactly one AddinJobResultCommand', async () => {
    const { jobId, dev, job } = await claimedJob();

    const answer = await complete(jobId, dev, { resultStatus: 'completed', message: 'generated', outputs });

    expect(answer.status).toBe(200);
    expect(AddinJob.parse(answer.body)).toMatchObject({
      jobId,
      status: 'Completed',
      resultStatus: 'completed',
      message: 'generated',
      claimedBy: dev,
      leaseExpiresAt: null,
      completedAt: expect.any(String),
      outputs: [
        { path: 'GT310001.esp', sha256: SHA_A, sizeBytes: 4096 },
        { path: 'GT310001.nc', sha256: SHA_B.toLowerCase(), sizeBytes: 2048 },
      ],
    });
    await gw.settle();
    const commands = gw.messagesOf(AddinJobResultCommand, jobId);
    expect(commands).toHaveLength(1);
    const command = commands[0]!;
    const created = gw.messagesOf(AddinJobQueued, jobId)[0]!;
    expect(command.correlationId).toBe(created.correlationId);
    expect(command.payload).toEqual({
      jobId,
      routingId: job.routingId,
      resultStatus: 'completed',
      message: 'generated',
      outputs: answer.body.outputs,
      attempt: 1,
      deviceId: dev,
      finishedAt: answer.body.completedAt,
    });
  });

  it('answers the same completion sent 5 times with 200 and the same job, and sends one command', async () => {
    const { jobId, dev } = await claimedJob();
    const body = { resultStatus: 'failed', message: 'ESPRIT crashed: licence server unreachable' };

    const answers = [await complete(jobId, dev, body)];
    answers.push(...(await Promise.all([1, 2, 3, 4].map(() => complete(jobId, dev, body)))));

    expect(answers.map((a) => a.status)).toEqual([200, 200, 200, 200, 200]);
    for (const answer of answers) expect(answer.body).toEqual(answers[0]!.body);
    expect(answers[0]!.body).toMatchObject({
      status: 'Failed',
      resultStatus: 'failed',
      message: body.message,
      outputs: [],
    });
    await gw.settle();
    expect(gw.messagesOf(AddinJobResultCommand, jobId)).toHaveLength(1);
    expect(await gw.relay.pending()).toBe(0);
    expect(
      await gw.metric('mcms_addin_job_completions_total', { outcome: 'replayed' }),
    ).toBeGreaterThanOrEqual(4);
  });

  it('refuses a different result for a finished job with 409 and changes nothing', async () => {
    const { jobId, dev } = await claimedJob();
    const first = await complete(jobId, dev, { resultStatus: 'completed', outputs });

    const conflicting = await complete(jobId, dev, { resultStatus: 'failed', message: 'actually not' });
    const fewerFiles = await complete(jobId, dev, { resultStatus: 'completed', outputs: outputs.slice(1) });

    expect(conflicting.status).toBe(409);
    expect(conflicting.body.error.code).toBe('result_conflict');
    expect(fewerFiles.status).toBe(409);
    expect((await gw.call('GET', `/api/addin/jobs/${jobId}`, { key, device: dev })).body).toEqual(first.body);
    await gw.settle();
    expect(gw.messagesOf(AddinJobResultCommand, jobId)).toHaveLength(1);
  });

  it('refuses a Pending job (409 job_not_in_progress), a job held by another device (409 lease_not_held) and an unknown job (404)', async () => {
    const { jobId } = await claimedJob();
    const pendingId = await gw.queueJob();
    const pending = await complete(pendingId, device(), { resultStatus: 'completed' });
    const other = await complete(jobId, 'WS-OTHER', { resultStatus: 'completed' });
    const unknown = await complete(randomUUID(), device(), { resultStatus: 'completed' });

    expect([pending.status, pending.body.error.code]).toEqual([409, 'job_not_in_progress']);
    expect([other.status, other.body.error.code]).toEqual([409, 'lease_not_held']);
    expect(unknown.status).toBe(404);
    expect((await gw.prisma.addinJob.findUniqueOrThrow({ where: { jobId } })).status).toBe('InProgress');
  });

  it('completes a job it handed out in one statement, and decides on a read once the job changed hands', async () => {
    const statements = jest.spyOn(gw.pool, 'query');
    const textOf = (query: unknown) =>
      typeof query === 'string' ? query : String((query as { text?: unknown } | undefined)?.text ?? '');
    const onJobs = () =>
      statements.mock.calls.filter(([query]) => textOf(query).includes('addin_job')).length;
    try {
      const { jobId, dev } = await claimedJob();
      statements.mockClear();
      expect((await complete(jobId, dev, { resultStatus: 'completed', outputs })).status).toBe(200);
      expect(onJobs()).toBe(1);

      // Requeued and claimed by another workstation behind this replica's back (the sweeper and another
      // replica): what this replica remembers of the job is stale.
      const moved = await claimedJob();
      await gw.pool.query(
        `UPDATE addin_job SET claimed_by = 'WS-OTHER', attempt = attempt + 1 WHERE job_id = $1::uuid`,
        [moved.jobId],
      );
      // The holder first: what this replica remembers says the job is someone else's, which must not refuse it.
      const holder = await complete(moved.jobId, 'WS-OTHER', { resultStatus: 'failed', message: 'crashed' });
      const stale = await complete(moved.jobId, moved.dev, { resultStatus: 'completed', outputs });

      expect(holder.status).toBe(200);
      expect([stale.status, stale.body.error?.code]).toEqual([409, 'result_conflict']);
      expect(holder.body).toMatchObject({ status: 'Failed', claimedBy: 'WS-OTHER', attempt: 2 });
      await gw.settle();
      expect(gw.messagesOf(AddinJobResultCommand, moved.jobId).map((c) => c.payload)).toEqual([
        expect.objectContaining({ attempt: 2, deviceId: 'WS-OTHER', resultStatus: 'failed' }),
      ]);
    } finally {
      statements.mockRestore();
    }
  });

  it('finishes completions that arrive together in one statement, each job once with its own command', async () => {
    const { store, dev, jobIds } = await jobsClaimedThroughAStore(20);
    const statements = jest.spyOn(gw.pool, 'query');
    try {
      const body = { resultStatus: 'completed' as const, outputs };
      // One tick: twenty completions, and the first one sent twice (an add-in that retried at once).
      const results = await Promise.all(
        [...jobIds, jobIds[0]!].map((jobId) => store.complete(jobId, dev, body, gw.now())),
      );

      const finishes = statements.mock.calls.filter(([query]) =>
        String((query as { text?: unknown }).text ?? query).includes('jsonb_to_recordset'),
      );
      // The twenty together. The repeat had to read the job first: it found it finished (a replay, no statement)
      // or, read before the twenty committed, sent a finish of its own that matched nothing.
      const records = finishes.map(
        ([query]) => (JSON.parse((query as unknown as { values: string[] }).values[0]!) as unknown[]).length,
      );
      expect([[20], [20, 1]]).toContainEqual(records);
      expect(results.map((r) => r.job.status)).toEqual(Array(21).fill('Completed'));
      expect(results.filter((r) => r.replayed).map((r) => r.job.jobId)).toEqual([jobIds[0]]);
      await gw.settle();
      for (const jobId of jobIds) expect(gw.messagesOf(AddinJobResultCommand, jobId)).toHaveLength(1);
    } finally {
      statements.mockRestore();
    }
  });

  it('finds the jobs of a finish by primary key, however many jobs are InProgress', async () => {
    const { store, dev, jobIds } = await jobsClaimedThroughAStore(3);
    // Two thousand other add-ins at work, and statistics that know it.
    await gw.pool.query(
      `
      INSERT INTO addin_job (job_id, routing_id, routing_code, item_code, revision_code, cam_revision, parameters,
        status, attempt, created_at, pending_since, started_at, lease_expires_at, claimed_by, requested_by,
        correlation_id, updated_at)
      SELECT gen_random_uuid(), routing_id, routing_code, item_code, revision_code, cam_revision, parameters,
        'InProgress', 1, created_at, pending_since, started_at, lease_expires_at, 'WS-' || n, requested_by,
        correlation_id, updated_at
      FROM addin_job, generate_series(1, 2000) AS n WHERE job_id = $1::uuid`,
      [jobIds[0]],
    );
    await gw.pool.query('ANALYZE addin_job');
    const statements = jest.spyOn(gw.pool, 'query');
    let finish: { text: string; values: unknown[] } | undefined;
    try {
      await Promise.all(
        jobIds.map((jobId) => store.complete(jobId, dev, { resultStatus: 'completed', outputs }, gw.now())),
      );
      finish = statements.mock.calls
        .map(([query]) => query as unknown as { text: string; values: unknown[] })
        .find((query) => String(query.text).includes('jsonb_to_recordset'));
    } finally {
      statements.mockRestore();
    }

    const plan = await planOf(gw.pool, finish!.text, finish!.values);
    // Every scan of addin_job in the plan, and the indexes it reads.
    const seqScans = plan.filter((node) => node.nodeType === 'Seq Scan' && node.relation === 'addin_job');
    const indexes = new Set(
      plan.flatMap((node) => (node.index?.startsWith('addin_job_') ? [node.index] : [])),
    );
    // Not a scan of the InProgress jobs (the table, or its status index) hash-joined to the batch.
    expect([seqScans, [...indexes]]).toEqual([[], ['addin_job_pkey']]);
  });

  it('fails only the completion the database refuses, not the others of its batch', async () => {
    const { store, dev, jobIds } = await jobsClaimedThroughAStore(4);

    // A lone surrogate: the HTTP contract refuses it, and jsonb can't hold it — the store is called directly.
    const outcomes = await Promise.allSettled(
      jobIds.map((jobId, i) =>
        store.complete(
          jobId,
          dev,
          { resultStatus: 'failed', message: i === 2 ? 'bad \ud800' : 'ok' },
          gw.now(),
        ),
      ),
    );

    expect(outcomes.map((o) => o.status)).toEqual(['fulfilled', 'fulfilled', 'rejected', 'fulfilled']);
    await gw.settle();
    expect(jobIds.map((jobId) => gw.messagesOf(AddinJobResultCommand, jobId).length)).toEqual([1, 1, 0, 1]);
    expect((await gw.prisma.addinJob.findUniqueOrThrow({ where: { jobId: jobIds[2]! } })).status).toBe(
      'InProgress',
    );
  });

  it('refuses invalid bodies with 400 naming each bad field', async () => {
    const { jobId, dev } = await claimedJob();
    const cases: Array<[unknown, string[]]> = [
      [
        { resultStatus: 'completed', outputs: [{ path: '../escape.nc', sha256: SHA_A, sizeBytes: 1 }] },
        ['outputs.0.path'],
      ],
      [
        { resultStatus: 'completed', outputs: [{ path: '/abs/a.nc', sha256: SHA_A, sizeBytes: 1 }] },
        ['outputs.0.path'],
      ],
      [
        { resultStatus: 'completed', outputs: [{ path: 'a.nc', sha256: 'abc', sizeBytes: 1 }] },
        ['outputs.0.sha256'],
      ],
      [{ resultStatus: 'failed', message: 'x'.repeat(4001) }, ['message']],
      [{ resultStatus: 'done' }, ['resultStatus']],
      [{}, ['resultStatus']],
      [
        {
          resultStatus: 'maybe',
          message: 'x'.repeat(4001),
          outputs: [{ path: 'a/../../b', sha256: 'zz', sizeBytes: -1 }],
        },
        ['resultStatus', 'message', 'outputs.0.path', 'outputs.0.sha256', 'outputs.0.sizeBytes'],
      ],
      [{ resultStatus: 'completed', extra: true }, ['extra']],
    ];
    for (const [body, paths] of cases) {
      const answer = await complete(jobId, dev, body);
      expect(answer.status).toBe(400);
      expect(answer.body.error.code).toBe('validation_failed');
      expect([...new Set(answer.body.error.details.map((d: { path: string }) => d.path))].sort()).toEqual(
        [...paths].sort(),
      );
    }
    const badId = await complete('not-a-uuid', dev, { resultStatus: 'completed' });
    expect(badId.status).toBe(400);
    expect(badId.body.error.details).toEqual([expect.objectContaining({ path: 'jobId' })]);
    expect((await gw.prisma.addinJob.findUniqueOrThrow({ where: { jobId } })).status).toBe('InProgress');
  });
});

describe('GET /api/addin/jobs/{jobId}', () => {
  it('answers an add-in key or a viewer token, 401 without either, 404 for an unknown job', async () => {
    const jobId = await gw.queueJob();
    const byKey = await gw.call('GET', `/api/addin/jobs/${jobId}`, { key, device: device() });
    const byViewer = await gw.call('GET', `/api/addin/jobs/${jobId}`, { token: gw.token(['viewer']) });
    const anonymous = await gw.call('GET', `/api/addin/jobs/${jobId}`);
    const unknown = await gw.call('GET', `/api/addin/jobs/${randomUUID()}`, { token: gw.token(['viewer']) });

    expect(byKey.status).toBe(200);
    expect(byViewer.body).toEqual(byKey.body);
    expect(anonymous.status).toBe(401);
    expect(unknown.status).toBe(404);
  });
});

describe('the service', () => {
  it('serves its OpenAPI document, generated from the contract', async () => {
    const answer = await gw.call('GET', '/openapi.json');
    expect(answer.status).toBe(200);
    expect(answer.body).toEqual(openApiFor('addin-gateway', CONTRACTS_VERSION));
  });

  it('is ready when PostgreSQL and RabbitMQ are', async () => {
    const answer = await gw.call('GET', '/readyz');
    expect(answer.body).toEqual({ status: 'ready', checks: { database: 'ok', rabbitmq: 'ok' } });
  });
});
