import { isAppError } from '@mcms/platform';

/** How often and how long a consumer retries a message that failed with a retryable error. */
export interface RetryPolicy {
  /** The wait before attempt 2, 3, …; its length is the number of retries (attempts = length + 1). */
  readonly delaysMs: readonly number[];
}

/** What a consumer does with a delivery once its handler has run. */
export type Outcome =
  { kind: 'ack' } | { kind: 'retry'; delayMs: number } | { kind: 'dead-letter'; reason: string };

/** The original system's policy: 5 attempts in all, waiting 1 s, 5 s, 30 s and 2 min in between. */
export const DEFAULT_RETRY_DELAYS_MS: readonly number[] = Object.freeze([1_000, 5_000, 30_000, 120_000]);

/** {@link DEFAULT_RETRY_DELAYS_MS} as a policy. */
export const DEFAULT_RETRY_POLICY: RetryPolicy = Object.freeze({ delaysMs: DEFAULT_RETRY_DELAYS_MS });

/**
 * Decides what happens to a delivery after attempt number `attempt` (1-based) ended with `err`
 * (`undefined`: it succeeded). A non-retryable AppError is dead-lettered at once under its code;
 * anything else, unknown errors included, is retried after the attempt's delay until the delays
 * run out.
 */
export function outcomeOf(err: unknown, attempt: number, policy: RetryPolicy): Outcome {
  if (err === undefined) return { kind: 'ack' };
  if (isAppError(err) && !err.retryable) return { kind: 'dead-letter', reason: err.code };
  const delayMs = policy.delaysMs[attempt - 1];
  return delayMs === undefined
    ? { kind: 'dead-letter', reason: 'retries-exhausted' }
    : { kind: 'retry', delayMs };
}
