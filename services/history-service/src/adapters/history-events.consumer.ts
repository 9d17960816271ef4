import { CONSUMER_QUEUES } from '@mcms/contracts';
import type { ConsumerQueueSpec, MessageHandler } from '@mcms/messaging';
import { handlerFor } from '@mcms/messaging';
import type { Metrics } from '@mcms/platform';
import { eventMappings, type EventMapping, type HistoryStore } from '../domain/history-entry';
import { recordEvent } from '../domain/record-event';

/** The history's one queue: every event, whoever publishes it. Also the consumer's name. */
export const HISTORY_EVENTS_QUEUE = CONSUMER_QUEUES.historyEvents;

/** The queue bound to the routing key of every event the history maps. */
export function historyEventsQueue(retryDelaysMs: readonly number[]): ConsumerQueueSpec {
  return {
    queue: HISTORY_EVENTS_QUEUE,
    bindings: eventMappings.map(({ definition }) => ({
      exchange: definition.exchange,
      routingKey: definition.routingKey,
    })),
    retryDelaysMs,
  };
}

/**
 * One handler per event type. The consumer has validated the envelope before a handler runs (an
 * invalid one is dead-lettered at once). A database error is not an AppError, so it is retried
 * through the retry tiers: an outage delays the history; one outlasting every tier parks the event
 * in the dead-letter queue, to be replayed. A routing the history has never heard of is fine:
 * events from different services arrive in any order.
 */
export function historyEventHandlers(deps: {
  store: HistoryStore;
  metrics: Metrics;
}): Record<string, MessageHandler> {
  const outcomes = deps.metrics.counter(
    'mcms_history_events_total',
    'Events handled by the history, by type and outcome (recorded, duplicate, ignored)',
    ['type', 'outcome'],
  );
  const handlerOf = (mapping: EventMapping): MessageHandler =>
    handlerFor(mapping.definition, async (event, ctx) => {
      const outcome = await recordEvent(deps.store, mapping, event);
      outcomes.inc({ type: event.type, outcome });
      if (outcome === 'duplicate')
        ctx.log.info({ attempt: ctx.attempt }, 'history entry exists already; event ignored');
      else ctx.log.debug({ outcome }, 'event handled');
    });
  return Object.fromEntries(eventMappings.map((mapping) => [mapping.definition.type, handlerOf(mapping)]));
}
