import { z } from 'zod';
import { Code, Id, SemVer, text, Timestamp } from '../fields';
import { defineRoute, ErrorBody } from './define-route';

export const RoutingStatus = z.enum(['Draft', 'PendingApproval', 'Approved', 'Rejected']);
export type RoutingStatus = z.infer<typeof RoutingStatus>;

/** The technical outcome of generating the CAM program, kept apart from the approval status. */
export const GenerationStatus = z.enum(['Queued', 'InProgress', 'Completed', 'Failed']);
export type GenerationStatus = z.infer<typeof GenerationStatus>;

export const Routing = z
  .object({
    id: Id,
    routingCode: Code,
    itemCode: Code,
    revisionCode: Code,
    status: RoutingStatus,
    camRevision: SemVer,
    lastAddinJobId: Id.nullable(),
    lastGenerationStatus: GenerationStatus.nullable(),
    lastGenerationMessage: z.string().nullable(),
    lastGeneratedAt: Timestamp.nullable(),
    createdAt: Timestamp,
    updatedAt: Timestamp,
  })
  .meta({ id: 'Routing' });
export type Routing = z.infer<typeof Routing>;

export const CreateRoutingBody = z
  .strictObject({ routingCode: Code, itemCode: Code, revisionCode: Code })
  .meta({ id: 'CreateRoutingBody' });
export const CommentBody = z.strictObject({ comment: text(4000).optional() }).meta({ id: 'CommentBody' });
export const RejectBody = z.strictObject({ reason: text(4000).trim().min(1) }).meta({ id: 'RejectBody' });

export const RoutingIdParams = z.object({ id: Id });
export const ListRoutingsQuery = z.strictObject({
  status: RoutingStatus.optional(),
  generationStatus: GenerationStatus.optional(),
  limit: z.coerce.number().int().min(1).max(500).default(50),
  cursor: z.string().max(200).optional(),
});
export const RoutingPage = z
  .object({ items: z.array(Routing), nextCursor: z.string().nullable() })
  .meta({ id: 'RoutingPage' });

const errors = {
  400: { description: 'Invalid request: every bad field is named', schema: ErrorBody },
  401: { description: 'Missing, invalid or expired token', schema: ErrorBody },
  403: { description: 'The token lacks the required role', schema: ErrorBody },
};
const notFound = { 404: { description: 'No routing with this id', schema: ErrorBody } };
const conflict = (why: string) => ({ 409: { description: why, schema: ErrorBody } });

export const routingRoutes = {
  create: defineRoute({
    method: 'post',
    path: '/api/routings',
    operationId: 'createRouting',
    summary: 'Create a Draft routing',
    tag: 'routings',
    auth: 'editor',
    body: CreateRoutingBody,
    responses: {
      201: { description: 'Created', schema: Routing },
      ...errors,
      ...conflict('The routing code already exists for this item and revision'),
    },
  }),
  list: defineRoute({
    method: 'get',
    path: '/api/routings',
    operationId: 'listRoutings',
    summary: 'List routings, newest first, filtered by status and generation status',
    tag: 'routings',
    auth: 'viewer',
    query: ListRoutingsQuery,
    responses: { 200: { description: 'One page', schema: RoutingPage }, ...errors },
  }),
  get: defineRoute({
    method: 'get',
    path: '/api/routings/:id',
    operationId: 'getRouting',
    summary: 'Read one routing',
    tag: 'routings',
    auth: 'viewer',
    params: RoutingIdParams,
    responses: { 200: { description: 'The routing', schema: Routing }, ...errors, ...notFound },
  }),
  requestApproval: defineRoute({
    method: 'post',
    path: '/api/routings/:id/request-approval',
    operationId: 'requestApproval',
    summary: 'Ask for approval (from Draft or Rejected)',
    tag: 'routings',
    auth: 'editor',
    params: RoutingIdParams,
    body: CommentBody,
    responses: {
      200: { description: 'Now PendingApproval', schema: Routing },
      ...errors,
      ...notFound,
      ...conflict('Not Draft or Rejected'),
    },
  }),
  approve: defineRoute({
    method: 'post',
    path: '/api/routings/:id/approve',
    operationId: 'approveRouting',
    summary: 'Approve and queue the ESPRIT generation job (one transaction)',
    tag: 'routings',
    auth: 'approver',
    params: RoutingIdParams,
    body: CommentBody,
    responses: {
      200: { description: 'Approved, lastGenerationStatus Queued, new lastAddinJobId', schema: Routing },
      ...errors,
      ...notFound,
      ...conflict('Not PendingApproval'),
    },
  }),
  reject: defineRoute({
    method: 'post',
    path: '/api/routings/:id/reject',
    operationId: 'rejectRouting',
    summary: 'Reject with a reason',
    tag: 'routings',
    auth: 'approver',
    params: RoutingIdParams,
    body: RejectBody,
    responses: {
      200: { description: 'Rejected', schema: Routing },
      ...errors,
      ...notFound,
      ...conflict('Not PendingApproval'),
    },
  }),
  regenerate: defineRoute({
    method: 'post',
    path: '/api/routings/:id/regenerate',
    operationId: 'regenerateRouting',
    summary: 'Queue a new generation job for an Approved routing',
    tag: 'routings',
    auth: 'approver',
    params: RoutingIdParams,
    responses: {
      202: { description: 'A new job is Queued', schema: Routing },
      ...errors,
      ...notFound,
      ...conflict('Not Approved, or a job is already Queued or InProgress'),
    },
  }),
} as const;
