// Approval → add-in job → result → routing and history, with the three services as separate processes and
// the add-in client as the ESPRIT add-in. One system for the file; each test owns its routings and leaves no
// job Pending behind (the gateway hands out the oldest Pending job, whoever's it is).
import { createHash, randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { jobFolderPath, writeJobOutputs, type AddinClient } from '@mcms/addin-client';
import {
  AddinJobResultCommand,
  createMessage,
  EXCHANGES,
  NotificationPage,
  type AddinJob,
} from '@mcms/contracts';
import { mcms } from '../support/flows';
import { useSystem, waitFor, type System } from '../support/system';

// A lease long enough that nothing expires while a test works; the lease tests have their own file.
const e2e = useSystem({ name: 'e2e-flow', env: { JOB_LEASE: '60s' } });

/** Takes the next job and insists it is `jobId`: anything else means an earlier test left a job behind. */
async function take(client: AddinClient, jobId: string): Promise<AddinJob> {
  const job = await client.next({ waitSeconds: 10 });
  if (!job) throw new Error(`no job was handed out within 10 s (expected ${jobId})`);
  if (job.jobId !== jobId)
    throw new Error(`got job ${job.jobId} (${job.routingCode}) instead of ${jobId}: a job was left Pending`);
  return job;
}

/** Waits until the gateway's outbox has relayed every result command of `jobId` (rows are deleted once confirmed). */
async function resultCommandsRelayed(system: System, jobId: string): Promise<void> {
  await waitFor(
    async () => {
      const rows = await system.sql<{ n: string }>(
        'addin-gateway',
        `SELECT count(*) AS n FROM outbox_message WHERE routing_key = $1 AND envelope->'payload'->>'jobId' = $2`,
        [AddinJobResultCommand.routingKey, jobId],
      );
      return rows[0]?.n === '0';
    },
    { what: `the gateway outbox to relay the result of ${jobId}` },
  );
}

const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

describe('generating the CAM program of an approved routing', () => {
  e2e.it(
    'validates the files, writes meta.json, bumps the CAM revision to 1.1.0, records the whole history in order and raises an info alert',
    async (system) => {
      const api = mcms(system);
      const feed = await system.alerts();
      const approved = await api.approved();
      expect(approved).toMatchObject({
        status: 'Approved',
        lastGenerationStatus: 'Queued',
        camRevision: '1.0.0',
      });
      const jobId = approved.lastAddinJobId!;

      const client = system.addinClient('E2E-WS-01');
      const job = await take(client, jobId);
      expect(job).toMatchObject({
        status: 'InProgress',
        claimedBy: 'E2E-WS-01',
        attempt: 1,
        routingId: approved.id,
      });
      expect(job.parameters).toMatchObject({
        routingCode: approved.routingCode,
        itemCode: approved.itemCode,
        revisionCode: approved.revisionCode,
        camRevision: '1.0.0',
      });
      const outputs = await writeJobOutputs(system.sharedDriveRoot, job);
      const finished = await client.complete(jobId, { resultStatus: 'completed', outputs });
      expect(finished).toMatchObject({ jobId, status: 'Completed', resultStatus: 'completed', outputs });

      const routing = await api.waitForRouting(
        approved.id,
        (r) => r.lastGenerationStatus === 'Completed',
        'generation Completed',
      );
      expect(routing).toMatchObject({
        status: 'Approved',
        camRevision: '1.1.0',
        lastAddinJobId: jobId,
        lastGenerationMessage: null,
      });
      expect(routing.lastGeneratedAt).not.toBeNull();

      const folder = jobFolderPath(system.sharedDriveRoot, job);
      expect(folder).toBe(
        path.join(
          system.sharedDriveRoot,
          approved.itemCode,
          approved.revisionCode,
          'Routings',
          approved.routingCode,
        ),
      );
      const meta = JSON.parse(await readFile(path.join(folder, 'meta.json'), 'utf8')) as Record<
        string,
        unknown
      >;
      expect(meta).toMatchObject({
        routingId: approved.id,
        itemCode: approved.itemCode,
        revisionCode: approved.revisionCode,
        camRevision: '1.1.0',
        jobId,
      });
      expect(meta.files).toEqual([...outputs].sort((a, b) => a.path.localeCompare(b.path)));
      for (const output of outputs)
        expect(sha256(await readFile(path.join(folder, output.path)))).toBe(output.sha256);

      const history = await api.waitForHistory(approved.id, ['AddinJobCompleted']);
      expect(history.map((e) => e.changeType)).toEqual([
        'RoutingCreated',
        'ApprovalRequested',
        'RoutingApproved',
        'AddinJobQueued',
        'AddinJobStarted',
        'AddinJobCompleted',
      ]);
      const byType = Object.fromEntries(history.map((e) => [e.changeType, e]));
      expect(byType.ApprovalRequested?.outcome).toBe('Pending');
      expect(byType.RoutingApproved).toMatchObject({ outcome: 'Approved', createdBy: 'e2e-approver' });
      expect(byType.AddinJobStarted).toMatchObject({ jobId, createdBy: 'E2E-WS-01' });
      expect(byType.AddinJobCompleted).toMatchObject({ jobId, outcome: 'Succeeded' });
      // Approval outcomes belong to approval entries only.
      for (const entry of history.filter((e) => e.changeType.startsWith('AddinJob'))) {
        expect(['Pending', 'Approved', 'Rejected']).not.toContain(entry.outcome);
      }

      const alert = await feed.waitFor((a) => a.jobId === jobId, { what: `the alert of job ${jobId}` });
      expect(alert).toMatchObject({
        type: 'generation.completed',
        severity: 'info',
        routingId: approved.id,
        routingCode: approved.routingCode,
      });
      expect(feed.received.filter((a) => a.jobId === jobId)).toHaveLength(1);
    },
  );

  e2e.it(
    'keeps a routing Approved with generation Failed and the add-in message, records it and raises an error alert on the socket and in the list',
    async (system) => {
      const api = mcms(system);
      const alerts = await system.tap(EXCHANGES.events, 'routing.generation.failed');
      const feed = await system.alerts();
      const approved = await api.approved();
      const jobId = approved.lastAddinJobId!;
      const message = 'ESPRIT: toolpath collision in operation 3';

      const client = system.addinClient('E2E-WS-02');
      await take(client, jobId);
      await expect(client.complete(jobId, { resultStatus: 'failed', message })).resolves.toMatchObject({
        status: 'Failed',
        message,
      });

      const routing = await api.waitForRouting(
        approved.id,
        (r) => r.lastGenerationStatus === 'Failed',
        'generation Failed',
      );
      expect(routing).toMatchObject({ status: 'Approved', camRevision: '1.0.0', lastAddinJobId: jobId });
      expect(routing.lastGenerationMessage).toContain(message);

      const history = await api.waitForHistory(approved.id, ['AddinJobFailed']);
      const failed = history.filter((e) => e.changeType === 'AddinJobFailed');
      expect(failed).toHaveLength(1);
      expect(failed[0]).toMatchObject({ jobId, outcome: 'Failed' });
      expect(failed[0]?.comment).toContain(message);
      expect(history.map((e) => e.changeType)).not.toContain('RoutingRejected');

      const listed = await system
        .api('routing-worker')
        .get('/api/routings?status=Approved&generationStatus=Failed&limit=500');
      expect(listed.status).toBe(200);
      expect((listed.body as { items: Array<{ id: string }> }).items.map((r) => r.id)).toContain(approved.id);

      const alert = await alerts.waitFor((m) => (m.envelope.payload as { jobId?: string }).jobId === jobId);
      expect(alert.envelope.payload).toMatchObject({
        routingId: approved.id,
        jobId,
        stale: false,
        message: expect.stringContaining(message),
      });

      const shown = await feed.waitFor((a) => a.jobId === jobId, { what: `the alert of job ${jobId}` });
      expect(shown).toMatchObject({
        type: 'generation.failed',
        severity: 'error',
        routingId: approved.id,
        routingCode: approved.routingCode,
        message: expect.stringContaining(message),
      });
      expect(feed.received.filter((a) => a.jobId === jobId)).toHaveLength(1);
      // A client that polls (or a page reloaded) finds the same alert, once, after the one before it.
      const before = (BigInt(shown.id) - 1n).toString();
      const polled = await system
        .api('notification-service')
        .get(`/api/notifications?after=${before}&limit=1`);
      expect(polled.status).toBe(200);
      expect(NotificationPage.parse(polled.body).items).toEqual([shown]);
    },
  );
});

describe('rejecting a routing', () => {
  e2e.it(
    'records the rejection with its reason, queues no job, and lets the editor ask again',
    async (system) => {
      const api = mcms(system);
      const routing = await api.create();
      const routings = system.api('routing-worker');
      expect(
        (await routings.post(`/api/routings/${routing.id}/approve`, {}, { role: 'approver' })).status,
      ).toBe(409);
      await api.requestApproval(routing.id);
      const rejected = await routings.post(
        `/api/routings/${routing.id}/reject`,
        { reason: 'fixture missing in op 20' },
        { role: 'approver' },
      );
      expect(rejected).toMatchObject({
        status: 200,
        body: { status: 'Rejected', lastAddinJobId: null, lastGenerationStatus: null },
      });
      expect(
        (await routings.post(`/api/routings/${routing.id}/regenerate`, undefined, { role: 'approver' }))
          .status,
      ).toBe(409);
      await expect(api.requestApproval(routing.id, 'fixture added')).resolves.toMatchObject({
        status: 'PendingApproval',
      });

      const history = await api.waitForHistory(routing.id, [
        'RoutingRejected',
        'ApprovalRequested',
        'ApprovalRequested',
      ]);
      expect(history.map((e) => e.changeType)).toEqual([
        'RoutingCreated',
        'ApprovalRequested',
        'RoutingRejected',
        'ApprovalRequested',
      ]);
      expect(history[2]).toMatchObject({
        outcome: 'Rejected',
        comment: 'fixture missing in op 20',
        createdBy: 'e2e-approver',
      });
    },
  );
});

describe('completing a job more than once', () => {
  e2e.it(
    'answers the same completion sent 5 times with 200 and the same job, with one result command and one history entry',
    async (system) => {
      const api = mcms(system);
      const approved = await api.approved();
      const jobId = approved.lastAddinJobId!;
      const results = await system.tap(EXCHANGES.commands, AddinJobResultCommand.routingKey);
      const client = system.addinClient('E2E-WS-03');
      const job = await take(client, jobId);
      const body = {
        resultStatus: 'completed' as const,
        outputs: await writeJobOutputs(system.sharedDriveRoot, job),
      };

      // At once, so the repeats race the first completion inside the gateway.
      const answers = await Promise.all(
        Array.from({ length: 5 }, () =>
          system
            .api('addin-gateway')
            .post(`/api/addin/jobs/${jobId}/complete`, body, { addin: { device: 'E2E-WS-03' } }),
        ),
      );
      expect(answers.map((a) => a.status)).toEqual([200, 200, 200, 200, 200]);
      for (const answer of answers) expect(answer.body).toEqual(answers[0]?.body);

      await api.waitForRouting(
        approved.id,
        (r) => r.lastGenerationStatus === 'Completed',
        'generation Completed',
      );
      await resultCommandsRelayed(system, jobId);
      await results.drain();
      expect(
        results.seen.filter((m) => (m.envelope.payload as { jobId: string }).jobId === jobId),
      ).toHaveLength(1);
      const history = await api.waitForHistory(approved.id, ['AddinJobCompleted']);
      expect(
        history.filter(
          (e) => e.jobId === jobId && ['AddinJobCompleted', 'AddinJobFailed'].includes(e.changeType),
        ),
      ).toHaveLength(1);
      expect((await api.get(approved.id)).camRevision).toBe('1.1.0');
    },
  );

  e2e.it('refuses a different result for a finished job with 409 and changes nothing', async (system) => {
    const api = mcms(system);
    const approved = await api.approved();
    const jobId = approved.lastAddinJobId!;
    const results = await system.tap(EXCHANGES.commands, AddinJobResultCommand.routingKey);
    const client = system.addinClient('E2E-WS-04');
    const job = await take(client, jobId);
    const first = await client.complete(jobId, {
      resultStatus: 'completed',
      outputs: await writeJobOutputs(system.sharedDriveRoot, job),
    });
    const routing = await api.waitForRouting(
      approved.id,
      (r) => r.lastGenerationStatus === 'Completed',
      'generation Completed',
    );
    const history = await api.waitForHistory(approved.id, ['AddinJobCompleted']);

    await expect(
      client.complete(jobId, { resultStatus: 'failed', message: 'ESPRIT: changed its mind' }),
    ).rejects.toMatchObject({
      status: 409,
      code: 'result_conflict',
    });

    expect(await client.getJob(jobId)).toEqual(first);
    await resultCommandsRelayed(system, jobId);
    await results.drain();
    expect(
      results.seen.filter((m) => (m.envelope.payload as { jobId: string }).jobId === jobId),
    ).toHaveLength(1);
    expect(await api.get(approved.id)).toEqual(routing);
    expect(await api.history(approved.id)).toEqual(history);
  });
});

describe('a job in the wrong hands', () => {
  e2e.it(
    'refuses to complete a Pending or unknown job, and a heartbeat or completion by a device that does not hold the lease',
    async (system) => {
      const api = mcms(system);
      const approved = await api.approved();
      const jobId = approved.lastAddinJobId!;
      const holder = system.addinClient('E2E-WS-HOLDER');
      const other = system.addinClient('E2E-WS-OTHER');
      await api.waitForJob(jobId, (job) => job.status === 'Pending');
      await expect(
        holder.complete(jobId, { resultStatus: 'failed', message: 'too early' }),
      ).rejects.toMatchObject({
        status: 409,
        code: 'job_not_in_progress',
      });
      await expect(holder.complete(randomUUID(), { resultStatus: 'failed' })).rejects.toMatchObject({
        status: 404,
      });
      await expect(holder.heartbeat(randomUUID())).rejects.toMatchObject({ status: 404 });

      const job = await take(holder, jobId);
      await expect(other.heartbeat(jobId)).rejects.toMatchObject({ status: 409, code: 'lease_not_held' });
      await expect(
        other.complete(jobId, { resultStatus: 'failed', message: 'not mine' }),
      ).rejects.toMatchObject({
        status: 409,
        code: 'lease_not_held',
      });
      const lease = await holder.heartbeat(jobId);
      expect(Date.parse(lease.leaseExpiresAt)).toBeGreaterThanOrEqual(Date.parse(job.leaseExpiresAt!));
      await expect(
        holder.complete(jobId, { resultStatus: 'failed', message: 'ESPRIT: aborted by the operator' }),
      ).resolves.toMatchObject({
        status: 'Failed',
        claimedBy: 'E2E-WS-HOLDER',
      });
    },
  );
});

describe('validating the outputs on the shared drive', () => {
  e2e.it(
    'fails the generation naming the file whose checksum does not match the file on the drive',
    async (system) => {
      const api = mcms(system);
      const approved = await api.approved();
      const jobId = approved.lastAddinJobId!;
      const client = system.addinClient('E2E-WS-05');
      const job = await take(client, jobId);
      const outputs = await writeJobOutputs(system.sharedDriveRoot, job);
      const nc = outputs.find((o) => o.path.endsWith('.nc'))!;
      const reported = outputs.map((o) => (o === nc ? { ...o, sha256: 'f'.repeat(64) } : o));
      await client.complete(jobId, { resultStatus: 'completed', outputs: reported });

      const routing = await api.waitForRouting(
        approved.id,
        (r) => r.lastGenerationStatus === 'Failed',
        'generation Failed',
      );
      expect(routing).toMatchObject({ status: 'Approved', camRevision: '1.0.0' });
      expect(routing.lastGenerationMessage).toContain(nc.path);
      const history = await api.waitForHistory(approved.id, ['AddinJobFailed']);
      expect(history.find((e) => e.changeType === 'AddinJobFailed')?.comment).toContain(nc.path);
    },
  );
});

describe('a result that arrives late', () => {
  e2e.it(
    "records a result for a job that is no longer the routing's latest in history and leaves the routing alone",
    async (system) => {
      const api = mcms(system);
      const approved = await api.approved();
      const client = system.addinClient('E2E-WS-06');
      const first = await take(client, approved.lastAddinJobId!);
      await client.complete(first.jobId, {
        resultStatus: 'completed',
        outputs: await writeJobOutputs(system.sharedDriveRoot, first),
      });
      await api.waitForRouting(
        approved.id,
        (r) => r.lastGenerationStatus === 'Completed',
        'first generation Completed',
      );
      const regenerated = await api.regenerate(approved.id);
      expect(regenerated).toMatchObject({ lastGenerationStatus: 'Queued', camRevision: '1.1.0' });
      expect(regenerated.lastAddinJobId).not.toBe(first.jobId);
      // One generation at a time: a second regenerate while the new job is Queued is refused.
      expect(
        (
          await system
            .api('routing-worker')
            .post(`/api/routings/${approved.id}/regenerate`, undefined, { role: 'approver' })
        ).status,
      ).toBe(409);
      const current = await api.waitForRouting(
        approved.id,
        (r) => r.lastAddinJobId === regenerated.lastAddinJobId,
      );

      // The result of an earlier job the worker never saw, as a late redelivery (say, a dead letter replayed
      // after the regenerate) would bring it.
      const lateJobId = randomUUID();
      await system.publish(
        AddinJobResultCommand,
        createMessage(
          AddinJobResultCommand,
          {
            jobId: lateJobId,
            routingId: approved.id,
            resultStatus: 'failed',
            message: 'ESPRIT: licence server unreachable (late)',
            outputs: [],
            attempt: 1,
            deviceId: 'E2E-WS-OLD',
            finishedAt: new Date(Date.now() - 60_000).toISOString(),
          },
          { correlationId: `e2e-late-${lateJobId}` },
        ),
      );
      const history = await waitFor(
        async () => (await api.history(approved.id)).find((e) => e.jobId === lateJobId),
        { what: 'the late result in history' },
      );
      expect(history).toMatchObject({ changeType: 'AddinJobFailed', outcome: 'Failed' });
      expect(history.comment).toMatch(/stale/i);
      const after = await api.get(approved.id);
      expect(after).toMatchObject({
        lastAddinJobId: regenerated.lastAddinJobId,
        lastGenerationStatus: current.lastGenerationStatus,
        lastGenerationMessage: null,
        camRevision: '1.1.0',
      });

      // The current job still completes normally (and leaves nothing Pending for the next test).
      const second = await take(client, regenerated.lastAddinJobId!);
      await client.complete(second.jobId, {
        resultStatus: 'completed',
        outputs: await writeJobOutputs(system.sharedDriveRoot, second),
      });
      await expect(
        api.waitForRouting(approved.id, (r) => r.lastGenerationStatus === 'Completed'),
      ).resolves.toMatchObject({ camRevision: '1.2.0' });
    },
  );
});

describe('many add-ins asking for work at once', () => {
  e2e.it('hands each of 10 jobs to exactly one of 50 concurrent next calls', async (system) => {
    const api = mcms(system);
    const routings = await Promise.all(Array.from({ length: 10 }, () => api.approved()));
    const jobIds = routings.map((r) => r.lastAddinJobId!);
    await Promise.all(jobIds.map((jobId) => api.waitForJob(jobId, (job) => job.status === 'Pending')));

    const clients = Array.from({ length: 50 }, (_, i) =>
      system.addinClient(`E2E-CONC-${String(i + 1).padStart(2, '0')}`),
    );
    const taken = await Promise.all(clients.map((client) => client.next({ waitSeconds: 0 })));
    const jobs = taken.filter((job): job is AddinJob => job !== null);
    expect(jobs.map((job) => job.jobId).sort()).toEqual([...jobIds].sort());
    expect(taken.filter((job) => job === null)).toHaveLength(40);
    for (const [i, job] of taken.entries()) if (job) expect(job.claimedBy).toBe(clients[i]?.deviceId);

    // Finish them, so no later test is handed one of these.
    await Promise.all(
      taken.map(
        (job, i) =>
          job &&
          clients[i]!.complete(job.jobId, {
            resultStatus: 'failed',
            message: 'finished by the concurrency test',
          }),
      ),
    );
  });
});
