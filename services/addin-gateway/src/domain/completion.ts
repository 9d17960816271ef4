import { createHash } from 'node:crypto';
import type { OutputFile } from '@mcms/contracts';
import { holdsLease, isFinal, type Job, type JobStatus, type Refusal, type ResultStatus } from './job';

/** A completion body as the add-in sends it (already validated against the contract). */
export interface CompletionBody {
  resultStatus: ResultStatus;
  message?: string | undefined;
  outputs?: readonly OutputFile[] | undefined;
}

/** The one form of a result that two equivalent bodies share: what is stored, hashed and sent on. */
export interface CanonicalResult {
  resultStatus: ResultStatus;
  message: string | null;
  outputs: OutputFile[];
}

/**
 * Normalises a body so that equivalent ones compare equal: an absent message is null, absent outputs are an
 * empty list, outputs are ordered by path (the add-in may list files in any order) and checksums are lower case
 * (the contract accepts either case).
 */
export function canonicalResult(body: CompletionBody): CanonicalResult {
  const outputs = (body.outputs ?? [])
    .map((file) => ({ path: file.path, sha256: file.sha256.toLowerCase(), sizeBytes: file.sizeBytes }))
    .sort((a, b) =>
      a.path < b.path ? -1 : a.path > b.path ? 1 : a.sha256 < b.sha256 ? -1 : a.sha256 > b.sha256 ? 1 : 0,
    );
  return { resultStatus: body.resultStatus, message: body.message ?? null, outputs };
}

/** sha256 hex of the canonical result, serialised with a fixed key order. */
export function resultHashOf(result: CanonicalResult): string {
  const canonical = JSON.stringify([
    result.resultStatus,
    result.message,
    result.outputs.map((file) => [file.path, file.sha256, file.sizeBytes]),
  ]);
  return createHash('sha256').update(canonical).digest('hex');
}

/** What a completion does to a job. */
export type CompletionDecision =
  /** Record the result: the job becomes `status`. */
  | { kind: 'finish'; status: Extract<JobStatus, 'Completed' | 'Failed'> }
  /** The same result again: answer with the job as it is, emit nothing. */
  | { kind: 'replay' }
  | Refusal;

/**
 * Decides a completion of `job` by `deviceId` whose canonical body hashes to `resultHash`.
 *
 * A final job answers a repeat of the body that finished it as a replay (the add-in lost our first answer),
 * and anything else — another body, or any body for a job the gateway failed itself — as a conflict: the
 * first result stands. A job that is not final must be InProgress and held by the caller.
 */
export function decideCompletion(
  job: Pick<Job, 'jobId' | 'status' | 'claimedBy' | 'resultHash'>,
  deviceId: string,
  result: { resultStatus: ResultStatus; hash: string },
): CompletionDecision {
  if (isFinal(job.status)) {
    if (job.resultHash !== null && job.resultHash === result.hash) return { kind: 'replay' };
    return {
      kind: 'refuse',
      code: 'result_conflict',
      message: `job ${job.jobId} is already ${job.status} with a different result`,
    };
  }
  if (job.status !== 'InProgress') {
    return {
      kind: 'refuse',
      code: 'job_not_in_progress',
      message: `job ${job.jobId} is ${job.status}, not InProgress`,
    };
  }
  if (!holdsLease(job, deviceId)) {
    return { kind: 'refuse', code: 'lease_not_held', message: `job ${job.jobId} is held by another device` };
  }
  return { kind: 'finish', status: result.resultStatus === 'completed' ? 'Completed' : 'Failed' };
}
