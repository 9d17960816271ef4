import { createMessage, RoutingGenerationCompleted, RoutingGenerationFailed } from '@mcms/contracts';
import { enqueueOutbox, outgoing, type SqlExecutor } from '@mcms/messaging';
import type { NotificationSink } from '../domain/ports';

/**
 * The NotificationSink of a transaction: the `routing.generation.*` event goes to the outbox with the
 * routing's change, and from there to history and to the notification-service's live alerts.
 */
export function createOutboxNotificationSink(sql: SqlExecutor): NotificationSink {
  return {
    async notify(notification, cause) {
      const origin = {
        correlationId: cause.correlationId,
        causationId: cause.messageId,
        messageId: notification.messageId,
      };
      const message =
        notification.kind === 'completed'
          ? outgoing(
              RoutingGenerationCompleted,
              createMessage(RoutingGenerationCompleted, notification.payload, origin),
            )
          : outgoing(
              RoutingGenerationFailed,
              createMessage(RoutingGenerationFailed, notification.payload, origin),
            );
      await enqueueOutbox(sql, [message]);
    },
  };
}
