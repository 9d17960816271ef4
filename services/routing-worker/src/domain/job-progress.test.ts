import { applyJobProgress, type JobProgress } from './job-progress';
import { createRouting, type Routing } from './routing';

const JOB = '7d9a3d1e-0c4b-4f57-9b55-2f5d0f3a6c11';
const T0 = new Date('2026-01-05T08:00:00.000Z');
const T1 = new Date('2026-01-05T09:00:00.000Z');

function queued(extra: Partial<Routing> = {}): Routing {
  return {
    ...createRouting({ id: 'r1', routingCode: 'GT1', itemCode: 'I', revisionCode: 'A' }, T0),
    status: 'Approved',
    lastAddinJobId: JOB,
    lastGenerationStatus: 'Queued',
    ...extra,
  };
}

const started = (attempt: number): JobProgress => ({ jobId: JOB, attempt, kind: 'started' });
const requeued = (attempt: number): JobProgress => ({ jobId: JOB, attempt, kind: 'requeued' });

describe('job progress', () => {
  it('moves a Queued generation to InProgress when its job starts', () => {
    expect(applyJobProgress(queued(), started(1), T1)).toMatchObject({
      lastGenerationStatus: 'InProgress',
      updatedAt: T1,
    });
  });

  it('moves it back to Queued when the lease expires and the job is requeued', () => {
    const running = applyJobProgress(queued(), started(1), T1) as Routing;
    expect(applyJobProgress(running, requeued(1), T1)).toMatchObject({ lastGenerationStatus: 'Queued' });
  });

  it('follows attempt after attempt', () => {
    let routing = queued();
    for (const event of [started(1), requeued(1), started(2), requeued(2), started(3)]) {
      routing = applyJobProgress(routing, event, T1) ?? routing;
    }
    expect(routing.lastGenerationStatus).toBe('InProgress');
  });

  it('ignores an expiry that arrives after the next attempt started', () => {
    const second = applyJobProgress(queued(), started(2), T1) as Routing;
    expect(applyJobProgress(second, requeued(1), T1)).toBeUndefined();
  });

  it('ignores a start that arrives after its own expiry', () => {
    const expired = applyJobProgress(queued(), requeued(1), T1) as Routing;
    expect(applyJobProgress(expired, started(1), T1)).toBeUndefined();
  });

  it('ignores the same event twice', () => {
    const running = applyJobProgress(queued(), started(1), T1) as Routing;
    expect(applyJobProgress(running, started(1), T1)).toBeUndefined();
  });

  it.each(['Completed', 'Failed'] as const)('never moves a %s generation backwards', (final) => {
    const done = queued({ lastGenerationStatus: final });
    expect(applyJobProgress(done, started(9), T1)).toBeUndefined();
    expect(applyJobProgress(done, requeued(9), T1)).toBeUndefined();
  });

  it('ignores events of a job that is no longer the routing’s latest', () => {
    expect(applyJobProgress(queued({ lastAddinJobId: 'another-job' }), started(1), T1)).toBeUndefined();
  });

  it('leaves a final expiry to the result command', () => {
    expect(applyJobProgress(queued(), { jobId: JOB, attempt: 5, kind: 'failed' }, T1)).toBeUndefined();
  });
});
