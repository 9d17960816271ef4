import { randomUUID } from 'node:crypto';
import { readFile, rename, stat } from 'node:fs/promises';
import path from 'node:path';
import {
  AddinJobExpired,
  AddinJobStarted,
  createMessage,
  EXCHANGES,
  type UnknownEnvelope,
} from '@mcms/contracts';
import { peekDeadLetters } from '@mcms/messaging';
import { uuidV5 } from '../src/domain/message-ids';
import { PROGRESS_QUEUE, RESULTS_QUEUE } from '../src/adapters/topology';
import { eventually, sha256, startHarness, type Harness, type Observed } from './support/harness';

let h: Harness;

beforeAll(async () => {
  h = await startHarness({ retryDelaysMs: [200, 400, 800, 1600] });
});

afterAll(async () => {
  await h?.close();
});

const FILES = {
  'GT.nc': 'G21 G90\nG0 X0 Y0 Z5\nM30\n',
  'GT.esp': 'ESPRIT project bytes',
  'fixtures/GT.stl': 'solid workpiece\nendsolid workpiece\n',
};

const eventOf = (type: string, jobId: string) => (m: Observed) =>
  m.routingKey === type && m.envelope.payload.jobId === jobId;

/** Waits until the inbox of `queue` holds `messageId`: the message was handled and committed. */
const handled = (queue: string, messageId: string) =>
  eventually(
    async () => (await h.prisma.inboxMessage.count({ where: { consumer: queue, messageId } })) === 1,
    `${messageId} handled on ${queue}`,
  );

/** How many batches the results queue has handled so far. */
async function batchesHandled(): Promise<number> {
  const metric = await h.metrics.registry.getSingleMetric('mcms_message_handle_seconds')?.get();
  // A histogram's values carry their series' name; prom-client's type for `get()` leaves it out.
  const values = (metric?.values ?? []) as Array<{
    metricName?: string;
    labels: Record<string, unknown>;
    value: number;
  }>;
  const count = values.find(
    (v) =>
      v.metricName === 'mcms_message_handle_seconds_count' &&
      v.labels.queue === RESULTS_QUEUE &&
      v.labels.type === '(batch)',
  );
  return count?.value ?? 0;
}

async function results(outcome: string): Promise<number> {
  return h.counter('mcms_routing_generation_results_total', { outcome });
}

describe('applying add-in job results', () => {
  it('completes a generation with valid files: camRevision 1.1.0, meta.json with the checksums, routing.generation.completed', async () => {
    const routing = await h.approvedRouting();
    const outputs = await h.writeOutputs(routing, FILES);
    const command = await h.publishResult({ jobId: routing.lastAddinJobId, routingId: routing.id, outputs });

    const done = await h.waitForRouting(
      routing.id,
      (r) => r.lastGenerationStatus === 'Completed',
      'Completed',
    );
    expect(done).toMatchObject({
      status: 'Approved',
      camRevision: '1.1.0',
      lastGenerationMessage: null,
      lastGeneratedAt: '2026-01-05T09:30:00.000Z',
    });
    expect(Date.parse(done.updatedAt)).toBeGreaterThan(Date.parse(routing.updatedAt));

    const historyId = uuidV5(`${routing.lastAddinJobId}:routing.generation.completed`);
    const meta = JSON.parse(await readFile(path.join(h.routingFolder(routing), 'meta.json'), 'utf8'));
    expect(meta).toEqual({
      routingId: routing.id,
      routingCode: routing.routingCode,
      itemCode: 'ITEM-7',
      revisionCode: 'B',
      camRevision: '1.1.0',
      jobId: routing.lastAddinJobId,
      historyId,
      generatedAt: '2026-01-05T09:30:00.000Z',
      files: [
        { path: 'GT.esp', sha256: sha256(FILES['GT.esp']), sizeBytes: 20 },
        { path: 'GT.nc', sha256: sha256(FILES['GT.nc']), sizeBytes: Buffer.byteLength(FILES['GT.nc']) },
        {
          path: 'fixtures/GT.stl',
          sha256: sha256(FILES['fixtures/GT.stl']),
          sizeBytes: Buffer.byteLength(FILES['fixtures/GT.stl']),
        },
      ],
    });

    const event = await h.waitForMessage(
      eventOf('routing.generation.completed', routing.lastAddinJobId),
      'the completed event',
    );
    expect(event.envelope).toMatchObject({
      messageId: historyId,
      correlationId: command.correlationId,
      causationId: command.messageId,
    });
    expect(event.envelope.payload).toMatchObject({
      routingId: routing.id,
      camRevision: '1.1.0',
      previousCamRevision: '1.0.0',
      stale: false,
      completedAt: '2026-01-05T09:30:00.000Z',
    });
  });

  it('has no second effect for a redelivered command or a second command for the same job: same meta.json, no second bump', async () => {
    const routing = await h.approvedRouting();
    const outputs = await h.writeOutputs(routing, FILES);
    const first = await h.publishResult({ jobId: routing.lastAddinJobId, routingId: routing.id, outputs });
    await h.waitForRouting(routing.id, (r) => r.lastGenerationStatus === 'Completed', 'Completed');
    await h.waitForMessage(
      eventOf('routing.generation.completed', routing.lastAddinJobId),
      'the completed event',
    );
    const metaPath = path.join(h.routingFolder(routing), 'meta.json');
    const bytes = await readFile(metaPath);
    const inode = (await stat(metaPath)).ino;
    const before = { message: await results('duplicate-message'), job: await results('duplicate-job') };

    await h.republish(first);
    await h.publishResult({
      jobId: routing.lastAddinJobId,
      routingId: routing.id,
      outputs,
      message: 'sent again',
    });
    await eventually(
      async () => (await results('duplicate-message')) === before.message + 1,
      'the redelivery to be handled',
    );
    await eventually(
      async () => (await results('duplicate-job')) === before.job + 1,
      'the second command to be handled',
    );

    expect(await readFile(metaPath)).toEqual(bytes);
    expect((await stat(metaPath)).ino).toBe(inode); // not even rewritten with the same bytes
    expect(await h.getRouting(routing.id)).toMatchObject({
      camRevision: '1.1.0',
      lastGenerationMessage: null,
    });
    expect(await h.prisma.generationResult.count({ where: { routingId: routing.id } })).toBe(1);
    // A later event of this service arrives after anything the duplicates could have emitted.
    const later = await h.approvedRouting();
    await h.waitForMessage(
      (m) => m.routingKey === 'routing.approved' && m.envelope.payload.routingId === later.id,
      'a later event',
    );
    expect(h.observed.filter(eventOf('routing.generation.completed', routing.lastAddinJobId))).toHaveLength(
      1,
    );
  });

  it('keeps the CAM revision when a later job produces identical outputs, and bumps it when they change', async () => {
    const routing = await h.approvedRouting();
    const outputs = await h.writeOutputs(routing, FILES);
    await h.publishResult({ jobId: routing.lastAddinJobId, routingId: routing.id, outputs });
    await h.waitForRouting(routing.id, (r) => r.camRevision === '1.1.0', '1.1.0');

    const second = await h.request('POST', `/api/routings/${routing.id}/regenerate`, { roles: ['approver'] });
    expect(second.status).toBe(202);
    await h.publishResult({
      jobId: second.body.lastAddinJobId,
      routingId: routing.id,
      outputs,
      finishedAt: '2026-01-06T10:00:00.000Z',
    });
    const same = await h.waitForRouting(
      routing.id,
      (r) => r.lastAddinJobId === second.body.lastAddinJobId && r.lastGenerationStatus === 'Completed',
      'the second generation',
    );
    expect(same.camRevision).toBe('1.1.0');
    const meta = JSON.parse(await readFile(path.join(h.routingFolder(routing), 'meta.json'), 'utf8'));
    expect(meta).toMatchObject({
      camRevision: '1.1.0',
      jobId: second.body.lastAddinJobId,
      generatedAt: '2026-01-06T10:00:00.000Z',
    });

    const third = await h.request('POST', `/api/routings/${routing.id}/regenerate`, { roles: ['approver'] });
    const changed = await h.writeOutputs(routing, { ...FILES, 'GT.nc': 'G21 G90\nG0 X1 Y0 Z5\nM30\n' });
    await h.publishResult({ jobId: third.body.lastAddinJobId, routingId: routing.id, outputs: changed });
    await h.waitForRouting(
      routing.id,
      (r) => r.lastAddinJobId === third.body.lastAddinJobId && r.camRevision === '1.2.0',
      '1.2.0',
    );
  });

  it('fails the generation naming a file whose checksum does not match, and one that is missing', async () => {
    const routing = await h.approvedRouting();
    const outputs = await h.writeOutputs(routing, { 'GT.nc': 'M30\n' });
    const forged = 'e'.repeat(64);
    await h.publishResult({
      jobId: routing.lastAddinJobId,
      routingId: routing.id,
      outputs: [
        { ...outputs[0]!, sha256: forged },
        { path: 'GT.esp', sha256: 'a'.repeat(64), sizeBytes: 10 },
      ],
    });

    const failed = await h.waitForRouting(routing.id, (r) => r.lastGenerationStatus === 'Failed', 'Failed');
    const message =
      'output validation failed: GT.esp: missing on the shared drive; ' +
      `GT.nc: SHA-256 is ${sha256('M30\n')}, expected ${forged}`;
    expect(failed).toMatchObject({
      status: 'Approved',
      camRevision: '1.0.0',
      lastGenerationMessage: message,
      lastGeneratedAt: null,
    });
    const event = await h.waitForMessage(
      eventOf('routing.generation.failed', routing.lastAddinJobId),
      'the failed event',
    );
    expect(event.envelope.payload).toMatchObject({ message, stale: false });
    await expect(stat(path.join(h.routingFolder(routing), 'meta.json'))).rejects.toMatchObject({
      code: 'ENOENT',
    });
  });

  it('fails the generation with the add-in’s message and emits routing.generation.failed', async () => {
    const routing = await h.approvedRouting();
    await h.publishResult({
      jobId: routing.lastAddinJobId,
      routingId: routing.id,
      resultStatus: 'failed',
      message: 'ESPRIT: license server unreachable',
    });

    const failed = await h.waitForRouting(routing.id, (r) => r.lastGenerationStatus === 'Failed', 'Failed');
    expect(failed).toMatchObject({
      status: 'Approved',
      lastGenerationMessage: 'ESPRIT: license server unreachable',
    });
    const event = await h.waitForMessage(
      eventOf('routing.generation.failed', routing.lastAddinJobId),
      'the failed event',
    );
    expect(event.envelope.messageId).toBe(uuidV5(`${routing.lastAddinJobId}:routing.generation.failed`));
    expect(event.envelope.payload).toEqual({
      routingId: routing.id,
      routingCode: routing.routingCode,
      jobId: routing.lastAddinJobId,
      message: 'ESPRIT: license server unreachable',
      stale: false,
      failedAt: '2026-01-05T09:30:00.000Z',
    });
  });

  it('records a stale result with stale: true and leaves the routing unchanged', async () => {
    const routing = await h.approvedRouting();
    const oldJob = randomUUID();
    await h.publishResult({
      jobId: oldJob,
      routingId: routing.id,
      resultStatus: 'failed',
      message: 'an old attempt failed',
    });

    const event = await h.waitForMessage(eventOf('routing.generation.failed', oldJob), 'the stale event');
    expect(event.envelope.payload).toMatchObject({
      stale: true,
      message: 'an old attempt failed',
      routingId: routing.id,
    });
    expect(await h.getRouting(routing.id)).toEqual(routing);
    expect(await h.prisma.generationResult.findUnique({ where: { jobId: oldJob } })).toMatchObject({
      stale: true,
      generationStatus: 'Failed',
    });
  });

  it('applies results arriving together in batches, each once, and leaves an unknown routing and a second result of one routing to the one-at-a-time rules', async () => {
    const routings = await Promise.all(Array.from({ length: 6 }, () => h.approvedRouting()));
    const outputs = await Promise.all(routings.map((routing) => h.writeOutputs(routing, FILES)));
    const [first] = routings as [(typeof routings)[0]];
    const unknownRoutingId = randomUUID();
    const before = {
      job: await results('duplicate-job'),
      message: await results('duplicate-message'),
      batches: await batchesHandled(),
    };

    const commands = await Promise.all([
      ...routings.map((routing, i) =>
        h.publishResult({ jobId: routing.lastAddinJobId, routingId: routing.id, outputs: outputs[i] }),
      ),
      h.publishResult({ jobId: randomUUID(), routingId: unknownRoutingId }),
      h.publishResult({
        jobId: first.lastAddinJobId,
        routingId: first.id,
        outputs: outputs[0],
        message: 'sent twice',
      }),
    ]);
    await h.republish(commands[1] as UnknownEnvelope);

    for (const routing of routings) {
      await h.waitForRouting(routing.id, (r) => r.lastGenerationStatus === 'Completed', 'Completed');
    }
    const letter = await eventually(
      async () =>
        (await peekDeadLetters(h.broker, RESULTS_QUEUE)).find((l) => l.messageId === commands[6]?.messageId),
      'the dead letter of the unknown routing',
    );
    expect(letter).toMatchObject({ reason: 'routing_not_found', attempts: 1 });
    await eventually(
      async () => (await results('duplicate-job')) === before.job + 1,
      'the second result of the first routing',
    );
    await eventually(
      async () => (await results('duplicate-message')) === before.message + 1,
      'the redelivery',
    );
    for (const routing of routings) {
      expect(await h.getRouting(routing.id)).toMatchObject({ camRevision: '1.1.0' });
      expect(await h.prisma.generationResult.count({ where: { routingId: routing.id } })).toBe(1);
    }
    const later = await h.approvedRouting();
    await h.waitForMessage(
      (m) => m.routingKey === 'routing.approved' && m.envelope.payload.routingId === later.id,
      'a later event',
    );
    for (const routing of routings) {
      expect(h.observed.filter(eventOf('routing.generation.completed', routing.lastAddinJobId))).toHaveLength(
        1,
      );
    }
    // Every message went through the batch handler first (how many per batch depends on timing).
    expect(await batchesHandled()).toBeGreaterThan(before.batches);
  });

  it('dead-letters a result for an unknown routing at once, without retries', async () => {
    const routingId = randomUUID();
    const command = await h.publishResult({ jobId: randomUUID(), routingId });

    const letter = await eventually(
      async () =>
        (await peekDeadLetters(h.broker, RESULTS_QUEUE)).find((l) => l.messageId === command.messageId),
      'the dead letter',
    );
    expect(letter).toMatchObject({ reason: 'routing_not_found', attempts: 1 });
    expect(letter.message).toContain(`names routing ${routingId}, which does not exist`);
  });

  it('retries a result while the shared drive is unreachable, never failing the generation, and applies it once the share is back', async () => {
    const routing = await h.approvedRouting();
    const outputs = await h.writeOutputs(routing, FILES);
    const offline = `${h.sharedDriveRoot}.offline`;
    const retriesBefore = await h.counter('mcms_messages_consumed_total', {
      queue: RESULTS_QUEUE,
      outcome: 'retry',
    });
    await rename(h.sharedDriveRoot, offline);
    let restored = false;
    try {
      const command = await h.publishResult({
        jobId: routing.lastAddinJobId,
        routingId: routing.id,
        outputs,
      });
      await eventually(
        async () =>
          (await h.counter('mcms_messages_consumed_total', { queue: RESULTS_QUEUE, outcome: 'retry' })) >=
          retriesBefore + 2,
        'two retries',
      );
      expect((await h.getRouting(routing.id)).lastGenerationStatus).toBe('Queued');
      expect(
        (await peekDeadLetters(h.broker, RESULTS_QUEUE)).some((l) => l.messageId === command.messageId),
      ).toBe(false);

      await rename(offline, h.sharedDriveRoot);
      restored = true;
      const done = await h.waitForRouting(
        routing.id,
        (r) => r.lastGenerationStatus === 'Completed',
        'Completed after the share returned',
      );
      expect(done.camRevision).toBe('1.1.0');
      expect(
        (await peekDeadLetters(h.broker, RESULTS_QUEUE)).some((l) => l.messageId === command.messageId),
      ).toBe(false);
    } finally {
      if (!restored) await rename(offline, h.sharedDriveRoot).catch(() => undefined);
    }
  });

  it('moves lastGenerationStatus with started and expired events, and never backwards', async () => {
    const routing = await h.approvedRouting();
    const jobId = routing.lastAddinJobId;
    const ref = { jobId, routingId: routing.id, routingCode: routing.routingCode };
    const send = async (envelope: UnknownEnvelope) => {
      await h.broker.publisher.publish({ exchange: EXCHANGES.events, routingKey: envelope.type, envelope });
      await handled(PROGRESS_QUEUE, envelope.messageId);
      return (await h.getRouting(routing.id)).lastGenerationStatus;
    };
    const started = (attempt: number) =>
      createMessage(
        AddinJobStarted,
        { ...ref, attempt, deviceId: 'WS-1', leaseExpiresAt: '2026-01-05T10:00:00.000Z' },
        { correlationId: 'c' },
      );
    const expired = (attempt: number) =>
      createMessage(
        AddinJobExpired,
        { ...ref, attempt, action: 'requeued', reason: 'lease ran out', deviceId: 'WS-1' },
        { correlationId: 'c' },
      );

    expect(await send(started(1))).toBe('InProgress');
    expect(await send(expired(1))).toBe('Queued');
    expect(await send(started(2))).toBe('InProgress');
    expect(await send(expired(1))).toBe('InProgress'); // attempt 1's expiry, late: attempt 2 runs
    expect(await send(started(1))).toBe('InProgress'); // attempt 1's start, later still

    const outputs = await h.writeOutputs(routing, FILES);
    await h.publishResult({ jobId, routingId: routing.id, outputs, attempt: 2 });
    await h.waitForRouting(routing.id, (r) => r.lastGenerationStatus === 'Completed', 'Completed');
    expect(await send(started(3))).toBe('Completed');
    expect(await send(expired(3))).toBe('Completed');
  });

  it('applies progress events arriving together in their order, each once, whatever batch they share', async () => {
    const routings = await Promise.all([h.approvedRouting(), h.approvedRouting()]);
    const [moved, untouched] = routings as [(typeof routings)[0], (typeof routings)[0]];
    const ref = (r: typeof moved) => ({
      jobId: r.lastAddinJobId,
      routingId: r.id,
      routingCode: r.routingCode,
    });
    const lease = { deviceId: 'WS-1', leaseExpiresAt: '2026-01-05T10:00:00.000Z' };
    const events = [
      createMessage(AddinJobStarted, { ...ref(moved), attempt: 1, ...lease }, { correlationId: 'c' }),
      createMessage(
        AddinJobExpired,
        { ...ref(moved), attempt: 1, action: 'requeued', reason: 'lease ran out', deviceId: 'WS-1' },
        { correlationId: 'c' },
      ),
      createMessage(AddinJobStarted, { ...ref(moved), attempt: 2, ...lease }, { correlationId: 'c' }),
      createMessage(AddinJobStarted, { ...ref(untouched), attempt: 1, ...lease }, { correlationId: 'c' }),
      createMessage(
        AddinJobStarted,
        { ...ref(moved), routingId: randomUUID(), attempt: 1, ...lease },
        { correlationId: 'c' },
      ),
    ];
    // Published back to back without waiting: the consumer is free to batch them.
    await Promise.all(
      [...events, events[3] as UnknownEnvelope].map((envelope) =>
        h.broker.publisher.publish({ exchange: EXCHANGES.events, routingKey: envelope.type, envelope }),
      ),
    );
    for (const event of events) await handled(PROGRESS_QUEUE, event.messageId);

    const [after, other] = await Promise.all([h.getRouting(moved.id), h.getRouting(untouched.id)]);
    expect(after.lastGenerationStatus).toBe('InProgress');
    expect(other.lastGenerationStatus).toBe('InProgress');
    const rows = await h.prisma.routing.findMany({
      where: { id: { in: [moved.id, untouched.id] } },
      select: { id: true, generationProgress: true },
    });
    // attempt 2 started = key 4; attempt 1 started = key 2.
    expect(Object.fromEntries(rows.map((r) => [r.id, r.generationProgress]))).toEqual({
      [moved.id]: 4,
      [untouched.id]: 2,
    });
  });
});
