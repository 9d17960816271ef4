import { z } from 'zod';
import { Id, Timestamp } from '../fields';
import { defineRoute, ErrorBody } from './define-route';
import { RoutingIdParams } from './routings';

export const ChangeType = z.enum([
  'RoutingCreated',
  'ApprovalRequested',
  'RoutingApproved',
  'RoutingRejected',
  'AddinJobQueued',
  'AddinJobStarted',
  'AddinJobCompleted',
  'AddinJobFailed',
  'AddinJobRequeued',
]);
export type ChangeType = z.infer<typeof ChangeType>;

/** Approval outcomes belong to approval entries only; generation entries have their own. */
export const ApprovalOutcome = z.enum(['Pending', 'Approved', 'Rejected']);
export const GenerationOutcome = z.enum(['Succeeded', 'Failed']);
export const HistoryOutcome = z.union([ApprovalOutcome, GenerationOutcome]);

export const HistoryEntry = z
  .object({
    id: Id,
    routingId: Id,
    changeType: ChangeType,
    field: z.string().nullable(),
    previousValue: z.string().nullable(),
    currentValue: z.string().nullable(),
    outcome: HistoryOutcome.nullable(),
    jobId: Id.nullable(),
    comment: z.string().nullable(),
    createdBy: z.string(),
    createdAt: Timestamp,
  })
  .meta({ id: 'HistoryEntry' });
export type HistoryEntry = z.infer<typeof HistoryEntry>;

export const historyRoutes = {
  list: defineRoute({
    method: 'get',
    path: '/api/routings/:id/history',
    operationId: 'getRoutingHistory',
    summary: "A routing's history, oldest first",
    tag: 'history',
    auth: 'viewer',
    params: RoutingIdParams,
    responses: {
      200: { description: 'Every entry, oldest first', schema: z.array(HistoryEntry) },
      400: { description: 'Invalid routing id', schema: ErrorBody },
      401: { description: 'Missing, invalid or expired token', schema: ErrorBody },
      403: { description: 'The token lacks the viewer role', schema: ErrorBody },
    },
  }),
} as const;
