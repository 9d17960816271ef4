import { AddinJobExpired, AddinJobResultCommand, AddinJobStarted } from '@mcms/contracts';
import { handlerFor, type ConsumeOptions, type HandlerContext } from '@mcms/messaging';
import type { Metrics } from '@mcms/platform';
import {
  applyJobProgressEvent,
  applyJobResult,
  type JobResultDeps,
} from '../application/job-result-use-cases';
import { PROGRESS_QUEUE, RESULTS_QUEUE } from './topology';

/** The handlers of `routing-worker.addin-job-results`; the inbox consumer is the queue's name. */
export function jobResultHandlers(deps: JobResultDeps & { metrics?: Metrics }): ConsumeOptions['handlers'] {
  const results = deps.metrics?.counter(
    'mcms_routing_generation_results_total',
    'Add-in job results handled, by outcome',
    ['outcome'],
  );
  return {
    [AddinJobResultCommand.type]: handlerFor(AddinJobResultCommand, async (message, ctx) => {
      const { jobId, routingId } = message.payload;
      const outcome = await applyJobResult(deps, message, {
        consumer: RESULTS_QUEUE,
        messageId: message.messageId,
      });
      const label =
        outcome.kind !== 'applied'
          ? outcome.kind
          : outcome.decision.stale
            ? 'stale'
            : outcome.decision.generationStatus.toLowerCase();
      results?.inc({ outcome: label });
      ctx.log.info(
        outcome.kind === 'applied'
          ? { jobId, routingId, outcome: label, camRevision: outcome.decision.camRevisionAfter }
          : { jobId, routingId, outcome: label },
        'job result handled',
      );
    }),
  };
}

/** The handlers of `routing-worker.job-progress`. */
export function jobProgressHandlers(
  deps: Pick<JobResultDeps, 'store' | 'clock'>,
): ConsumeOptions['handlers'] {
  const handle = async (message: Parameters<typeof applyJobProgressEvent>[1], ctx: HandlerContext) => {
    const { jobId, routingId, attempt } = message.payload;
    const outcome = await applyJobProgressEvent(deps, message, {
      consumer: PROGRESS_QUEUE,
      messageId: message.messageId,
    });
    // Progress only decorates the routing's status; the result command is what matters, so an event
    // for a routing we don't know is logged rather than parked.
    if (outcome === 'unknown-routing')
      ctx.log.warn({ jobId, routingId }, 'progress of a job for an unknown routing ignored');
    else ctx.log.info({ jobId, routingId, attempt, outcome }, 'job progress handled');
  };
  return {
    [AddinJobStarted.type]: handlerFor(AddinJobStarted, handle),
    [AddinJobExpired.type]: handlerFor(AddinJobExpired, handle),
  };
}
