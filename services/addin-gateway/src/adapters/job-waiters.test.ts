import { jobsNotified } from './job-waiters';

describe('jobsNotified', () => {
  it("reads the INSERT trigger's count", () => {
    expect([jobsNotified('1'), jobsNotified('3'), jobsNotified('64')]).toEqual([1, 3, 64]);
  });

  it("reads a requeued job's id as one job, even when it begins with digits", () => {
    expect([
      jobsNotified('12345678-9abc-4def-8123-456789abcdef'),
      jobsNotified('0f9e8d7c-6b5a-4938-a271-605f4e3d2c1b'),
    ]).toEqual([1, 1]);
  });

  it('reads nothing, zero or anything else as one job', () => {
    expect([jobsNotified(undefined), jobsNotified(''), jobsNotified('0'), jobsNotified('1e9')]).toEqual([
      1, 1, 1, 1,
    ]);
  });
});
