import { z } from 'zod';
import { Id } from './fields';
import { Notification, NotificationId } from './http/notifications';

/**
 * The socket.io handshake of notification-service (`io(url, { auth })`): the same JWT as the HTTP
 * APIs (viewer or above), and the id of the last notification the client showed, to resume from.
 * A refused handshake ends in `connect_error` with the message {@link SOCKET_UNAUTHORIZED}.
 */
export const NotificationHandshake = z.object({
  token: z.string().min(1),
  lastNotificationId: z
    .union([NotificationId, z.number().int().min(0).max(Number.MAX_SAFE_INTEGER)])
    .transform(String)
    .optional(),
});
export type NotificationHandshake = z.input<typeof NotificationHandshake>;

/** The `connect_error` message of a handshake without a valid viewer token. */
export const SOCKET_UNAUTHORIZED = 'unauthorized';

/** Client → server `subscribe`: narrow this connection to one routing's notifications. */
export const SubscribeRequest = z.object({ routingId: Id });
export type SubscribeRequest = z.infer<typeof SubscribeRequest>;

/** The ack of `subscribe`. */
export const SubscribeAck = z.discriminatedUnion('ok', [
  z.object({ ok: z.literal(true) }),
  z.object({ ok: z.literal(false), error: z.string() }),
]);
export type SubscribeAck = z.infer<typeof SubscribeAck>;

/** Server → client events (socket.io `ServerToClientEvents`). */
export interface NotificationServerEvents {
  /** One alert; on connect with `lastNotificationId`, every newer one first, in id order. */
  notification: (notification: Notification) => void;
}

/** Client → server events (socket.io `ClientToServerEvents`). */
export interface NotificationClientEvents {
  subscribe: (request: SubscribeRequest, ack: (result: SubscribeAck) => void) => void;
}
