import {
  decideExpiry,
  formatDuration,
  leaseExpired,
  pendingCutoff,
  pendingTooLong,
  type ExpiryPolicy,
} from './expiry';

const policy: ExpiryPolicy = { maxAttempts: 5, pendingTimeoutMs: 24 * 3_600_000 };
const t0 = new Date('2026-03-01T08:00:00.000Z');
const at = (ms: number) => new Date(t0.getTime() + ms);
const inProgress = (attempt: number, leaseExpiresAt: Date) => ({
  status: 'InProgress' as const,
  attempt,
  leaseExpiresAt,
  pendingSince: t0,
});
const pending = (pendingSince: Date) => ({
  status: 'Pending' as const,
  attempt: 1,
  leaseExpiresAt: null,
  pendingSince,
});

describe('lease expiry', () => {
  it('sees a lease as expired from its end on, not before', () => {
    expect(leaseExpired(inProgress(1, at(1_000)), at(999))).toBe(false);
    expect(leaseExpired(inProgress(1, at(1_000)), at(1_000))).toBe(true);
    expect(leaseExpired({ status: 'Completed', leaseExpiresAt: at(0) }, at(5_000))).toBe(false);
  });

  it('requeues an expired attempt below the maximum with the next attempt number', () => {
    for (let attempt = 1; attempt < 5; attempt += 1) {
      expect(decideExpiry(inProgress(attempt, at(0)), at(1), policy)).toEqual({
        kind: 'requeue',
        nextAttempt: attempt + 1,
        reason: `add-in did not finish attempt ${attempt} within its lease`,
      });
    }
  });

  it('fails the job when the attempt that expired was the last one', () => {
    expect(decideExpiry(inProgress(5, at(0)), at(1), policy)).toEqual({
      kind: 'fail',
      reason: 'add-in did not finish within its lease after 5 attempts',
    });
    expect(decideExpiry(inProgress(2, at(0)), at(1), { ...policy, maxAttempts: 2 })).toEqual({
      kind: 'fail',
      reason: 'add-in did not finish within its lease after 2 attempts',
    });
  });

  it('leaves a job whose lease has not run out alone', () => {
    expect(decideExpiry(inProgress(5, at(10)), at(9), policy)).toBeUndefined();
  });
});

describe('pending timeout', () => {
  it('fails a job Pending for the whole timeout, naming the timeout', () => {
    expect(decideExpiry(pending(t0), at(policy.pendingTimeoutMs), policy)).toEqual({
      kind: 'fail',
      reason: 'no add-in took the job within 24 h',
    });
    expect(decideExpiry(pending(t0), at(90 * 60_000), { ...policy, pendingTimeoutMs: 90 * 60_000 })).toEqual({
      kind: 'fail',
      reason: 'no add-in took the job within 90 min',
    });
  });

  it('leaves a job Pending for less than the timeout alone', () => {
    expect(pendingTooLong(pending(t0), at(policy.pendingTimeoutMs - 1), policy)).toBe(false);
    expect(decideExpiry(pending(t0), at(policy.pendingTimeoutMs - 1), policy)).toBeUndefined();
  });

  it('puts the query cutoff exactly one timeout before now', () => {
    const now = at(policy.pendingTimeoutMs + 5);
    expect(pendingCutoff(now, policy)).toEqual(at(5));
    expect(pendingTooLong(pending(at(5)), now, policy)).toBe(true);
    expect(pendingTooLong(pending(at(6)), now, policy)).toBe(false);
  });

  it('never expires final jobs', () => {
    expect(
      decideExpiry(
        { status: 'Completed', attempt: 1, leaseExpiresAt: at(0), pendingSince: t0 },
        at(1e12),
        policy,
      ),
    ).toBeUndefined();
    expect(
      decideExpiry(
        { status: 'Failed', attempt: 5, leaseExpiresAt: at(0), pendingSince: t0 },
        at(1e12),
        policy,
      ),
    ).toBeUndefined();
  });
});

describe('formatting a duration for a message', () => {
  it('uses the largest whole unit', () => {
    expect([86_400_000, 7_200_000, 5_400_000, 30_000, 1_500].map(formatDuration)).toEqual([
      '24 h',
      '2 h',
      '90 min',
      '30 s',
      '1500 ms',
    ]);
  });
});
