import type { OutputFile } from '@mcms/contracts';

/** Where a job is in its life: Pending → InProgress → Completed | Failed, or back to Pending when a lease runs out. */
export type JobStatus = 'Pending' | 'InProgress' | 'Completed' | 'Failed';

/** What the add-in (or the gateway, giving up on a job) reported. */
export type ResultStatus = 'completed' | 'failed';

/** An ESPRIT add-in job as the gateway keeps it. */
export interface Job {
  jobId: string;
  routingId: string;
  routingCode: string;
  itemCode: string;
  revisionCode: string;
  camRevision: string;
  parameters: Record<string, string>;
  status: JobStatus;
  /** 1 for the first hand-out; + 1 each time an expired lease puts the job back to Pending. */
  attempt: number;
  createdAt: Date;
  /** When the job last became Pending (created or requeued). */
  pendingSince: Date;
  startedAt: Date | null;
  completedAt: Date | null;
  leaseExpiresAt: Date | null;
  /** The device that holds (InProgress) or last held the job. */
  claimedBy: string | null;
  resultStatus: ResultStatus | null;
  message: string | null;
  outputs: OutputFile[] | null;
  /** Hash of the canonical completion body; null until an add-in completed the job. */
  resultHash: string | null;
  requestedBy: string;
  /** The business flow the job belongs to: every message about it carries this correlation id. */
  correlationId: string;
  updatedAt: Date;
}

/** The final states: nothing changes a job once it is in one. */
export function isFinal(status: JobStatus): boolean {
  return status === 'Completed' || status === 'Failed';
}

/**
 * Whether `deviceId` holds the job. A lease that ran out still counts until the sweeper requeues the job:
 * nobody else can have it before that, and refusing a slow add-in's heartbeat or result would only throw
 * finished work away.
 */
export function holdsLease(job: Pick<Job, 'status' | 'claimedBy'>, deviceId: string): boolean {
  return job.status === 'InProgress' && job.claimedBy === deviceId;
}

/** The lease an add-in gets when it takes a job or heartbeats: `leaseMs` from now. */
export function leaseUntil(now: Date, leaseMs: number): Date {
  return new Date(now.getTime() + leaseMs);
}

/** Why a heartbeat, a completion or a claim-dependent call was refused; the code is the API's `error.code`. */
export interface Refusal {
  kind: 'refuse';
  code: 'lease_not_held' | 'job_not_in_progress' | 'result_conflict';
  message: string;
}

/**
 * Why `deviceId` may not extend the lease on `job` (called when the conditional lease update matched no row),
 * or undefined when it may after all (the job was re-read in between and is held by this device again).
 */
export function heartbeatRefusal(
  job: Pick<Job, 'jobId' | 'status' | 'claimedBy'>,
  deviceId: string,
): Refusal | undefined {
  if (holdsLease(job, deviceId)) return undefined;
  return {
    kind: 'refuse',
    code: 'lease_not_held',
    message:
      job.status === 'InProgress'
        ? `job ${job.jobId} is held by another device`
        : `job ${job.jobId} is ${job.status}; no lease to extend`,
  };
}
