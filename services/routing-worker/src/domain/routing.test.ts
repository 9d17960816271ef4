import { isAppError } from '@mcms/platform';
import {
  approve,
  createRouting,
  generationParameters,
  regenerate,
  reject,
  requestApproval,
  routingFolder,
  type Routing,
  type RoutingStatus,
} from './routing';

const T0 = new Date('2026-01-05T08:00:00.000Z');
const T1 = new Date('2026-01-05T09:00:00.000Z');
const JOB = '7d9a3d1e-0c4b-4f57-9b55-2f5d0f3a6c11';

function draft(): Routing {
  return createRouting(
    {
      id: 'b1e8c7a2-4d0f-4a8e-9c1b-1f2e3d4c5b6a',
      routingCode: 'GT310001',
      itemCode: 'ITEM-7',
      revisionCode: 'B',
    },
    T0,
  );
}

function inStatus(status: RoutingStatus, extra: Partial<Routing> = {}): Routing {
  return { ...draft(), status, ...extra };
}

function conflictOf(fn: () => unknown): { code: string; details: unknown } {
  try {
    fn();
  } catch (err) {
    if (isAppError(err) && err.httpStatus === 409) return { code: err.code, details: err.details };
    throw err;
  }
  throw new Error('expected a 409');
}

describe('routing transitions', () => {
  it('creates a Draft routing at CAM revision 1.0.0 with no generation yet', () => {
    expect(draft()).toEqual({
      id: 'b1e8c7a2-4d0f-4a8e-9c1b-1f2e3d4c5b6a',
      routingCode: 'GT310001',
      itemCode: 'ITEM-7',
      revisionCode: 'B',
      status: 'Draft',
      camRevision: '1.0.0',
      lastAddinJobId: null,
      lastGenerationStatus: null,
      lastGenerationMessage: null,
      lastGeneratedAt: null,
      lastOutputDigest: null,
      generationProgress: 0,
      createdAt: T0,
      updatedAt: T0,
    });
  });

  it.each(['Draft', 'Rejected'] as const)('requests approval from %s', (status) => {
    expect(requestApproval(inStatus(status), T1)).toMatchObject({ status: 'PendingApproval', updatedAt: T1 });
  });

  it.each(['PendingApproval', 'Approved'] as const)(
    'refuses to request approval from %s with a 409',
    (status) => {
      expect(conflictOf(() => requestApproval(inStatus(status), T1))).toEqual({
        code: 'invalid_routing_transition',
        details: { status, action: 'request-approval' },
      });
    },
  );

  it('approves a PendingApproval routing and queues its generation job', () => {
    const approved = approve(inStatus('PendingApproval', { generationProgress: 5 }), { jobId: JOB, now: T1 });
    expect(approved).toMatchObject({
      status: 'Approved',
      lastAddinJobId: JOB,
      lastGenerationStatus: 'Queued',
      lastGenerationMessage: null,
      generationProgress: 0,
      updatedAt: T1,
    });
  });

  it.each(['Draft', 'Approved', 'Rejected'] as const)('refuses to approve from %s with a 409', (status) => {
    expect(conflictOf(() => approve(inStatus(status), { jobId: JOB, now: T1 })).code).toBe(
      'invalid_routing_transition',
    );
  });

  it('rejects only a PendingApproval routing', () => {
    expect(reject(inStatus('PendingApproval'), T1)).toMatchObject({ status: 'Rejected', updatedAt: T1 });
    for (const status of ['Draft', 'Approved', 'Rejected'] as const) {
      expect(conflictOf(() => reject(inStatus(status), T1)).code).toBe('invalid_routing_transition');
    }
  });

  it.each(['Completed', 'Failed'] as const)(
    'regenerates an Approved routing whose last generation %s',
    (last) => {
      const routing = inStatus('Approved', {
        lastAddinJobId: 'old',
        lastGenerationStatus: last,
        lastGenerationMessage: 'x',
      });
      expect(regenerate(routing, { jobId: JOB, now: T1 })).toMatchObject({
        status: 'Approved',
        lastAddinJobId: JOB,
        lastGenerationStatus: 'Queued',
        lastGenerationMessage: null,
      });
    },
  );

  it.each(['Queued', 'InProgress'] as const)('refuses to regenerate while a job is %s', (running) => {
    const routing = inStatus('Approved', { lastAddinJobId: 'old', lastGenerationStatus: running });
    expect(conflictOf(() => regenerate(routing, { jobId: JOB, now: T1 }))).toEqual({
      code: 'generation_in_progress',
      details: { status: 'Approved', lastGenerationStatus: running, action: 'regenerate' },
    });
  });

  it.each(['Draft', 'PendingApproval', 'Rejected'] as const)(
    'refuses to regenerate a %s routing',
    (status) => {
      expect(conflictOf(() => regenerate(inStatus(status), { jobId: JOB, now: T1 })).code).toBe(
        'invalid_routing_transition',
      );
    },
  );

  it('places a routing in <item>/<revision>/Routings/<code> and tells the add-in so', () => {
    const routing = draft();
    expect(routingFolder(routing)).toEqual(['ITEM-7', 'B', 'Routings', 'GT310001']);
    expect(generationParameters(routing)).toEqual({
      routingId: routing.id,
      routingCode: 'GT310001',
      itemCode: 'ITEM-7',
      revisionCode: 'B',
      camRevision: '1.0.0',
      outputFolder: 'ITEM-7/B/Routings/GT310001',
    });
  });
});
