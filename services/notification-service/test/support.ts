import { eventually } from '@mcms/testing';
import { randomBytes, randomUUID } from 'node:crypto';
import path from 'node:path';
import {
  AddinJobExpired,
  createMessage,
  Notification,
  NotificationPage,
  RoutingGenerationCompleted,
  RoutingGenerationFailed,
  type MessageDefinition,
  type MessageEnvelope,
  type NotificationClientEvents,
  type NotificationHandshake,
  type NotificationServerEvents,
} from '@mcms/contracts';
import { applyMigrations, createPgPool, pgPoolConfig } from '@mcms/db';
import { connectBroker, outgoing, type Broker } from '@mcms/messaging';
import {
  createJwtAuth,
  createLogger,
  createMetrics,
  startHttpServer,
  type JwtAuth,
  type Metrics,
  type Role,
} from '@mcms/platform';
import { Client, escapeIdentifier } from 'pg';
import { io, type Socket } from 'socket.io-client';
import { buildApp, type NotificationApp, type NotificationAppDeps } from '../src/app';
import type { Pool } from 'pg';
import { notificationTopology } from '../src/topology';

/** Set by Jest's global setup (tests/support/global-setup.ts); the defaults are the local services. */
export const AMQP_URL = process.env.AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672';
export const DATABASE_URL = process.env.DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres';

const MIGRATIONS_DIR = path.resolve(__dirname, '../prisma/migrations');

/**
 * What the replicas of one test share, as in production: a migrated throw-away schema, a topology
 * prefix and a JWT secret. Nothing else.
 */
export interface SharedInfrastructure {
  schema: string;
  prefix: string;
  jwt: JwtAuth;
  /** A token with `roles`, signed with the replicas' secret. */
  token(roles: Role[], options?: { expiresInSeconds?: number }): string;
  /** Deletes the queues and exchanges, drops the schema. Call after every replica stopped. */
  destroy(): Promise<void>;
}

export async function createSharedInfrastructure(): Promise<SharedInfrastructure> {
  const id = randomBytes(4).toString('hex');
  const schema = `test_notification_${id}`;
  const prefix = `t-notification-${id}.`;
  await applyMigrations({ databaseUrl: DATABASE_URL, schema, migrationsDir: MIGRATIONS_DIR });
  const jwt = createJwtAuth({ secret: `notification-test-secret-${randomUUID()}` });
  return {
    schema,
    prefix,
    jwt,
    token: (roles, options) => jwt.sign({ sub: 'olga', roles }, options),
    async destroy() {
      const log = createLogger({ service: 'notification-service-test', level: 'silent' });
      const topology = topologyOf(prefix);
      const broker = await connectBroker({ url: AMQP_URL, topology, log, connectionName: `cleanup-${id}` });
      await broker.withChannel(async (channel) => {
        for (const queue of topology.queues) await channel.deleteQueue(queue.name);
        for (const exchange of topology.exchanges) await channel.deleteExchange(exchange.name);
      });
      await broker.close();
      const client = new Client({ connectionString: DATABASE_URL });
      await client.connect();
      try {
        await client.query(`DROP SCHEMA IF EXISTS ${escapeIdentifier(schema)} CASCADE`);
      } finally {
        await client.end();
      }
    },
  };
}

function topologyOf(prefix: string) {
  return notificationTopology({ prefix, queueType: 'classic', retryDelaysMs: [300] });
}

/** One replica of the real notification-service, in-process, with its own connections and HTTP server. */
export interface RunningNotificationService {
  baseUrl: string;
  pool: Pool;
  broker: Broker;
  metrics: Metrics;
  app: NotificationApp;
  /** Publishes an envelope on the real events exchange, as another service's outbox relay would. */
  publish(envelope: MessageEnvelope, definition: MessageDefinition): Promise<void>;
  stop(): Promise<void>;
}

export async function startNotificationService(
  shared: SharedInfrastructure,
  name = 'replica',
  options: Pick<NotificationAppDeps, 'socketLimits'> = {},
): Promise<RunningNotificationService> {
  const log = createLogger({ service: `notification-service-test-${name}`, level: 'silent' });
  const metrics = createMetrics({ service: 'notification-service', defaultMetrics: false });
  const connection = {
    databaseUrl: DATABASE_URL,
    schema: shared.schema,
    applicationName: `${shared.schema}-${name}`,
  };
  const pool = createPgPool(connection);
  const broker = await connectBroker({
    url: AMQP_URL,
    topology: topologyOf(shared.prefix),
    log,
    metrics,
    connectionName: `${shared.prefix}${name}`,
  });
  const app = buildApp({
    pool,
    broker,
    jwt: shared.jwt,
    log,
    metrics,
    listenClientConfig: pgPoolConfig(connection),
    databaseSchema: shared.schema,
    // Nothing listens there: the page's proxy is not under test here.
    routingWorkerUrl: 'http://127.0.0.1:9',
    historyServiceUrl: 'http://127.0.0.1:9',
    allowDevSignIn: false,
    ...options,
  });
  const http = await startHttpServer(app.http, { port: 0, host: '127.0.0.1', log, closeGraceMs: 1_000 });
  app.attach(http.server);
  await app.start();
  return {
    baseUrl: `http://127.0.0.1:${http.port}`,
    pool,
    broker,
    metrics,
    app,
    publish: (envelope, definition) => broker.publisher.publish(outgoing(definition, envelope)),
    async stop() {
      await app.stop();
      await http.close();
      await broker.close();
      await pool.end();
    },
  };
}

/** A socket.io client that records every `notification` it receives, in order. */
export interface TestClient {
  socket: Socket<NotificationServerEvents, NotificationClientEvents>;
  received: Notification[];
  /** Resolves once `predicate` holds for what was received (checked on each arrival), or throws. */
  waitFor(predicate: (received: Notification[]) => boolean, what: string, timeoutMs?: number): Promise<void>;
  close(): void;
}

/** Connects with `auth` and resolves once connected (rejects with the `connect_error`). */
export async function connectClient(
  baseUrl: string,
  auth: Partial<NotificationHandshake>,
): Promise<TestClient> {
  const socket: Socket<NotificationServerEvents, NotificationClientEvents> = io(baseUrl, {
    auth,
    transports: ['websocket'],
    reconnection: false,
    forceNew: true,
  });
  const received: Notification[] = [];
  const waiters = new Set<() => void>();
  socket.on('notification', (notification) => {
    // Every alert on the wire must match the published contract.
    received.push(Notification.parse(notification));
    for (const check of waiters) check();
  });
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', () => resolve());
    socket.once('connect_error', (err) => {
      socket.close();
      reject(err);
    });
  });
  return {
    socket,
    received,
    waitFor(predicate, what, timeoutMs = 10_000) {
      return new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(
            new Error(`timed out after ${timeoutMs} ms waiting for ${what}; got ids ${idsOf(received)}`),
          );
        }, timeoutMs);
        const check = () => {
          if (!predicate(received)) return;
          clearTimeout(timer);
          waiters.delete(check);
          resolve();
        };
        waiters.add(check);
        check();
      });
    },
    close: () => socket.close(),
  };
}

export function idsOf(notifications: readonly Notification[]): string {
  return notifications.map((n) => n.id).join(',');
}

/** `GET /api/notifications` with a viewer token; the body checked against the contract. */
export async function listNotifications(
  baseUrl: string,
  token: string,
  query: { after?: string; limit?: number } = {},
): Promise<NotificationPage> {
  const search = new URLSearchParams();
  if (query.after !== undefined) search.set('after', query.after);
  if (query.limit !== undefined) search.set('limit', String(query.limit));
  const response = await fetch(`${baseUrl}/api/notifications?${search}`, {
    headers: { authorization: `Bearer ${token}` },
  });
  if (response.status !== 200)
    throw new Error(`GET /api/notifications: ${response.status} ${await response.text()}`);
  return NotificationPage.parse(await response.json());
}

/** Every stored alert after `after`, oldest first (all pages). */
export async function allNotifications(
  baseUrl: string,
  token: string,
  after?: string,
): Promise<Notification[]> {
  const all: Notification[] = [];
  let cursor = after;
  for (;;) {
    const page = await listNotifications(baseUrl, token, { after: cursor, limit: 500 });
    all.push(...page.items);
    if (page.nextCursor === null) return all;
    cursor = page.nextCursor;
  }
}

export { eventually };

export function routingRef(): { routingId: string; routingCode: string } {
  return { routingId: randomUUID(), routingCode: `GT${Math.floor(Math.random() * 1e6)}` };
}

/** A failed generation of a fresh job of `ref`. */
export function failedEvent(ref = routingRef(), message = 'add-in crashed') {
  return createMessage(
    RoutingGenerationFailed,
    { ...ref, jobId: randomUUID(), message, stale: false, failedAt: new Date().toISOString() },
    { correlationId: `corr-${randomUUID()}` },
  );
}

/** A completed generation of a fresh job of `ref`. */
export function completedEvent(ref = routingRef()) {
  return createMessage(
    RoutingGenerationCompleted,
    {
      ...ref,
      jobId: randomUUID(),
      camRevision: '1.1.0',
      previousCamRevision: '1.0.0',
      outputs: [{ path: `${ref.routingCode}/part.nc`, sha256: 'd'.repeat(64), sizeBytes: 42 }],
      stale: false,
      completedAt: new Date().toISOString(),
    },
    { correlationId: `corr-${randomUUID()}` },
  );
}

/** A job expiry of `ref` with `action`. */
export function expiredEvent(action: 'requeued' | 'failed', ref = routingRef()) {
  return createMessage(
    AddinJobExpired,
    { ...ref, jobId: randomUUID(), attempt: 1, action, reason: 'lease expired', deviceId: 'esprit-01' },
    { correlationId: `corr-${randomUUID()}` },
  );
}

/** The sum of a metric's values whose labels include `labels`. */
export async function metricValue(
  metrics: Metrics,
  name: string,
  labels: Record<string, string>,
): Promise<number> {
  const metric = metrics.registry.getSingleMetric(name);
  if (!metric) return 0;
  const { values } = await metric.get();
  return values
    .filter((value) => Object.entries(labels).every(([key, wanted]) => value.labels[key] === wanted))
    .reduce((sum, value) => sum + value.value, 0);
}
