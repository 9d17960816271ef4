import { heartbeatRefusal, holdsLease, isFinal, leaseUntil } from './job';

const job = (status: 'Pending' | 'InProgress' | 'Completed' | 'Failed', claimedBy: string | null) => ({
  jobId: 'job-1',
  status,
  claimedBy,
});

describe('job leases', () => {
  it('counts only Completed and Failed as final', () => {
    expect(['Pending', 'InProgress', 'Completed', 'Failed'].filter((s) => isFinal(s as never))).toEqual([
      'Completed',
      'Failed',
    ]);
  });

  it('lets only the device that claimed an InProgress job hold its lease', () => {
    expect(holdsLease(job('InProgress', 'WS-1'), 'WS-1')).toBe(true);
    expect(holdsLease(job('InProgress', 'WS-1'), 'WS-2')).toBe(false);
    expect(holdsLease(job('Pending', null), 'WS-1')).toBe(false);
    expect(holdsLease(job('Completed', 'WS-1'), 'WS-1')).toBe(false);
    expect(holdsLease(job('Failed', 'WS-1'), 'WS-1')).toBe(false);
  });

  it('puts the lease end leaseMs after now', () => {
    expect(leaseUntil(new Date('2026-01-01T10:00:00.000Z'), 600_000)).toEqual(
      new Date('2026-01-01T10:10:00.000Z'),
    );
  });

  it('refuses a heartbeat as lease_not_held for another device, a Pending job and a final one', () => {
    expect(heartbeatRefusal(job('InProgress', 'WS-1'), 'WS-2')).toEqual({
      kind: 'refuse',
      code: 'lease_not_held',
      message: 'job job-1 is held by another device',
    });
    expect(heartbeatRefusal(job('Pending', null), 'WS-1')).toMatchObject({
      code: 'lease_not_held',
      message: expect.stringMatching(/Pending/),
    });
    expect(heartbeatRefusal(job('Completed', 'WS-1'), 'WS-1')).toMatchObject({ code: 'lease_not_held' });
  });

  it('does not refuse a heartbeat from the holder', () => {
    expect(heartbeatRefusal(job('InProgress', 'WS-1'), 'WS-1')).toBeUndefined();
  });
});
