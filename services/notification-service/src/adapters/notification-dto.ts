import type { Notification } from '@mcms/contracts';
import type { Alert } from '../domain/alert';

/** The wire form of an alert: the bigint id as a decimal string (JSON numbers stop at 2^53). */
export function toNotificationDto(alert: Alert): Notification {
  return { ...alert, id: alert.id.toString(), createdAt: alert.createdAt.toISOString() };
}
