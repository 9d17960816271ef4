import { randomUUID } from 'node:crypto';
import {
  AddinJobExpired,
  AddinJobQueued,
  AddinJobStarted,
  generatedDocuments,
  HistoryEntry,
  RoutingApprovalRequested,
  RoutingApproved,
  RoutingCreated,
  RoutingGenerationCompleted,
  RoutingGenerationFailed,
  RoutingRejected,
  type MessageDefinition,
  type MessageEnvelope,
} from '@mcms/contracts';
import { peekDeadLetters } from '@mcms/messaging';
import { z } from 'zod';
import { HISTORY_EVENTS_QUEUE } from '../src/adapters/history-events.consumer';
import {
  eventOf,
  eventsHandled,
  eventually,
  metricValue,
  startHistoryService,
  type RunningHistoryService,
} from './support';

let service: RunningHistoryService;

beforeAll(async () => {
  // Retries well apart, so a test can put the database right between two attempts.
  service = await startHistoryService({ retryDelaysMs: [300, 1_000, 3_000, 5_000] });
});

afterAll(async () => {
  await service?.stop();
});

const HistoryList = z.array(HistoryEntry);

async function getHistory(routingId: string, token = service.token(['viewer'])): Promise<Response> {
  return fetch(`${service.baseUrl}/api/routings/${routingId}/history`, {
    headers: { authorization: `Bearer ${token}` },
  });
}

async function historyOf(routingId: string): Promise<HistoryEntry[]> {
  const response = await getHistory(routingId);
  expect(response.status).toBe(200);
  return HistoryList.parse(await response.json());
}

/** The routing's history once it holds `count` entries. */
function historyWith(routingId: string, count: number): Promise<HistoryEntry[]> {
  return eventually(async () => {
    const entries = await historyOf(routingId);
    return entries.length >= count ? entries : undefined;
  }, `${count} history entries of routing ${routingId}`);
}

async function publish(definition: MessageDefinition, envelope: MessageEnvelope): Promise<void> {
  await service.publish(envelope, definition);
}

function routingRef() {
  return { routingId: randomUUID(), routingCode: `GT${Math.floor(Math.random() * 1e6)}` };
}

const OCCURRED_AT = new Date('2026-11-28T10:15:30.123Z');

describe('recording each event', () => {
  const jobId = randomUUID();
  // Its own job: the completed case already holds this job's one final entry.
  const failedJobId = randomUUID();
  const cases: Array<{
    name: string;
    definition: MessageDefinition;
    payload: (ref: { routingId: string; routingCode: string }) => unknown;
    expected: Omit<HistoryEntry, 'id' | 'routingId' | 'createdAt'>;
  }> = [
    {
      name: 'routing.created as RoutingCreated by its creator',
      definition: RoutingCreated,
      payload: (ref) => ({
        ...ref,
        itemCode: 'ITEM-7',
        revisionCode: 'B',
        camRevision: '1.0.0',
        createdBy: 'erin',
      }),
      expected: {
        changeType: 'RoutingCreated',
        field: 'status',
        previousValue: null,
        currentValue: 'Draft',
        outcome: null,
        jobId: null,
        comment: 'item ITEM-7 revision B, CAM revision 1.0.0',
        createdBy: 'erin',
      },
    },
    {
      name: 'routing.approval-requested as ApprovalRequested with outcome Pending',
      definition: RoutingApprovalRequested,
      payload: (ref) => ({ ...ref, requestedBy: 'erin', comment: 'please review' }),
      expected: {
        changeType: 'ApprovalRequested',
        field: 'status',
        previousValue: null,
        currentValue: 'PendingApproval',
        outcome: 'Pending',
        jobId: null,
        comment: 'please review',
        createdBy: 'erin',
      },
    },
    {
      name: 'routing.approved as RoutingApproved with outcome Approved and the job',
      definition: RoutingApproved,
      payload: (ref) => ({ ...ref, approvedBy: 'amir', comment: 'fine', jobId }),
      expected: {
        changeType: 'RoutingApproved',
        field: 'status',
        previousValue: 'PendingApproval',
        currentValue: 'Approved',
        outcome: 'Approved',
        jobId,
        comment: 'fine',
        createdBy: 'amir',
      },
    },
    {
      name: 'routing.rejected as RoutingRejected with outcome Rejected and the reason',
      definition: RoutingRejected,
      payload: (ref) => ({ ...ref, rejectedBy: 'amir', reason: 'wrong fixture' }),
      expected: {
        changeType: 'RoutingRejected',
        field: 'status',
        previousValue: 'PendingApproval',
        currentValue: 'Rejected',
        outcome: 'Rejected',
        jobId: null,
        comment: 'wrong fixture',
        createdBy: 'amir',
      },
    },
    {
      name: 'addin-job.queued as AddinJobQueued with its attempt',
      definition: AddinJobQueued,
      payload: (ref) => ({ ...ref, jobId, attempt: 1 }),
      expected: {
        changeType: 'AddinJobQueued',
        field: 'jobStatus',
        previousValue: null,
        currentValue: 'Pending',
        outcome: null,
        jobId,
        comment: 'attempt 1',
        createdBy: 'system',
      },
    },
    {
      name: 'addin-job.started as AddinJobStarted by the device, with its lease',
      definition: AddinJobStarted,
      payload: (ref) => ({
        ...ref,
        jobId,
        attempt: 1,
        deviceId: 'WS-042',
        leaseExpiresAt: '2026-11-28T10:25:30.123Z',
      }),
      expected: {
        changeType: 'AddinJobStarted',
        field: 'jobStatus',
        previousValue: 'Pending',
        currentValue: 'InProgress',
        outcome: null,
        jobId,
        comment: 'attempt 1, lease until 2026-11-28T10:25:30.123Z',
        createdBy: 'WS-042',
      },
    },
    {
      name: 'addin-job.expired (requeued) as AddinJobRequeued with the reason',
      definition: AddinJobExpired,
      payload: (ref) => ({
        ...ref,
        jobId,
        attempt: 2,
        action: 'requeued',
        reason: 'lease expired',
        deviceId: 'WS-042',
      }),
      expected: {
        changeType: 'AddinJobRequeued',
        field: 'jobStatus',
        previousValue: 'InProgress',
        currentValue: 'Pending',
        outcome: null,
        jobId,
        comment: 'lease expired (lease held by WS-042)',
        createdBy: 'system',
      },
    },
    {
      name: 'routing.generation.completed as AddinJobCompleted with outcome Succeeded and the CAM revision',
      definition: RoutingGenerationCompleted,
      payload: (ref) => ({
        ...ref,
        jobId,
        camRevision: '1.1.0',
        previousCamRevision: '1.0.0',
        outputs: [{ path: 'GT.nc', sha256: 'c'.repeat(64), sizeBytes: 42 }],
        stale: false,
        completedAt: '2026-11-28T10:15:30.000Z',
      }),
      expected: {
        changeType: 'AddinJobCompleted',
        field: 'camRevision',
        previousValue: '1.0.0',
        currentValue: '1.1.0',
        outcome: 'Succeeded',
        jobId,
        comment: '1 output file',
        createdBy: 'system',
      },
    },
    {
      name: "routing.generation.failed as AddinJobFailed with outcome Failed and the add-in's message",
      definition: RoutingGenerationFailed,
      payload: (ref) => ({
        ...ref,
        jobId: failedJobId,
        message: 'ESPRIT: tool T12 missing',
        stale: false,
        failedAt: '2026-11-28T10:15:30.000Z',
      }),
      expected: {
        changeType: 'AddinJobFailed',
        field: null,
        previousValue: null,
        currentValue: null,
        outcome: 'Failed',
        jobId: failedJobId,
        comment: 'ESPRIT: tool T12 missing',
        createdBy: 'system',
      },
    },
  ];

  it.each(cases)('records $name', async ({ definition, payload, expected }) => {
    const ref = routingRef();
    const event = eventOf(definition, payload(ref) as never, { occurredAt: OCCURRED_AT });

    await publish(definition, event);

    const [entry] = await historyWith(ref.routingId, 1);
    expect(entry).toEqual({
      id: event.messageId,
      routingId: ref.routingId,
      createdAt: OCCURRED_AT.toISOString(),
      ...expected,
    });
  });

  it('records nothing for a job that expired for good: its failure comes as routing.generation.failed', async () => {
    const ref = routingRef();
    const before = await handled({ type: AddinJobExpired.type, outcome: 'ignored' });
    const event = eventOf(AddinJobExpired, {
      ...ref,
      jobId: randomUUID(),
      attempt: 5,
      action: 'failed',
      reason: 'add-in did not finish within its lease after 5 attempts',
      deviceId: 'WS-042',
    });

    await publish(AddinJobExpired, event);

    await eventsHandled(service, { type: AddinJobExpired.type, outcome: 'ignored' }, before + 1);
    expect(await historyOf(ref.routingId)).toEqual([]);
  });
});

describe('idempotency', () => {
  it('keeps one entry when the same event is delivered three times', async () => {
    const ref = routingRef();
    const before = await handled({ type: RoutingApproved.type, outcome: 'duplicate' });
    const event = eventOf(RoutingApproved, {
      ...ref,
      approvedBy: 'amir',
      comment: null,
      jobId: randomUUID(),
    });

    for (let i = 0; i < 3; i++) await publish(RoutingApproved, event);

    await eventsHandled(service, { type: RoutingApproved.type, outcome: 'duplicate' }, before + 2);
    const entries = await historyOf(ref.routingId);
    expect(entries.map((entry) => entry.id)).toEqual([event.messageId]);
  });

  it("keeps exactly one final entry when a job's result arrives again under new event ids", async () => {
    const ref = routingRef();
    const jobId = randomUUID();
    const duplicatesBefore =
      (await handled({ type: RoutingGenerationCompleted.type, outcome: 'duplicate' })) +
      (await handled({ type: RoutingGenerationFailed.type, outcome: 'duplicate' }));
    const completed = eventOf(RoutingGenerationCompleted, {
      ...ref,
      jobId,
      camRevision: '1.1.0',
      previousCamRevision: '1.0.0',
      outputs: [],
      stale: false,
      completedAt: new Date().toISOString(),
    });
    await publish(RoutingGenerationCompleted, completed);
    await historyWith(ref.routingId, 1);

    // A replay of the same result (a new event id), then a contradicting one for the same job, at once.
    const replay = eventOf(RoutingGenerationCompleted, { ...completed.payload });
    const contradiction = eventOf(RoutingGenerationFailed, {
      ...ref,
      jobId,
      message: 'late failure',
      stale: false,
      failedAt: new Date().toISOString(),
    });
    await Promise.all([
      publish(RoutingGenerationCompleted, replay),
      publish(RoutingGenerationFailed, contradiction),
    ]);

    // Counted as duplicates: absorbed by the partial unique index, not failed and retried.
    await eventually(async () => {
      const duplicates =
        (await handled({ type: RoutingGenerationCompleted.type, outcome: 'duplicate' })) +
        (await handled({ type: RoutingGenerationFailed.type, outcome: 'duplicate' }));
      return duplicates >= duplicatesBefore + 2 ? true : undefined;
    }, 'both later results counted as duplicates');
    const entries = await historyOf(ref.routingId);
    expect(entries.map((entry) => [entry.id, entry.changeType])).toEqual([
      [completed.messageId, 'AddinJobCompleted'],
    ]);
  });

  it('lets concurrent deliveries of results for one job write exactly one final entry', async () => {
    const ref = routingRef();
    const jobId = randomUUID();
    const results = Array.from({ length: 20 }, (_, i) =>
      i % 2 === 0
        ? ([
            RoutingGenerationFailed,
            eventOf(RoutingGenerationFailed, {
              ...ref,
              jobId,
              message: `try ${i}`,
              stale: false,
              failedAt: new Date().toISOString(),
            }),
          ] as const)
        : ([
            RoutingGenerationCompleted,
            eventOf(RoutingGenerationCompleted, {
              ...ref,
              jobId,
              camRevision: '1.1.0',
              previousCamRevision: '1.0.0',
              outputs: [],
              stale: false,
              completedAt: new Date().toISOString(),
            }),
          ] as const),
    );
    const handledBefore =
      (await handled({ type: RoutingGenerationCompleted.type })) +
      (await handled({ type: RoutingGenerationFailed.type }));

    await Promise.all(results.map(([definition, event]) => publish(definition, event)));

    await eventually(async () => {
      const handledNow =
        (await handled({ type: RoutingGenerationCompleted.type })) +
        (await handled({ type: RoutingGenerationFailed.type }));
      return handledNow >= handledBefore + results.length ? true : undefined;
    }, 'all 20 results handled');
    const entries = await historyOf(ref.routingId);
    expect(entries).toHaveLength(1);
    expect(['AddinJobCompleted', 'AddinJobFailed']).toContain(entries[0]?.changeType);
  });
});

describe('reading a routing history', () => {
  it('returns the entries oldest first, by occurrence then id, whatever order they arrive in', async () => {
    const ref = routingRef();
    const at = (second: number) => new Date(Date.UTC(2026, 10, 28, 10, 0, second));
    const jobId = randomUUID();
    const [low, high] = [randomUUID(), randomUUID()].sort();
    const created = eventOf(
      RoutingCreated,
      { ...ref, itemCode: 'I', revisionCode: 'A', camRevision: '1.0.0', createdBy: 'erin' },
      { occurredAt: at(1) },
    );
    const requested = eventOf(
      RoutingApprovalRequested,
      { ...ref, requestedBy: 'erin', comment: null },
      { occurredAt: at(2) },
    );
    const approved = eventOf(
      RoutingApproved,
      { ...ref, approvedBy: 'amir', comment: null, jobId },
      { occurredAt: at(3), messageId: high! },
    );
    // Same instant as the approval (another service's clock): the id breaks the tie.
    const queued = eventOf(
      AddinJobQueued,
      { ...ref, jobId, attempt: 1 },
      { occurredAt: at(3), messageId: low! },
    );

    for (const [definition, event] of [
      [AddinJobQueued, queued],
      [RoutingApproved, approved],
      [RoutingApprovalRequested, requested],
      [RoutingCreated, created],
    ] as const) {
      await publish(definition, event);
    }

    const entries = await historyWith(ref.routingId, 4);
    expect(entries.map((entry) => entry.id)).toEqual([created.messageId, requested.messageId, low, high]);
  });

  it('answers 200 with an empty list for a routing it has never heard of', async () => {
    const response = await getHistory(randomUUID());

    expect(response.status).toBe(200);
    expect(await response.json()).toEqual([]);
  });

  it('answers 401 without a token, with an expired one and with one signed by another secret', async () => {
    const url = `${service.baseUrl}/api/routings/${randomUUID()}/history`;
    const expired = service.token(['viewer'], { expiresInSeconds: -60 });
    const forged = 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJtYWxsb3J5Iiwicm9sZXMiOlsiYWRtaW4iXX0.' + 'x'.repeat(43);

    const responses = await Promise.all([
      fetch(url),
      fetch(url, { headers: { authorization: `Bearer ${expired}` } }),
      fetch(url, { headers: { authorization: `Bearer ${forged}` } }),
    ]);

    expect(responses.map((response) => response.status)).toEqual([401, 401, 401]);
  });

  it('answers 403 to a token without the viewer role', async () => {
    const response = await getHistory(randomUUID(), service.token([]));

    expect(response.status).toBe(403);
  });

  it('lets every higher role read the history', async () => {
    const statuses = await Promise.all(
      (['editor', 'approver', 'admin'] as const).map(
        async (role) => (await getHistory(randomUUID(), service.token([role]))).status,
      ),
    );

    expect(statuses).toEqual([200, 200, 200]);
  });

  it('answers 400 naming the id when the routing id is not a uuid', async () => {
    const response = await getHistory('not-a-uuid');

    expect(response.status).toBe(400);
    const body = (await response.json()) as { error: { code: string; details: Array<{ path: string }> } };
    expect(body.error.code).toBe('validation_failed');
    expect(body.error.details.map((detail) => detail.path)).toEqual(['id']);
  });
});

describe('poison messages and failures', () => {
  it('dead-letters a malformed event at once, with the reason and the bad field', async () => {
    const ref = routingRef();
    const messageId = randomUUID();
    const malformed = {
      messageId,
      type: RoutingCreated.type,
      version: 1,
      occurredAt: new Date().toISOString(),
      correlationId: 'corr-malformed',
      causationId: null,
      payload: {
        ...ref,
        routingId: 'not-a-uuid',
        itemCode: 'I',
        revisionCode: 'A',
        camRevision: '1.0.0',
        createdBy: 'x',
      },
    };

    await service.broker.publisher.publish({
      exchange: RoutingCreated.exchange,
      routingKey: RoutingCreated.routingKey,
      envelope: malformed,
    });

    const letter = await eventually(async () => {
      const letters = await peekDeadLetters(service.broker, HISTORY_EVENTS_QUEUE);
      return letters.find((candidate) => candidate.messageId === messageId);
    }, 'the malformed event in the dead-letter queue');
    expect(letter.reason).toBe('invalid-message');
    expect(letter.message).toContain('payload.routingId');
    expect(letter.attempts).toBe(1);
  });

  it('retries an event while the database refuses it, and records it once it accepts it again', async () => {
    const ref = routingRef();
    const event = eventOf(RoutingRejected, { ...ref, rejectedBy: 'amir', reason: 'outage test' });
    const retriesBefore = await retriesOf(RoutingRejected.type);
    await service.prisma.$executeRawUnsafe('ALTER TABLE history_entry RENAME TO history_entry_away');
    try {
      await publish(RoutingRejected, event);
      await eventually(
        async () => ((await retriesOf(RoutingRejected.type)) > retriesBefore ? true : undefined),
        'a retry of the event',
      );
    } finally {
      await service.prisma.$executeRawUnsafe('ALTER TABLE history_entry_away RENAME TO history_entry');
    }

    const [entry] = await historyWith(ref.routingId, 1);
    expect(entry).toMatchObject({ id: event.messageId, changeType: 'RoutingRejected' });
  });
});

describe('the service', () => {
  it('serves the OpenAPI document that is checked in under docs/openapi/', async () => {
    const response = await fetch(`${service.baseUrl}/openapi.json`);

    expect(response.status).toBe(200);
    const document = (await response.json()) as { paths: Record<string, unknown> };
    expect(Object.keys(document.paths)).toEqual(['/api/routings/{id}/history']);
    expect(document).toEqual(JSON.parse(generatedDocuments()['docs/openapi/history-service.json']!));
  });

  it('is ready when the database and the broker are', async () => {
    const response = await fetch(`${service.baseUrl}/readyz`);

    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ status: 'ready', checks: { database: 'ok', rabbitmq: 'ok' } });
  });
});

function retriesOf(type: string): Promise<number> {
  return metricValue(service.metrics, 'mcms_messages_consumed_total', { type, outcome: 'retry' });
}

function handled(labels: { type: string; outcome?: string }): Promise<number> {
  return metricValue(service.metrics, 'mcms_history_events_total', labels);
}
