import { AppError, conflict, unavailable, validationFailed } from '@mcms/platform';
import { DEFAULT_RETRY_POLICY, outcomeOf, type RetryPolicy } from './retry-policy';

const policy: RetryPolicy = { delaysMs: [200, 400, 800] };

describe('outcomeOf', () => {
  it('acks when the handler succeeded', () => {
    expect(outcomeOf(undefined, 1, policy)).toEqual({ kind: 'ack' });
    expect(outcomeOf(undefined, 7, policy)).toEqual({ kind: 'ack' });
  });

  it('retries a retryable failure after the delay of its attempt', () => {
    const err = unavailable('the shared drive is down');
    expect(outcomeOf(err, 1, policy)).toEqual({ kind: 'retry', delayMs: 200 });
    expect(outcomeOf(err, 2, policy)).toEqual({ kind: 'retry', delayMs: 400 });
    expect(outcomeOf(err, 3, policy)).toEqual({ kind: 'retry', delayMs: 800 });
  });

  it('treats an unknown error as retryable', () => {
    expect(outcomeOf(new Error('ECONNRESET'), 1, policy)).toEqual({ kind: 'retry', delayMs: 200 });
    expect(outcomeOf('a string was thrown', 2, policy)).toEqual({ kind: 'retry', delayMs: 400 });
  });

  it('dead-letters a non-retryable AppError at once under its code, whatever the attempt', () => {
    expect(outcomeOf(conflict('job_already_completed', 'done'), 1, policy)).toEqual({
      kind: 'dead-letter',
      reason: 'job_already_completed',
    });
    expect(outcomeOf(validationFailed([{ path: 'jobId', message: 'bad' }]), 2, policy)).toEqual({
      kind: 'dead-letter',
      reason: 'validation_failed',
    });
  });

  it('dead-letters as retries-exhausted once the delays run out', () => {
    expect(outcomeOf(unavailable('still down'), 4, policy)).toEqual({
      kind: 'dead-letter',
      reason: 'retries-exhausted',
    });
    expect(outcomeOf(new Error('boom'), 1, { delaysMs: [] })).toEqual({
      kind: 'dead-letter',
      reason: 'retries-exhausted',
    });
  });

  it('gives five attempts in all by default, as the original system did', () => {
    const err = new AppError({
      code: 'dependency_unavailable',
      message: 'x',
      httpStatus: 503,
      retryable: true,
    });
    const kinds = [1, 2, 3, 4, 5].map((attempt) => outcomeOf(err, attempt, DEFAULT_RETRY_POLICY).kind);
    expect(kinds).toEqual(['retry', 'retry', 'retry', 'retry', 'dead-letter']);
    expect(DEFAULT_RETRY_POLICY.delaysMs).toEqual([1_000, 5_000, 30_000, 120_000]);
  });
});
