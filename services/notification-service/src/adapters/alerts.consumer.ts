import {
  AddinJobExpired,
  CONSUMER_QUEUES,
  RoutingGenerationCompleted,
  RoutingGenerationFailed,
  type MessageDefinition,
} from '@mcms/contracts';
import {
  handlerFor,
  type ConsumerQueueSpec,
  type HandlerContext,
  type MessageHandler,
} from '@mcms/messaging';
import type { Metrics } from '@mcms/platform';
import { alertFromEvent, type AlertEvent, type AlertStore } from '../domain/alert';

/**
 * The durable queue that stores alerts. Replicas compete on it, so each event is stored by one of
 * them; every replica then sees the stored alert through its live feed. Also the consumer's name.
 */
export const ALERTS_QUEUE = CONSUMER_QUEUES.notificationAlerts;

const ALERT_EVENTS: readonly MessageDefinition[] = [
  RoutingGenerationCompleted,
  RoutingGenerationFailed,
  AddinJobExpired,
];

export function alertsQueue(retryDelaysMs: readonly number[]): ConsumerQueueSpec {
  return {
    queue: ALERTS_QUEUE,
    bindings: ALERT_EVENTS.map((definition) => ({
      exchange: definition.exchange,
      routingKey: definition.routingKey,
    })),
    retryDelaysMs,
  };
}

/**
 * One handler per event. The consumer validated the envelope already (an invalid one is dead-lettered
 * at once). A database error is not an AppError, so it is retried through the retry tiers: an alert
 * is late during an outage, never dropped; one outlasting every tier is parked in the DLQ to replay.
 * No inbox table: the alert's unique `event_id` makes the insert itself idempotent.
 */
export function alertEventHandlers(deps: {
  store: AlertStore;
  metrics: Metrics;
}): Record<string, MessageHandler> {
  const outcomes = deps.metrics.counter(
    'mcms_notification_events_total',
    'Events handled by notification-service, by type and outcome (stored, duplicate, ignored)',
    ['type', 'outcome'],
  );
  const handle = async (event: AlertEvent, ctx: HandlerContext): Promise<void> => {
    const alert = alertFromEvent(event);
    if (alert === undefined) {
      outcomes.inc({ type: event.type, outcome: 'ignored' });
      return;
    }
    const stored = await deps.store.append(alert);
    outcomes.inc({ type: event.type, outcome: stored ? 'stored' : 'duplicate' });
    if (stored) ctx.log.info({ notificationId: String(stored.id), jobId: alert.jobId }, 'alert stored');
    else ctx.log.info({ jobId: alert.jobId }, 'alert exists already; event ignored');
  };
  return {
    [RoutingGenerationCompleted.type]: handlerFor(RoutingGenerationCompleted, handle),
    [RoutingGenerationFailed.type]: handlerFor(RoutingGenerationFailed, handle),
    [AddinJobExpired.type]: handlerFor(AddinJobExpired, handle),
  };
}
