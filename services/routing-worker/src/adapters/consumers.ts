import { AddinJobExpired, AddinJobResultCommand, AddinJobStarted, type MessageOf } from '@mcms/contracts';
import { handlerFor, type BatchItem, type ConsumeOptions, type HandlerContext } from '@mcms/messaging';
import type { Metrics } from '@mcms/platform';
import {
  applyJobProgressEvent,
  applyJobProgressEvents,
  applyJobResult,
  applyJobResults,
  type BatchResultOutcome,
  type JobResultDeps,
  type ProgressOutcome,
  type ResultOutcome,
} from '../application/job-result-use-cases';
import { PROGRESS_QUEUE, RESULTS_QUEUE } from './topology';

type ResultCommand = MessageOf<typeof AddinJobResultCommand>;

/** How `routing-worker.addin-job-results` is consumed: its handler, and the batches that apply most results. */
export function jobResultConsumption(
  deps: JobResultDeps & { metrics?: Metrics },
  batch: { maxMessages: number; maxWaitMs: number; maxConcurrent?: number },
): Pick<ConsumeOptions, 'handlers' | 'batch'> {
  const results = deps.metrics?.counter(
    'mcms_routing_generation_results_total',
    'Add-in job results handled, by outcome',
    ['outcome'],
  );
  const report = (message: ResultCommand, ctx: HandlerContext, outcome: ResultOutcome): void => {
    const { jobId, routingId } = message.payload;
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
  };
  return {
    handlers: {
      [AddinJobResultCommand.type]: handlerFor(AddinJobResultCommand, async (message, ctx) => {
        const outcome = await applyJobResult(deps, message, {
          consumer: RESULTS_QUEUE,
          messageId: message.messageId,
        });
        report(message, ctx, outcome);
      }),
    },
    batch: {
      ...batch,
      async handle(items) {
        // The queue has no other handler, so every validated message is a result command.
        const commands = items.map((item) => item.message as ResultCommand);
        const outcomes = await applyJobResults(deps, commands, RESULTS_QUEUE);
        const alone: BatchItem[] = [];
        items.forEach((item, i) => {
          const outcome = outcomes[i] as BatchResultOutcome;
          if (outcome.kind === 'alone') alone.push(item);
          else report(commands[i] as ResultCommand, item.ctx, outcome);
        });
        return alone;
      },
    },
  };
}

type ProgressEvent = MessageOf<typeof AddinJobStarted> | MessageOf<typeof AddinJobExpired>;

/** How `routing-worker.job-progress` is consumed: its handlers, and batches of events in one transaction. */
export function jobProgressConsumption(
  deps: Pick<JobResultDeps, 'store' | 'clock'>,
  batch: { maxMessages: number; maxWaitMs: number; maxConcurrent?: number },
): Pick<ConsumeOptions, 'handlers' | 'batch'> {
  const report = (event: ProgressEvent, ctx: HandlerContext, outcome: ProgressOutcome): void => {
    const { jobId, routingId, attempt } = event.payload;
    // Progress only decorates the routing's status; the result command is what matters, so an event
    // for a routing we don't know is logged rather than parked.
    if (outcome === 'unknown-routing')
      ctx.log.warn({ jobId, routingId }, 'progress of a job for an unknown routing ignored');
    else ctx.log.info({ jobId, routingId, attempt, outcome }, 'job progress handled');
  };
  const handle = async (event: ProgressEvent, ctx: HandlerContext) => {
    const outcome = await applyJobProgressEvent(deps, event, {
      consumer: PROGRESS_QUEUE,
      messageId: event.messageId,
    });
    report(event, ctx, outcome);
  };
  return {
    handlers: {
      [AddinJobStarted.type]: handlerFor(AddinJobStarted, handle),
      [AddinJobExpired.type]: handlerFor(AddinJobExpired, handle),
    },
    batch: {
      ...batch,
      async handle(items) {
        // The queue's only handlers are the two progress events, so every validated message is one.
        const events = items.map((item) => item.message as ProgressEvent);
        const outcomes = await applyJobProgressEvents(deps, events, PROGRESS_QUEUE);
        items.forEach((item, i) =>
          report(events[i] as ProgressEvent, item.ctx, outcomes[i] as ProgressOutcome),
        );
      },
    },
  };
}
