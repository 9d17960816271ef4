import { createMessage, RoutingGenerationCompleted, RoutingGenerationFailed } from '@mcms/contracts';
import { enqueueOutbox, outgoing, type OutgoingMessage, type SqlExecutor } from '@mcms/messaging';
import type { GenerationNotification } from '../domain/generation';
import type { NotificationCause, NotificationSink } from '../domain/ports';

/**
 * The NotificationSink of a transaction: the `routing.generation.*` event goes to the outbox with the
 * routing's change, and from there to history and to the notification-service's live alerts.
 */
export function createOutboxNotificationSink(sql: SqlExecutor): NotificationSink {
  const sink: NotificationSink = {
    async notify(notification, cause) {
      await sink.notifyAll([{ notification, cause }]);
    },
    async notifyAll(notifications) {
      if (notifications.length === 0) return;
      await enqueueOutbox(
        sql,
        notifications.map(({ notification, cause }) => generationEvent(notification, cause)),
      );
    },
  };
  return sink;
}

function generationEvent(notification: GenerationNotification, cause: NotificationCause): OutgoingMessage {
  const origin = {
    correlationId: cause.correlationId,
    causationId: cause.messageId,
    messageId: notification.messageId,
  };
  return notification.kind === 'completed'
    ? outgoing(
        RoutingGenerationCompleted,
        createMessage(RoutingGenerationCompleted, notification.payload, origin),
      )
    : outgoing(RoutingGenerationFailed, createMessage(RoutingGenerationFailed, notification.payload, origin));
}
