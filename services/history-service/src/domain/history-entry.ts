import {
  AddinJobExpired,
  AddinJobQueued,
  AddinJobStarted,
  RoutingApprovalRequested,
  RoutingApproved,
  RoutingCreated,
  RoutingGenerationCompleted,
  RoutingGenerationFailed,
  RoutingRejected,
  type ChangeType,
  type HistoryEntry as HistoryEntryDto,
  type MessageDefinition,
  type MessageEnvelope,
  type MessageOf,
} from '@mcms/contracts';

/** Pending | Approved | Rejected (approval) or Succeeded | Failed (generation). */
export type HistoryOutcome = NonNullable<HistoryEntryDto['outcome']>;

/** One line of a routing's history, as the service stores and serves it. */
export interface HistoryEntry {
  /** The id of the event that caused it: one event, at most one entry. */
  id: string;
  routingId: string;
  changeType: ChangeType;
  field: string | null;
  previousValue: string | null;
  currentValue: string | null;
  /** Approval outcomes on approval entries only; generation results use Succeeded | Failed. */
  outcome: HistoryOutcome | null;
  jobId: string | null;
  comment: string | null;
  createdBy: string;
  /** When it happened: the event's `occurredAt`, not when this service heard of it. */
  createdAt: Date;
}

/** Where history entries are kept (a port; `pg-history-store.ts` implements it). */
export interface HistoryStore {
  /**
   * Appends `entry` unless an entry with its id, or a final entry (completed/failed) for its job,
   * exists already. Resolves `true` when it was written, `false` when it was a duplicate.
   */
  append(entry: HistoryEntry): Promise<boolean>;
  /** A routing's entries, oldest first (`createdAt`, then `id`); empty for a routing never heard of. */
  listForRouting(routingId: string): Promise<HistoryEntry[]>;
}

/** Who acted when no person or device did: expiry sweeps, result processing. */
export const SYSTEM_ACTOR = 'system';

/** The change types that close a job's story: exactly one of them per job. */
export const FINAL_JOB_CHANGE_TYPES: readonly ChangeType[] = ['AddinJobCompleted', 'AddinJobFailed'];

type Envelope = Pick<MessageEnvelope, 'messageId' | 'occurredAt'>;

function entryOf(event: Envelope, entry: Omit<HistoryEntry, 'id' | 'createdAt'>): HistoryEntry {
  return { id: event.messageId, createdAt: new Date(event.occurredAt), ...entry };
}

const STALE_NOTE = "stale result: not the routing's latest job, the routing was left unchanged";

export function routingCreatedEntry(event: MessageOf<typeof RoutingCreated>): HistoryEntry {
  const { routingId, itemCode, revisionCode, camRevision, createdBy } = event.payload;
  return entryOf(event, {
    routingId,
    changeType: 'RoutingCreated',
    field: 'status',
    previousValue: null,
    currentValue: 'Draft',
    outcome: null,
    jobId: null,
    comment: `item ${itemCode} revision ${revisionCode}, CAM revision ${camRevision}`,
    createdBy,
  });
}

export function approvalRequestedEntry(event: MessageOf<typeof RoutingApprovalRequested>): HistoryEntry {
  const { routingId, requestedBy, comment } = event.payload;
  return entryOf(event, {
    routingId,
    changeType: 'ApprovalRequested',
    // The event does not say whether the routing was Draft or Rejected before; history doesn't guess.
    field: 'status',
    previousValue: null,
    currentValue: 'PendingApproval',
    outcome: 'Pending',
    jobId: null,
    comment,
    createdBy: requestedBy,
  });
}

export function routingApprovedEntry(event: MessageOf<typeof RoutingApproved>): HistoryEntry {
  const { routingId, approvedBy, comment, jobId } = event.payload;
  return entryOf(event, {
    routingId,
    changeType: 'RoutingApproved',
    field: 'status',
    // Approval is only possible from PendingApproval.
    previousValue: 'PendingApproval',
    currentValue: 'Approved',
    outcome: 'Approved',
    jobId,
    comment,
    createdBy: approvedBy,
  });
}

export function routingRejectedEntry(event: MessageOf<typeof RoutingRejected>): HistoryEntry {
  const { routingId, rejectedBy, reason } = event.payload;
  return entryOf(event, {
    routingId,
    changeType: 'RoutingRejected',
    field: 'status',
    // An approver rejects what awaits approval.
    previousValue: 'PendingApproval',
    currentValue: 'Rejected',
    outcome: 'Rejected',
    jobId: null,
    comment: reason,
    createdBy: rejectedBy,
  });
}

export function jobQueuedEntry(event: MessageOf<typeof AddinJobQueued>): HistoryEntry {
  const { routingId, jobId, attempt } = event.payload;
  return entryOf(event, {
    routingId,
    changeType: 'AddinJobQueued',
    field: 'jobStatus',
    previousValue: null,
    currentValue: 'Pending',
    outcome: null,
    jobId,
    comment: `attempt ${attempt}`,
    createdBy: SYSTEM_ACTOR,
  });
}

export function jobStartedEntry(event: MessageOf<typeof AddinJobStarted>): HistoryEntry {
  const { routingId, jobId, attempt, deviceId, leaseExpiresAt } = event.payload;
  return entryOf(event, {
    routingId,
    changeType: 'AddinJobStarted',
    field: 'jobStatus',
    previousValue: 'Pending',
    currentValue: 'InProgress',
    outcome: null,
    jobId,
    comment: `attempt ${attempt}, lease until ${leaseExpiresAt}`,
    createdBy: deviceId,
  });
}

/**
 * A requeue is recorded; a final expiry is not, because the gateway follows it with a result command
 * and the routing-worker's `routing.generation.failed` then records the one AddinJobFailed entry.
 */
export function jobExpiredEntry(event: MessageOf<typeof AddinJobExpired>): HistoryEntry | null {
  const { routingId, jobId, action, reason, deviceId } = event.payload;
  if (action !== 'requeued') return null;
  return entryOf(event, {
    routingId,
    changeType: 'AddinJobRequeued',
    field: 'jobStatus',
    previousValue: 'InProgress',
    currentValue: 'Pending',
    outcome: null,
    jobId,
    comment: deviceId === null ? reason : `${reason} (lease held by ${deviceId})`,
    // The device went silent; the gateway's expiry sweep is what acted.
    createdBy: SYSTEM_ACTOR,
  });
}

export function generationCompletedEntry(event: MessageOf<typeof RoutingGenerationCompleted>): HistoryEntry {
  const { routingId, jobId, camRevision, previousCamRevision, outputs, stale } = event.payload;
  const files = `${outputs.length} output file${outputs.length === 1 ? '' : 's'}`;
  return entryOf(event, {
    routingId,
    changeType: 'AddinJobCompleted',
    // A stale result changed nothing on the routing, so it records no field change.
    field: stale ? null : 'camRevision',
    previousValue: stale ? null : previousCamRevision,
    currentValue: stale ? null : camRevision,
    outcome: 'Succeeded',
    jobId,
    comment: stale ? `${STALE_NOTE}; ${files}` : files,
    createdBy: SYSTEM_ACTOR,
  });
}

export function generationFailedEntry(event: MessageOf<typeof RoutingGenerationFailed>): HistoryEntry {
  const { routingId, jobId, message, stale } = event.payload;
  return entryOf(event, {
    routingId,
    changeType: 'AddinJobFailed',
    field: null,
    previousValue: null,
    currentValue: null,
    // A technical outcome, never an approval one: the routing stays Approved.
    outcome: 'Failed',
    jobId,
    comment: stale ? (message ? `${STALE_NOTE}: ${message}` : STALE_NOTE) : message || null,
    createdBy: SYSTEM_ACTOR,
  });
}

/** How one event type becomes (at most) one history entry. */
export interface EventMapping {
  readonly definition: MessageDefinition;
  /** Called only with envelopes validated against `definition`. */
  toEntry(event: MessageEnvelope): HistoryEntry | null;
}

function mapping<D extends MessageDefinition>(
  definition: D,
  toEntry: (event: MessageOf<D>) => HistoryEntry | null,
): EventMapping {
  return { definition, toEntry: toEntry as (event: MessageEnvelope) => HistoryEntry | null };
}

/** Every event the history records, each with its mapping; the consumer binds exactly these. */
export const eventMappings: readonly EventMapping[] = [
  mapping(RoutingCreated, routingCreatedEntry),
  mapping(RoutingApprovalRequested, approvalRequestedEntry),
  mapping(RoutingApproved, routingApprovedEntry),
  mapping(RoutingRejected, routingRejectedEntry),
  mapping(AddinJobQueued, jobQueuedEntry),
  mapping(AddinJobStarted, jobStartedEntry),
  mapping(AddinJobExpired, jobExpiredEntry),
  mapping(RoutingGenerationCompleted, generationCompletedEntry),
  mapping(RoutingGenerationFailed, generationFailedEntry),
];
