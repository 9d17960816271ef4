import type { AddinJob, OutputFile } from '@mcms/contracts';
import { internal } from '@mcms/platform';
import type { Job, JobStatus, ResultStatus } from '../domain/job';

/** An `addin_job` row as raw SQL (`RETURNING *`) gives it. */
export interface JobRow {
  job_id: string;
  routing_id: string;
  routing_code: string;
  item_code: string;
  revision_code: string;
  cam_revision: string;
  parameters: unknown;
  status: string;
  attempt: number;
  created_at: Date;
  pending_since: Date;
  started_at: Date | null;
  completed_at: Date | null;
  lease_expires_at: Date | null;
  claimed_by: string | null;
  result_status: string | null;
  message: string | null;
  outputs: unknown;
  result_hash: string | null;
  requested_by: string;
  correlation_id: string;
  updated_at: Date;
}

/** Every column of {@link JobRow}, for statements that name what they return (prepared ones must). */
export const JOB_COLUMNS =
  'job_id, routing_id, routing_code, item_code, revision_code, cam_revision, parameters, status, attempt, ' +
  'created_at, pending_since, started_at, completed_at, lease_expires_at, claimed_by, result_status, message, ' +
  'outputs, result_hash, requested_by, correlation_id, updated_at';

const STATUSES: readonly string[] = ['Pending', 'InProgress', 'Completed', 'Failed'] satisfies JobStatus[];
const RESULT_STATUSES: readonly string[] = ['completed', 'failed'] satisfies ResultStatus[];

/** A row as a domain job. An unknown status is a bug (the table has no CHECK constraint), so it fails loudly. */
export function jobFromRow(row: JobRow): Job {
  if (!STATUSES.includes(row.status)) throw internal(`job ${row.job_id} has unknown status ${row.status}`);
  if (row.result_status !== null && !RESULT_STATUSES.includes(row.result_status)) {
    throw internal(`job ${row.job_id} has unknown result status ${row.result_status}`);
  }
  return {
    jobId: row.job_id,
    routingId: row.routing_id,
    routingCode: row.routing_code,
    itemCode: row.item_code,
    revisionCode: row.revision_code,
    camRevision: row.cam_revision,
    parameters: row.parameters as Record<string, string>,
    status: row.status as JobStatus,
    attempt: row.attempt,
    createdAt: row.created_at,
    pendingSince: row.pending_since,
    startedAt: row.started_at,
    completedAt: row.completed_at,
    leaseExpiresAt: row.lease_expires_at,
    claimedBy: row.claimed_by,
    resultStatus: row.result_status as ResultStatus | null,
    message: row.message,
    outputs: row.outputs as OutputFile[] | null,
    resultHash: row.result_hash,
    requestedBy: row.requested_by,
    correlationId: row.correlation_id,
    updatedAt: row.updated_at,
  };
}

/** A job as the API shows it (the contract's `AddinJob`). */
export function jobDto(job: Job): AddinJob {
  return {
    jobId: job.jobId,
    routingId: job.routingId,
    routingCode: job.routingCode,
    status: job.status,
    attempt: job.attempt,
    parameters: job.parameters,
    createdAt: job.createdAt.toISOString(),
    startedAt: job.startedAt?.toISOString() ?? null,
    completedAt: job.completedAt?.toISOString() ?? null,
    leaseExpiresAt: job.leaseExpiresAt?.toISOString() ?? null,
    claimedBy: job.claimedBy,
    resultStatus: job.resultStatus,
    message: job.message,
    outputs: job.outputs,
  };
}
