import {
  AddinJobExpired,
  createMessage,
  RoutingGenerationCompleted,
  RoutingGenerationFailed,
} from '@mcms/contracts';
import { alertFromEvent } from './alert';

const ref = {
  routingId: '0b7e7c3e-51c5-4d43-9a36-5d1c2b0a8f10',
  routingCode: 'GT1001',
  jobId: '6f1c7a4d-8a51-4f0b-9d6e-2c3b4a5d6e7f',
};
const origin = {
  correlationId: 'corr-1',
  messageId: 'a3d2c1b0-1234-4abc-8def-0123456789ab',
  occurredAt: new Date('2026-11-28T10:00:05.000Z'),
};
const sha = 'c'.repeat(64);

function completed(stale: boolean) {
  return createMessage(
    RoutingGenerationCompleted,
    {
      ...ref,
      camRevision: '1.1.0',
      previousCamRevision: '1.0.0',
      outputs: [
        { path: 'GT1001/a.nc', sha256: sha, sizeBytes: 10 },
        { path: 'GT1001/b.nc', sha256: sha, sizeBytes: 20 },
      ],
      stale,
      completedAt: '2026-11-28T10:00:04.000Z',
    },
    origin,
  );
}

function failed(stale: boolean, message = 'license server unreachable') {
  return createMessage(
    RoutingGenerationFailed,
    { ...ref, message, stale, failedAt: '2026-11-28T10:00:03.000Z' },
    origin,
  );
}

function expired(action: 'requeued' | 'failed') {
  return createMessage(
    AddinJobExpired,
    { ...ref, attempt: 2, action, reason: 'lease expired', deviceId: 'esprit-07' },
    origin,
  );
}

it('raises an info alert for a completed generation, with the revisions and the file count', () => {
  expect(alertFromEvent(completed(false))).toEqual({
    eventId: origin.messageId,
    type: 'generation.completed',
    severity: 'info',
    ...ref,
    message: 'Generation of GT1001 completed: CAM revision 1.0.0 → 1.1.0, 2 output files',
    createdAt: new Date('2026-11-28T10:00:04.000Z'),
  });
});

it('raises an error alert for a failed generation, with the add-in message', () => {
  expect(alertFromEvent(failed(false))).toEqual({
    eventId: origin.messageId,
    type: 'generation.failed',
    severity: 'error',
    ...ref,
    message: 'Generation of GT1001 failed: license server unreachable',
    createdAt: new Date('2026-11-28T10:00:03.000Z'),
  });
});

it('says so when the add-in gave no message for a failure', () => {
  expect(alertFromEvent(failed(false, '  '))?.message).toBe(
    'Generation of GT1001 failed: no message from the add-in',
  );
});

it('downgrades a stale result of either kind to a warning that says it is stale', () => {
  for (const event of [completed(true), failed(true)]) {
    const alert = alertFromEvent(event);
    expect(alert?.severity).toBe('warning');
    expect(alert?.message).toMatch(/\(stale: a newer job is the routing's latest/);
  }
  expect(alertFromEvent(completed(true))?.type).toBe('generation.completed');
  expect(alertFromEvent(failed(true))?.type).toBe('generation.failed');
});

it('raises a warning for a job requeued by expiry, at the time of the event', () => {
  expect(alertFromEvent(expired('requeued'))).toEqual({
    eventId: origin.messageId,
    type: 'job.requeued',
    severity: 'warning',
    ...ref,
    message: 'Job for GT1001 requeued after attempt 2: lease expired (device esprit-07)',
    createdAt: origin.occurredAt,
  });
});

it('raises nothing for an expiry that failed the job, since the generation failure that follows does', () => {
  expect(alertFromEvent(expired('failed'))).toBeUndefined();
});
