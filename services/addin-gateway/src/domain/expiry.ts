import type { Job } from './job';

/** When the gateway stops waiting for add-ins. */
export interface ExpiryPolicy {
  /** Attempts an add-in gets before the job fails (the lease of the last one ran out). */
  maxAttempts: number;
  /** How long a job may stay Pending before it fails because no add-in took it. */
  pendingTimeoutMs: number;
}

/** What the sweeper does to one job. */
export type ExpiryDecision =
  { kind: 'requeue'; nextAttempt: number; reason: string } | { kind: 'fail'; reason: string };

/** Whether the lease of an InProgress job has run out at `now`. */
export function leaseExpired(job: Pick<Job, 'status' | 'leaseExpiresAt'>, now: Date): boolean {
  return (
    job.status === 'InProgress' &&
    job.leaseExpiresAt !== null &&
    job.leaseExpiresAt.getTime() <= now.getTime()
  );
}

/** Whether a Pending job has waited for an add-in longer than the policy allows. */
export function pendingTooLong(
  job: Pick<Job, 'status' | 'pendingSince'>,
  now: Date,
  policy: ExpiryPolicy,
): boolean {
  return job.status === 'Pending' && now.getTime() - job.pendingSince.getTime() >= policy.pendingTimeoutMs;
}

/** The oldest `pendingSince` that is not yet too long ago: the sweeper's query bound. */
export function pendingCutoff(now: Date, policy: ExpiryPolicy): Date {
  return new Date(now.getTime() - policy.pendingTimeoutMs);
}

/**
 * Decides what happens to `job` at `now`, or undefined when nothing is due. An expired lease puts the job back
 * to Pending for another attempt, unless the attempt that expired was the last one; a job nobody took within
 * the pending timeout fails. Either failure ends the job like an add-in's own failure would.
 */
export function decideExpiry(
  job: Pick<Job, 'status' | 'attempt' | 'leaseExpiresAt' | 'pendingSince'>,
  now: Date,
  policy: ExpiryPolicy,
): ExpiryDecision | undefined {
  if (leaseExpired(job, now)) {
    if (job.attempt >= policy.maxAttempts) {
      return {
        kind: 'fail',
        reason: `add-in did not finish within its lease after ${policy.maxAttempts} attempts`,
      };
    }
    return {
      kind: 'requeue',
      nextAttempt: job.attempt + 1,
      reason: `add-in did not finish attempt ${job.attempt} within its lease`,
    };
  }
  if (pendingTooLong(job, now, policy)) {
    return {
      kind: 'fail',
      reason: `no add-in took the job within ${formatDuration(policy.pendingTimeoutMs)}`,
    };
  }
  return undefined;
}

/** A duration as people read it in a message: `24 h`, `90 min`, `30 s`, `1500 ms`. */
export function formatDuration(ms: number): string {
  if (ms > 0 && ms % 3_600_000 === 0) return `${ms / 3_600_000} h`;
  if (ms > 0 && ms % 60_000 === 0) return `${ms / 60_000} min`;
  if (ms > 0 && ms % 1_000 === 0) return `${ms / 1_000} s`;
  return `${ms} ms`;
}
