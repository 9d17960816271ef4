import type { Routing } from './routing';

/** What the gateway says happened to a job before its result: claimed, or its lease ran out. */
export interface JobProgress {
  jobId: string;
  attempt: number;
  /** `failed` expiries are final: their result command decides, so progress ignores them. */
  kind: 'started' | 'requeued' | 'failed';
}

/**
 * The order of progress events within one job: attempt n starts (2n), then expires (2n + 1), then
 * attempt n + 1 starts (2n + 2). An event whose key is not above the last applied one is late.
 */
export function progressKey(progress: Pick<JobProgress, 'attempt' | 'kind'>): number {
  return progress.attempt * 2 + (progress.kind === 'started' ? 0 : 1);
}

/**
 * Applies a started/requeued event to the routing's generation status: InProgress or Queued again.
 * Only for its current job, only while the job is not final, and only when newer than the last
 * event applied, so a late or out-of-order event never moves a routing backwards (a Completed one
 * back to InProgress, an attempt-2 InProgress back to Queued by attempt 1's expiry). Returns
 * undefined when nothing changes.
 */
export function applyJobProgress(routing: Routing, progress: JobProgress, now: Date): Routing | undefined {
  if (progress.kind === 'failed') return undefined;
  if (routing.lastAddinJobId !== progress.jobId) return undefined;
  if (routing.lastGenerationStatus !== 'Queued' && routing.lastGenerationStatus !== 'InProgress')
    return undefined;
  const key = progressKey(progress);
  if (key <= routing.generationProgress) return undefined;
  return {
    ...routing,
    lastGenerationStatus: progress.kind === 'started' ? 'InProgress' : 'Queued',
    generationProgress: key,
    updatedAt: now,
  };
}
