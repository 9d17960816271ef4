import { z } from 'zod';
import { Code, Id, Timestamp } from '../fields';
import { defineRoute, ErrorBody } from './define-route';

const BIGINT_MAX = 9223372036854775807n;

/**
 * A notification's id: the decimal string of a PostgreSQL bigint that only grows, so it is also the
 * cursor (`after`, `lastNotificationId`). A string because JSON numbers lose precision past 2^53.
 */
export const NotificationId = z
  .string()
  .regex(/^(0|[1-9]\d{0,18})$/, 'a notification id: digits, like 42')
  // 19 digits pass the pattern up to 9999999999999999999; PostgreSQL refused those past 2^63 - 1 (a 500).
  .refine(
    (id) => !/^\d+$/.test(id) || BigInt(id) <= BIGINT_MAX,
    `at most ${BIGINT_MAX} (a PostgreSQL bigint)`,
  )
  .describe('Increasing id (decimal string of a bigint); also the cursor');

export const NotificationType = z.enum(['generation.completed', 'generation.failed', 'job.requeued']);
export type NotificationType = z.infer<typeof NotificationType>;

export const NotificationSeverity = z.enum(['info', 'warning', 'error']);
export type NotificationSeverity = z.infer<typeof NotificationSeverity>;

/** One UI alert, stored once per event and delivered over socket.io and `GET /api/notifications`. */
export const Notification = z
  .object({
    id: NotificationId,
    type: NotificationType,
    severity: NotificationSeverity,
    routingId: Id,
    routingCode: Code,
    jobId: Id,
    message: z.string(),
    createdAt: Timestamp,
  })
  .meta({ id: 'Notification' });
export type Notification = z.infer<typeof Notification>;

export const ListNotificationsQuery = z.strictObject({
  /** Only notifications with a greater id; absent = from the first. */
  after: NotificationId.optional(),
  limit: z.coerce.number().int().min(1).max(500).default(100),
});

export const NotificationPage = z
  .object({
    items: z.array(Notification),
    nextCursor: NotificationId.nullable().describe(
      'The `after` of the next page; null when this page reached the newest notification',
    ),
  })
  .meta({ id: 'NotificationPage' });
export type NotificationPage = z.infer<typeof NotificationPage>;

export const notificationRoutes = {
  list: defineRoute({
    method: 'get',
    path: '/api/notifications',
    operationId: 'listNotifications',
    summary: 'Notifications after a cursor, oldest first (for clients that poll)',
    tag: 'notifications',
    auth: 'viewer',
    query: ListNotificationsQuery,
    responses: {
      200: { description: 'One page, oldest first', schema: NotificationPage },
      400: { description: 'Invalid request: every bad field is named', schema: ErrorBody },
      401: { description: 'Missing, invalid or expired token', schema: ErrorBody },
      403: { description: 'The token lacks the viewer role', schema: ErrorBody },
    },
  }),
} as const;
