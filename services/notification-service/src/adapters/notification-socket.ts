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

/** The `connect_error` message of a user who has `maxConnectionsPerUser` open on this replica already. */
export const SOCKET_TOO_MANY_CONNECTIONS = 'too_many_connections';

/** What one replica's socket.io server accepts. */
export interface SocketLimits {
  /** Largest message a client may send (handshake auth, `subscribe`), in bytes; bigger closes it. */
  maxMessageBytes: number;
  /** Time from the transport's connection to a completed handshake. */
  connectTimeoutMs: number;
  /** Open connections per user (token `sub`) on one replica; one more is refused. */
  maxConnectionsPerUser: number;
}

/** Enough for a browser with a few tabs open, far below what would exhaust a replica. */
export const DEFAULT_SOCKET_LIMITS: SocketLimits = Object.freeze({
  maxMessageBytes: 16 * 1024,
  connectTimeoutMs: 10_000,
  maxConnectionsPerUser: 200,
});

/** socket.io's own options for `limits`: pass them to `new Server(…)`. */
export function socketLimitOptions(limits: SocketLimits): {
  maxHttpBufferSize: number;
  connectTimeout: number;
} {
  return { maxHttpBufferSize: limits.maxMessageBytes, connectTimeout: limits.connectTimeoutMs };
}

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
    /** Only `maxConnectionsPerUser` is enforced here; the others go to `new Server` (socketLimitOptions). */
    limits?: Pick<SocketLimits, 'maxConnectionsPerUser'>;
  },
): void {
  const { jwt, store, feed } = deps;
  const maxPerUser = deps.limits?.maxConnectionsPerUser ?? DEFAULT_SOCKET_LIMITS.maxConnectionsPerUser;
  const openByUser = new Map<string, number>();
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
    // Counted on connection, checked here: two handshakes at the same instant may both pass, never more.
    if ((openByUser.get(user) ?? 0) >= maxPerUser) {
      log.warn({ user, maxPerUser }, 'socket refused: too many connections for this user');
      next(new Error(SOCKET_TOO_MANY_CONNECTIONS));
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
    openByUser.set(user, (openByUser.get(user) ?? 0) + 1);
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
      const open = (openByUser.get(user) ?? 1) - 1;
      if (open > 0) openByUser.set(user, open);
      else openByUser.delete(user);
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
