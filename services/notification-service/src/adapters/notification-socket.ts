import {
  NotificationHandshake,
  SOCKET_UNAUTHORIZED,
  SubscribeRequest,
  type NotificationClientEvents,
  type NotificationServerEvents,
  type SubscribeAck,
} from '@mcms/contracts';
import { requireRole, type JwtAuth, type Logger, type Metrics } from '@mcms/platform';
import type { Server, Socket } from 'socket.io';
import type { Alert, AlertStore } from '../domain/alert';
import { createSubscriber, type Subscriber } from '../domain/subscriber';
import type { AlertFeed } from './pg-alert-feed';
import { toNotificationDto } from './notification-dto';

interface SocketData {
  user: string;
  lastNotificationId: bigint | undefined;
}

/** The socket.io server of notification-service, typed by the contract's event maps. */
export type NotificationServer = Server<
  NotificationClientEvents,
  NotificationServerEvents,
  Record<string, never>,
  SocketData
>;
type NotificationSocket = Socket<
  NotificationClientEvents,
  NotificationServerEvents,
  Record<string, never>,
  SocketData
>;

/** The `connect_error` message of a valid token with an unreadable `lastNotificationId`. */
export const SOCKET_INVALID_HANDSHAKE = 'invalid_handshake';

/**
 * Serves alerts to socket.io clients: handshake with the HTTP APIs' JWT (viewer or above), replay of
 * every alert after `lastNotificationId`, then live alerts from this replica's feed; `subscribe`
 * narrows one connection to one routing. The seam between replay and live is the domain's
 * {@link createSubscriber}.
 */
export function serveNotificationSocket(
  io: NotificationServer,
  deps: {
    jwt: JwtAuth;
    store: AlertStore;
    feed: AlertFeed;
    log: Logger;
    metrics: Metrics;
    /** Alerts per replay query. Default 500. */
    replayPageSize?: number;
  },
): void {
  const { jwt, store, feed } = deps;
  const log = deps.log.child({ component: 'notification-socket' });
  const pageSize = deps.replayPageSize ?? 500;
  const connected = deps.metrics.gauge('mcms_notification_sockets', 'Connected socket.io clients');
  const emitted = deps.metrics.counter(
    'mcms_notifications_emitted_total',
    'Alerts sent to socket.io clients, by how (replay, live)',
    ['via'],
  );
  const subscribers = new Map<NotificationSocket, Subscriber>();

  io.use((socket, next) => {
    const auth: unknown = socket.handshake.auth;
    const token = typeof auth === 'object' && auth !== null ? (auth as { token?: unknown }).token : undefined;
    let user: string;
    try {
      if (typeof token !== 'string' || token === '') throw new Error('no token');
      const principal = jwt.verify(token);
      requireRole(principal, 'viewer');
      user = principal.name;
    } catch {
      // One message for every refusal: the client's answer is the same (sign in again), and the
      // reason is not for an unauthenticated caller to probe.
      next(new Error(SOCKET_UNAUTHORIZED));
      return;
    }
    const handshake = NotificationHandshake.safeParse(auth);
    if (!handshake.success) {
      next(new Error(SOCKET_INVALID_HANDSHAKE));
      return;
    }
    const { lastNotificationId } = handshake.data;
    socket.data = {
      user,
      lastNotificationId: lastNotificationId === undefined ? undefined : BigInt(lastNotificationId),
    };
    next();
  });

  function send(socket: NotificationSocket, alerts: readonly Alert[], via: 'replay' | 'live'): void {
    for (const alert of alerts) socket.emit('notification', toNotificationDto(alert));
    if (alerts.length > 0) emitted.inc({ via }, alerts.length);
  }

  feed.onAlerts((alerts) => {
    for (const [socket, subscriber] of subscribers) send(socket, subscriber.live(alerts), 'live');
  });

  async function replay(socket: NotificationSocket, subscriber: Subscriber): Promise<void> {
    let failures = 0;
    for (;;) {
      if (socket.disconnected) return;
      try {
        const page = await store.listAfter(subscriber.lastSentId, pageSize);
        send(socket, subscriber.replayed(page), 'replay');
        if (page.length < pageSize) break;
      } catch (err) {
        // Live alerts stay held back meanwhile: giving up here would open a gap, so try again.
        failures += 1;
        const delay = Math.min(5_000, 100 * 2 ** Math.min(failures - 1, 6));
        log.warn({ err, socketId: socket.id, retryInMs: delay }, 'replay failed; retrying');
        await new Promise((resolve) => setTimeout(resolve, delay));
      }
    }
    send(socket, subscriber.endReplay(), 'live');
  }

  io.on('connection', (socket) => {
    const { lastNotificationId, user } = socket.data;
    const subscriber = createSubscriber({
      lastSeenId: lastNotificationId ?? feed.cursor,
      replay: lastNotificationId !== undefined,
    });
    subscribers.set(socket, subscriber);
    connected.inc();
    log.debug(
      { socketId: socket.id, user, lastNotificationId: lastNotificationId?.toString() },
      'client connected',
    );

    socket.on('subscribe', (request: unknown, ack: unknown) => {
      const parsed = SubscribeRequest.safeParse(request);
      const answer: SubscribeAck = parsed.success
        ? { ok: true }
        : { ok: false, error: 'expected { routingId: <uuid> }' };
      if (parsed.success) subscriber.subscribe(parsed.data.routingId);
      if (typeof ack === 'function') (ack as (result: SubscribeAck) => void)(answer);
    });
    socket.on('disconnect', () => {
      subscribers.delete(socket);
      connected.dec();
    });

    if (subscriber.replaying) {
      replay(socket, subscriber).catch((err: unknown) => {
        log.error({ err, socketId: socket.id }, 'replay crashed; disconnecting the client');
        socket.disconnect(true);
      });
    }
  });
}
