import { z } from 'zod';
import { defineMessage, type MessageOf } from './define-message';
import { Actor, Code, DeviceId, Id, OutputFiles, ResultMessage, SemVer, text, Timestamp } from './fields';

const RoutingRef = { routingId: Id, routingCode: Code };

export const RoutingCreated = defineMessage({
  type: 'routing.created',
  version: 1,
  kind: 'event',
  summary: 'A routing was created as Draft.',
  payload: z.object({
    ...RoutingRef,
    itemCode: Code,
    revisionCode: Code,
    camRevision: SemVer,
    createdBy: Actor,
  }),
});
export type RoutingCreated = MessageOf<typeof RoutingCreated>;

export const RoutingApprovalRequested = defineMessage({
  type: 'routing.approval-requested',
  version: 1,
  kind: 'event',
  summary: 'An engineer asked for approval: the routing is PendingApproval.',
  payload: z.object({ ...RoutingRef, requestedBy: Actor, comment: text(4000).nullable() }),
});
export type RoutingApprovalRequested = MessageOf<typeof RoutingApprovalRequested>;

export const RoutingApproved = defineMessage({
  type: 'routing.approved',
  version: 1,
  kind: 'event',
  summary: 'An approver approved the routing; its generation job was queued in the same transaction.',
  payload: z.object({ ...RoutingRef, approvedBy: Actor, comment: text(4000).nullable(), jobId: Id }),
});
export type RoutingApproved = MessageOf<typeof RoutingApproved>;

export const RoutingRejected = defineMessage({
  type: 'routing.rejected',
  version: 1,
  kind: 'event',
  summary: 'An approver rejected the routing.',
  payload: z.object({ ...RoutingRef, rejectedBy: Actor, reason: text(4000, 1) }),
});
export type RoutingRejected = MessageOf<typeof RoutingRejected>;

export const AddinJobQueued = defineMessage({
  type: 'addin-job.queued',
  version: 1,
  kind: 'event',
  summary: 'The gateway created a Pending add-in job.',
  payload: z.object({ jobId: Id, ...RoutingRef, attempt: z.number().int().min(1) }),
});
export type AddinJobQueued = MessageOf<typeof AddinJobQueued>;

export const AddinJobStarted = defineMessage({
  type: 'addin-job.started',
  version: 1,
  kind: 'event',
  summary: 'An add-in claimed the job: InProgress under a lease for one device.',
  payload: z.object({
    jobId: Id,
    ...RoutingRef,
    attempt: z.number().int().min(1),
    deviceId: DeviceId,
    leaseExpiresAt: Timestamp,
  }),
});
export type AddinJobStarted = MessageOf<typeof AddinJobStarted>;

export const AddinJobExpired = defineMessage({
  type: 'addin-job.expired',
  version: 1,
  kind: 'event',
  summary:
    'A job outlived its lease or its wait for an add-in: requeued for another attempt, or failed for good ' +
    '(then an AddinJobResultCommand follows like any other failure).',
  payload: z.object({
    jobId: Id,
    ...RoutingRef,
    attempt: z.number().int().min(1),
    action: z.enum(['requeued', 'failed']),
    reason: text(4000, 1),
    deviceId: DeviceId.nullable(),
  }),
});
export type AddinJobExpired = MessageOf<typeof AddinJobExpired>;

export const RoutingGenerationCompleted = defineMessage({
  type: 'routing.generation.completed',
  version: 1,
  kind: 'event',
  summary: "The add-in's outputs were validated on the shared drive and the routing updated.",
  payload: z.object({
    ...RoutingRef,
    jobId: Id,
    camRevision: SemVer,
    previousCamRevision: SemVer,
    outputs: OutputFiles,
    /** True when the job was not the routing's latest: recorded in history, routing untouched. */
    stale: z.boolean(),
    completedAt: Timestamp,
  }),
});
export type RoutingGenerationCompleted = MessageOf<typeof RoutingGenerationCompleted>;

export const RoutingGenerationFailed = defineMessage({
  type: 'routing.generation.failed',
  version: 1,
  kind: 'event',
  summary:
    'Generation failed (add-in failure, invalid outputs or expiry): the UI must raise a failure alert.',
  payload: z.object({
    ...RoutingRef,
    jobId: Id,
    message: ResultMessage,
    stale: z.boolean(),
    failedAt: Timestamp,
  }),
});
export type RoutingGenerationFailed = MessageOf<typeof RoutingGenerationFailed>;

/** Every event, for registries and the AsyncAPI document. */
export const events = [
  RoutingCreated,
  RoutingApprovalRequested,
  RoutingApproved,
  RoutingRejected,
  AddinJobQueued,
  AddinJobStarted,
  AddinJobExpired,
  RoutingGenerationCompleted,
  RoutingGenerationFailed,
] as const;
