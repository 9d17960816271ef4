import {
  AddinJobExpired,
  AddinJobQueued,
  AddinJobResultCommand,
  AddinJobStarted,
  causedBy,
  createMessage,
  type MessageEnvelope,
  type MessageOrigin,
} from '@mcms/contracts';
import { outgoing, type OutgoingMessage } from '@mcms/messaging';
import type { Job } from '../domain/job';

// Messages about a job follow the flow of the command that created it: same correlation id. Those caused by an
// add-in's HTTP call or by the sweeper have no causing message (causationId null, as the envelope documents).
function originOf(job: Job, now: Date): MessageOrigin {
  return { correlationId: job.correlationId, causationId: null, occurredAt: now };
}

/** `addin-job.queued` for a job just created from `command`. */
export function jobQueued(
  job: Pick<Job, 'jobId' | 'routingId' | 'routingCode' | 'attempt'>,
  command: Pick<MessageEnvelope, 'messageId' | 'correlationId'>,
  now: Date,
): OutgoingMessage {
  const envelope = createMessage(
    AddinJobQueued,
    { jobId: job.jobId, routingId: job.routingId, routingCode: job.routingCode, attempt: job.attempt },
    { ...causedBy(command), occurredAt: now },
  );
  return outgoing(AddinJobQueued, envelope);
}

/** `addin-job.started` for a job an add-in just took. */
export function jobStarted(job: Job, now: Date): OutgoingMessage {
  const envelope = createMessage(
    AddinJobStarted,
    {
      jobId: job.jobId,
      routingId: job.routingId,
      routingCode: job.routingCode,
      attempt: job.attempt,
      deviceId: job.claimedBy ?? '',
      leaseExpiresAt: (job.leaseExpiresAt ?? now).toISOString(),
    },
    originOf(job, now),
  );
  return outgoing(AddinJobStarted, envelope);
}

/** The `AddinJobResultCommand` of a job that just became final (by the add-in or by the sweeper). */
export function jobResult(job: Job, now: Date): OutgoingMessage {
  const envelope = createMessage(
    AddinJobResultCommand,
    {
      jobId: job.jobId,
      routingId: job.routingId,
      resultStatus: job.resultStatus ?? 'failed',
      message: job.message,
      outputs: job.outputs ?? [],
      attempt: job.attempt,
      deviceId: job.claimedBy,
      finishedAt: (job.completedAt ?? now).toISOString(),
    },
    originOf(job, now),
  );
  return outgoing(AddinJobResultCommand, envelope);
}

/**
 * `addin-job.expired`. `attempt` is the attempt that ran out (a requeued job's next attempt is one more);
 * `deviceId` the device whose lease expired, null for a job no add-in took.
 */
export function jobExpired(
  job: Job,
  expiry: { action: 'requeued' | 'failed'; attempt: number; reason: string; deviceId: string | null },
  now: Date,
): OutgoingMessage {
  const envelope = createMessage(
    AddinJobExpired,
    {
      jobId: job.jobId,
      routingId: job.routingId,
      routingCode: job.routingCode,
      attempt: expiry.attempt,
      action: expiry.action,
      reason: expiry.reason,
      deviceId: expiry.deviceId,
    },
    originOf(job, now),
  );
  return outgoing(AddinJobExpired, envelope);
}
