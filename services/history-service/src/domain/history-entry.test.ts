import {
  AddinJobExpired,
  AddinJobQueued,
  AddinJobStarted,
  createMessage,
  events,
  HistoryEntry as HistoryEntryDto,
  RoutingApprovalRequested,
  RoutingApproved,
  RoutingCreated,
  RoutingGenerationCompleted,
  RoutingGenerationFailed,
  RoutingRejected,
  type MessageDefinition,
  type PayloadOf,
} from '@mcms/contracts';
import {
  approvalRequestedEntry,
  eventMappings,
  generationCompletedEntry,
  generationFailedEntry,
  jobExpiredEntry,
  jobQueuedEntry,
  jobStartedEntry,
  routingApprovedEntry,
  routingCreatedEntry,
  routingRejectedEntry,
  type HistoryEntry,
} from './history-entry';

const EVENT_ID = '0b7e2a52-5a5e-4c33-9d3c-6f1f7a0c1d01';
const ROUTING_ID = '5d1c3f0e-8a5b-4b8e-9f65-2a8f0b9c7e11';
const JOB_ID = '9a4f6c2b-1d3e-4f5a-8b7c-0e1d2c3b4a59';
const OCCURRED_AT = new Date('2026-11-28T10:15:30.123Z');
const ref = { routingId: ROUTING_ID, routingCode: 'GT310001' };

function event<D extends MessageDefinition>(definition: D, payload: PayloadOf<D>) {
  return createMessage(definition, payload, {
    correlationId: 'corr-1',
    messageId: EVENT_ID,
    occurredAt: OCCURRED_AT,
  });
}

const base = { id: EVENT_ID, routingId: ROUTING_ID, createdAt: OCCURRED_AT };

describe('history entries from routing events', () => {
  it('records a created routing as Draft, by its creator, with item, revision and CAM revision', () => {
    const entry = routingCreatedEntry(
      event(RoutingCreated, {
        ...ref,
        itemCode: 'ITEM-7',
        revisionCode: 'B',
        camRevision: '1.0.0',
        createdBy: 'erin',
      }),
    );

    expect(entry).toEqual<HistoryEntry>({
      ...base,
      changeType: 'RoutingCreated',
      field: 'status',
      previousValue: null,
      currentValue: 'Draft',
      outcome: null,
      jobId: null,
      comment: 'item ITEM-7 revision B, CAM revision 1.0.0',
      createdBy: 'erin',
    });
  });

  it('records an approval request with outcome Pending, the requester and the comment', () => {
    const entry = approvalRequestedEntry(
      event(RoutingApprovalRequested, { ...ref, requestedBy: 'erin', comment: 'ready for review' }),
    );

    expect(entry).toEqual<HistoryEntry>({
      ...base,
      changeType: 'ApprovalRequested',
      field: 'status',
      previousValue: null,
      currentValue: 'PendingApproval',
      outcome: 'Pending',
      jobId: null,
      comment: 'ready for review',
      createdBy: 'erin',
    });
  });

  it('records an approval with outcome Approved, the approver, the comment and the queued job', () => {
    const entry = routingApprovedEntry(
      event(RoutingApproved, { ...ref, approvedBy: 'amir', comment: null, jobId: JOB_ID }),
    );

    expect(entry).toEqual<HistoryEntry>({
      ...base,
      changeType: 'RoutingApproved',
      field: 'status',
      previousValue: 'PendingApproval',
      currentValue: 'Approved',
      outcome: 'Approved',
      jobId: JOB_ID,
      comment: null,
      createdBy: 'amir',
    });
  });

  it('records a rejection with outcome Rejected and the reason as its comment', () => {
    const entry = routingRejectedEntry(
      event(RoutingRejected, { ...ref, rejectedBy: 'amir', reason: 'wrong fixture' }),
    );

    expect(entry).toEqual<HistoryEntry>({
      ...base,
      changeType: 'RoutingRejected',
      field: 'status',
      previousValue: 'PendingApproval',
      currentValue: 'Rejected',
      outcome: 'Rejected',
      jobId: null,
      comment: 'wrong fixture',
      createdBy: 'amir',
    });
  });
});

describe('history entries from add-in job events', () => {
  it('records a queued job as Pending with its attempt, by the system', () => {
    const entry = jobQueuedEntry(event(AddinJobQueued, { ...ref, jobId: JOB_ID, attempt: 1 }));

    expect(entry).toEqual<HistoryEntry>({
      ...base,
      changeType: 'AddinJobQueued',
      field: 'jobStatus',
      previousValue: null,
      currentValue: 'Pending',
      outcome: null,
      jobId: JOB_ID,
      comment: 'attempt 1',
      createdBy: 'system',
    });
  });

  it('records a started job as InProgress by the device, with attempt and lease', () => {
    const entry = jobStartedEntry(
      event(AddinJobStarted, {
        ...ref,
        jobId: JOB_ID,
        attempt: 2,
        deviceId: 'WS-042',
        leaseExpiresAt: '2026-11-28T10:25:30.123Z',
      }),
    );

    expect(entry).toEqual<HistoryEntry>({
      ...base,
      changeType: 'AddinJobStarted',
      field: 'jobStatus',
      previousValue: 'Pending',
      currentValue: 'InProgress',
      outcome: null,
      jobId: JOB_ID,
      comment: 'attempt 2, lease until 2026-11-28T10:25:30.123Z',
      createdBy: 'WS-042',
    });
  });

  it('records a requeue after an expired lease with the reason and the device that held it', () => {
    const entry = jobExpiredEntry(
      event(AddinJobExpired, {
        ...ref,
        jobId: JOB_ID,
        attempt: 2,
        action: 'requeued',
        reason: 'lease expired',
        deviceId: 'WS-042',
      }),
    );

    expect(entry).toEqual<HistoryEntry>({
      ...base,
      changeType: 'AddinJobRequeued',
      field: 'jobStatus',
      previousValue: 'InProgress',
      currentValue: 'Pending',
      outcome: null,
      jobId: JOB_ID,
      comment: 'lease expired (lease held by WS-042)',
      createdBy: 'system',
    });
  });

  it('records a requeue without a device with the reason alone', () => {
    const entry = jobExpiredEntry(
      event(AddinJobExpired, {
        ...ref,
        jobId: JOB_ID,
        attempt: 2,
        action: 'requeued',
        reason: 'lease expired',
        deviceId: null,
      }),
    );

    expect(entry?.comment).toBe('lease expired');
  });

  it('records nothing for a final expiry: the failure arrives as routing.generation.failed', () => {
    const entry = jobExpiredEntry(
      event(AddinJobExpired, {
        ...ref,
        jobId: JOB_ID,
        attempt: 5,
        action: 'failed',
        reason: 'add-in did not finish within its lease after 5 attempts',
        deviceId: 'WS-042',
      }),
    );

    expect(entry).toBeNull();
  });
});

describe('history entries from generation results', () => {
  const outputs = [
    { path: 'GT310001.esp', sha256: 'a'.repeat(64), sizeBytes: 10 },
    { path: 'GT310001.nc', sha256: 'b'.repeat(64), sizeBytes: 20 },
  ];
  const completed = {
    ...ref,
    jobId: JOB_ID,
    camRevision: '1.1.0',
    previousCamRevision: '1.0.0',
    outputs,
    completedAt: '2026-11-28T10:15:30.000Z',
  };
  const failed = { ...ref, jobId: JOB_ID, failedAt: '2026-11-28T10:15:30.000Z' };

  it('records a completed generation with outcome Succeeded and the CAM revision change', () => {
    const entry = generationCompletedEntry(event(RoutingGenerationCompleted, { ...completed, stale: false }));

    expect(entry).toEqual<HistoryEntry>({
      ...base,
      changeType: 'AddinJobCompleted',
      field: 'camRevision',
      previousValue: '1.0.0',
      currentValue: '1.1.0',
      outcome: 'Succeeded',
      jobId: JOB_ID,
      comment: '2 output files',
      createdBy: 'system',
    });
  });

  it('records a stale completion as Succeeded, noting it is stale and changing no field', () => {
    const entry = generationCompletedEntry(event(RoutingGenerationCompleted, { ...completed, stale: true }));

    expect(entry).toMatchObject({ changeType: 'AddinJobCompleted', outcome: 'Succeeded', field: null });
    expect(entry.previousValue).toBeNull();
    expect(entry.currentValue).toBeNull();
    expect(entry.comment).toMatch(/^stale result: .*; 2 output files$/);
  });

  it("records a failed generation with outcome Failed and the add-in's message as its comment", () => {
    const entry = generationFailedEntry(
      event(RoutingGenerationFailed, { ...failed, message: 'ESPRIT crashed: license', stale: false }),
    );

    expect(entry).toEqual<HistoryEntry>({
      ...base,
      changeType: 'AddinJobFailed',
      field: null,
      previousValue: null,
      currentValue: null,
      outcome: 'Failed',
      jobId: JOB_ID,
      comment: 'ESPRIT crashed: license',
      createdBy: 'system',
    });
  });

  it('records a stale failure noting it is stale, followed by the message', () => {
    const entry = generationFailedEntry(
      event(RoutingGenerationFailed, { ...failed, message: 'ESPRIT crashed', stale: true }),
    );

    expect(entry.comment).toMatch(/^stale result: .*: ESPRIT crashed$/);
  });

  it('records a failure with an empty message with no comment, or only the stale note', () => {
    const fresh = generationFailedEntry(
      event(RoutingGenerationFailed, { ...failed, message: '', stale: false }),
    );
    const stale = generationFailedEntry(
      event(RoutingGenerationFailed, { ...failed, message: '', stale: true }),
    );

    expect(fresh.comment).toBeNull();
    expect(stale.comment).toMatch(/^stale result: [^:]*$/);
  });

  it('never gives a generation entry an approval outcome', () => {
    const results = [
      generationCompletedEntry(event(RoutingGenerationCompleted, { ...completed, stale: false })),
      generationCompletedEntry(event(RoutingGenerationCompleted, { ...completed, stale: true })),
      generationFailedEntry(event(RoutingGenerationFailed, { ...failed, message: 'x', stale: false })),
      generationFailedEntry(event(RoutingGenerationFailed, { ...failed, message: 'x', stale: true })),
    ];

    for (const entry of results) expect(['Succeeded', 'Failed']).toContain(entry.outcome);
  });
});

describe('the event mappings', () => {
  it('cover every event of the contracts exactly once', () => {
    const mapped = eventMappings.map((m) => m.definition.type);

    expect([...mapped].sort()).toEqual(events.map((e) => e.type).sort());
    expect(new Set(mapped).size).toBe(mapped.length);
  });

  it('produce entries the HTTP contract accepts, with approval outcomes on approval entries only', () => {
    const samples = [
      event(RoutingCreated, {
        ...ref,
        itemCode: 'I',
        revisionCode: 'A',
        camRevision: '1.0.0',
        createdBy: 'e',
      }),
      event(RoutingApprovalRequested, { ...ref, requestedBy: 'e', comment: null }),
      event(RoutingApproved, { ...ref, approvedBy: 'a', comment: null, jobId: JOB_ID }),
      event(RoutingRejected, { ...ref, rejectedBy: 'a', reason: 'no' }),
      event(AddinJobQueued, { ...ref, jobId: JOB_ID, attempt: 1 }),
      event(AddinJobStarted, {
        ...ref,
        jobId: JOB_ID,
        attempt: 1,
        deviceId: 'WS-1',
        leaseExpiresAt: '2026-11-28T10:25:30.000Z',
      }),
      event(AddinJobExpired, {
        ...ref,
        jobId: JOB_ID,
        attempt: 1,
        action: 'requeued',
        reason: 'lease expired',
        deviceId: null,
      }),
      event(RoutingGenerationCompleted, {
        ...ref,
        jobId: JOB_ID,
        camRevision: '1.0.0',
        previousCamRevision: '1.0.0',
        outputs: [],
        stale: false,
        completedAt: '2026-11-28T10:25:30.000Z',
      }),
      event(RoutingGenerationFailed, {
        ...ref,
        jobId: JOB_ID,
        message: 'x',
        stale: false,
        failedAt: '2026-11-28T10:25:30.000Z',
      }),
    ];
    const approvalTypes = ['ApprovalRequested', 'RoutingApproved', 'RoutingRejected'];

    for (const sample of samples) {
      const mapping = eventMappings.find((m) => m.definition.type === sample.type);
      const entry = mapping?.toEntry(sample);
      expect(entry).toBeTruthy();
      const dto = HistoryEntryDto.parse({ ...entry, createdAt: entry?.createdAt.toISOString() });
      const approvalOutcome = ['Pending', 'Approved', 'Rejected'].includes(dto.outcome ?? '');
      expect(approvalOutcome).toBe(approvalTypes.includes(dto.changeType));
    }
  });
});
