import { z } from 'zod';
import { Code, DeviceId, Id, JobParameters, OutputFiles, ResultMessage, text, Timestamp } from '../fields';
import { defineRoute, ErrorBody } from './define-route';

export const AddinJobStatus = z.enum(['Pending', 'InProgress', 'Completed', 'Failed']);
export type AddinJobStatus = z.infer<typeof AddinJobStatus>;

export const ResultStatus = z.enum(['completed', 'failed']);

export const AddinJob = z
  .object({
    jobId: Id,
    routingId: Id,
    routingCode: Code,
    status: AddinJobStatus,
    attempt: z.number().int().min(1),
    parameters: JobParameters,
    createdAt: Timestamp,
    startedAt: Timestamp.nullable(),
    completedAt: Timestamp.nullable(),
    leaseExpiresAt: Timestamp.nullable(),
    claimedBy: DeviceId.nullable(),
    resultStatus: ResultStatus.nullable(),
    message: z.string().nullable(),
    outputs: OutputFiles.nullable(),
  })
  .meta({ id: 'AddinJob' });
export type AddinJob = z.infer<typeof AddinJob>;

export const CompleteJobBody = z
  .strictObject({
    resultStatus: ResultStatus,
    message: ResultMessage.optional(),
    outputs: OutputFiles.optional(),
  })
  .meta({ id: 'CompleteJobBody' });
export type CompleteJobBody = z.infer<typeof CompleteJobBody>;

export const JobIdParams = z.object({ jobId: Id });
export const NextJobQuery = z.strictObject({
  waitSeconds: z.coerce.number().int().min(0).max(30).default(0),
});
export const ListJobsQuery = z.strictObject({
  status: AddinJobStatus.optional(),
  limit: z.coerce.number().int().min(1).max(500).default(50),
  cursor: z.string().max(200).optional(),
});
export const AddinJobPage = z
  .object({ items: z.array(AddinJob), nextCursor: z.string().nullable() })
  .meta({ id: 'AddinJobPage' });
export const Lease = z.object({ leaseExpiresAt: Timestamp }).meta({ id: 'Lease' });

export const CreateKeyBody = z
  .strictObject({
    name: text(200).trim().min(1).optional(),
    expiresInDays: z.number().int().min(1).max(365).optional(),
  })
  .meta({ id: 'CreateKeyBody' });
export const CreatedKey = z
  .object({ keyId: Id, key: z.string().describe('Shown only in this response'), expiresAt: Timestamp })
  .meta({ id: 'CreatedKey' });
export const KeyInfo = z
  .object({
    keyId: Id,
    name: z.string().nullable(),
    createdBy: z.string(),
    createdAt: Timestamp,
    expiresAt: Timestamp,
    revokedAt: Timestamp.nullable(),
    lastUsedAt: Timestamp.nullable(),
  })
  .meta({ id: 'KeyInfo' });
export const KeyIdParams = z.object({ keyId: Id });

const addinErrors = {
  400: { description: 'Invalid request: every bad field is named', schema: ErrorBody },
  401: { description: 'Missing, wrong, expired or revoked add-in key, or no device id', schema: ErrorBody },
  429: {
    description:
      'rate_limited: too many calls for this key or device, or too many failed authentications from this ' +
      'address; retry after Retry-After seconds',
    schema: ErrorBody,
  },
};
const adminErrors = {
  400: { description: 'Invalid request', schema: ErrorBody },
  401: { description: 'Missing, invalid or expired token', schema: ErrorBody },
  403: { description: 'Not an admin', schema: ErrorBody },
};
const unknownJob = { 404: { description: 'No job with this id', schema: ErrorBody } };

export const addinRoutes = {
  next: defineRoute({
    method: 'get',
    path: '/api/addin/jobs/next',
    operationId: 'takeNextJob',
    summary: 'Take the oldest Pending job under a lease for this device (long poll)',
    description:
      'Answers at once with a job when one is Pending; otherwise waits up to waitSeconds and hands out a ' +
      'job that arrives meanwhile. Concurrent callers never receive the same job.',
    tag: 'add-in',
    auth: 'addin',
    query: NextJobQuery,
    responses: {
      200: { description: 'A job, now InProgress for this device', schema: AddinJob },
      204: { description: 'No job within waitSeconds' },
      ...addinErrors,
      503: {
        description: 'Too many add-ins are waiting on this instance: retry after Retry-After seconds',
        schema: ErrorBody,
      },
    },
  }),
  heartbeat: defineRoute({
    method: 'post',
    path: '/api/addin/jobs/:jobId/heartbeat',
    operationId: 'extendLease',
    summary: "Extend this device's lease on a job",
    tag: 'add-in',
    auth: 'addin',
    params: JobIdParams,
    responses: {
      200: { description: 'The new lease', schema: Lease },
      ...addinErrors,
      ...unknownJob,
      409: { description: 'This device no longer holds the lease', schema: ErrorBody },
    },
  }),
  complete: defineRoute({
    method: 'post',
    path: '/api/addin/jobs/:jobId/complete',
    operationId: 'completeJob',
    summary: 'Report the final result of a job (idempotent for the same body)',
    tag: 'add-in',
    auth: 'addin',
    params: JobIdParams,
    body: CompleteJobBody,
    // 100 outputs with 260-character paths and a 4000-character message, escaped: up to ~400 kB.
    maxBodyBytes: 1024 * 1024,
    responses: {
      200: { description: 'The final job (the same answer for a repeated identical body)', schema: AddinJob },
      ...addinErrors,
      ...unknownJob,
      409: {
        description: 'Job not InProgress, or a different result than the recorded one',
        schema: ErrorBody,
      },
    },
  }),
  list: defineRoute({
    method: 'get',
    path: '/api/addin/jobs',
    operationId: 'listJobs',
    summary: 'List jobs, oldest first, optionally of one status (for operators)',
    description: 'Keyset pages: pass nextCursor back as cursor until it is null.',
    tag: 'add-in',
    auth: 'viewer',
    query: ListJobsQuery,
    responses: {
      200: { description: 'One page', schema: AddinJobPage },
      400: { description: 'Invalid request: every bad field is named', schema: ErrorBody },
      401: { description: 'Missing, invalid or expired token', schema: ErrorBody },
      403: { description: 'The token lacks the viewer role', schema: ErrorBody },
    },
  }),
  get: defineRoute({
    method: 'get',
    path: '/api/addin/jobs/:jobId',
    operationId: 'getJob',
    summary: 'Read one job',
    tag: 'add-in',
    auth: 'addin-or-viewer',
    params: JobIdParams,
    responses: { 200: { description: 'The job', schema: AddinJob }, ...addinErrors, ...unknownJob },
  }),
  createKey: defineRoute({
    method: 'post',
    path: '/api/addin/keys',
    operationId: 'createAddinKey',
    summary: 'Issue an add-in key (the key is shown only in this answer)',
    tag: 'add-in keys',
    auth: 'admin',
    body: CreateKeyBody,
    responses: { 201: { description: 'The new key', schema: CreatedKey }, ...adminErrors },
  }),
  listKeys: defineRoute({
    method: 'get',
    path: '/api/addin/keys',
    operationId: 'listAddinKeys',
    summary: 'List add-in keys (metadata only)',
    tag: 'add-in keys',
    auth: 'admin',
    responses: { 200: { description: 'Every key', schema: z.array(KeyInfo) }, ...adminErrors },
  }),
  revokeKey: defineRoute({
    method: 'delete',
    path: '/api/addin/keys/:keyId',
    operationId: 'revokeAddinKey',
    summary: 'Revoke an add-in key',
    tag: 'add-in keys',
    auth: 'admin',
    params: KeyIdParams,
    responses: {
      204: { description: 'Revoked (also when it already was)' },
      ...adminErrors,
      404: { description: 'No key with this id', schema: ErrorBody },
    },
  }),
} as const;
