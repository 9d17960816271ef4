import { eventually } from '@mcms/testing';
import { randomBytes, randomUUID } from 'node:crypto';
import path from 'node:path';
import {
  createMessage,
  type MessageDefinition,
  type MessageEnvelope,
  type MessageOf,
  type PayloadOf,
} from '@mcms/contracts';
import { applyMigrations, createPgPool, prismaAdapter } from '@mcms/db';
import type { Pool } from 'pg';
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
import { buildApp, type HistoryApp } from '../src/app';
import { PrismaClient } from '../src/generated/prisma/client';
import { historyTopology } from '../src/topology';

/** Set by Jest's global setup (tests/support/global-setup.ts); the defaults are the local services. */
export const AMQP_URL = process.env.AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672';
export const DATABASE_URL = process.env.DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres';

const MIGRATIONS_DIR = path.resolve(__dirname, '../prisma/migrations');

/**
 * A throw-away schema migrated with the service's own migrations: the pool the service runs on, and a Prisma
 * client for the tests' own reads.
 */
export interface TestDatabase {
  schema: string;
  pool: Pool;
  prisma: PrismaClient;
  /** Disconnects and drops the schema. */
  drop(): Promise<void>;
}

export async function createTestDatabase(): Promise<TestDatabase> {
  const schema = `test_history_${randomBytes(4).toString('hex')}`;
  await applyMigrations({ databaseUrl: DATABASE_URL, schema, migrationsDir: MIGRATIONS_DIR });
  const prisma = new PrismaClient({
    adapter: prismaAdapter({ databaseUrl: DATABASE_URL, schema, applicationName: schema }),
  });
  const pool = createPgPool({ databaseUrl: DATABASE_URL, schema, applicationName: schema });
  return {
    schema,
    pool,
    prisma,
    async drop() {
      await pool.end();
      await prisma.$disconnect();
      await dropSchema(schema);
    },
  };
}

/** The real history-service, in-process, on a schema and a topology prefix of its own. */
export interface RunningHistoryService {
  baseUrl: string;
  schema: string;
  prisma: PrismaClient;
  broker: Broker;
  metrics: Metrics;
  app: HistoryApp;
  /** A token with `roles`, signed with the service's secret. */
  token(roles: Role[], options?: { expiresInSeconds?: number }): string;
  /** Publishes an envelope on the real events exchange, as another service's outbox relay would. */
  publish(envelope: MessageEnvelope, definition: MessageDefinition): Promise<void>;
  /** Stops the service, deletes its queues and exchanges, drops its schema. */
  stop(): Promise<void>;
}

/**
 * Starts the service against the real broker and database: a throw-away schema migrated with the
 * service's own migrations, and a unique topology prefix (classic queues: a dev broker).
 */
export async function startHistoryService(
  options: { retryDelaysMs?: number[]; prefetch?: number } = {},
): Promise<RunningHistoryService> {
  const id = randomBytes(4).toString('hex');
  const { schema, pool, prisma, drop } = await createTestDatabase();
  const log = createLogger({ service: 'history-service-test', level: 'silent' });
  const metrics = createMetrics({ service: 'history-service', defaultMetrics: false });
  const topology = historyTopology({
    prefix: `t-history-${id}.`,
    queueType: 'classic',
    retryDelaysMs: options.retryDelaysMs ?? [1_000],
  });
  const broker = await connectBroker({
    url: AMQP_URL,
    topology,
    log,
    metrics,
    connectionName: `history-service-test-${id}`,
  });
  const jwt: JwtAuth = createJwtAuth({ secret: `history-test-secret-${randomUUID()}` });
  const app = buildApp({
    pool,
    broker,
    jwt,
    log,
    metrics,
    ...(options.prefetch ? { prefetch: options.prefetch } : {}),
  });
  const http = await startHttpServer(app.http, { port: 0, host: '127.0.0.1', log, closeGraceMs: 1_000 });
  await app.start();

  return {
    baseUrl: `http://127.0.0.1:${http.port}`,
    schema,
    prisma,
    broker,
    metrics,
    app,
    token: (roles, tokenOptions) => jwt.sign({ sub: 'tess', roles }, tokenOptions),
    publish: (envelope, definition) => broker.publisher.publish(outgoing(definition, envelope)),
    async stop() {
      await http.close();
      await app.stop();
      // After the consumer stopped, or the broker would see its queue vanish and re-assert it.
      await broker.withChannel(async (channel) => {
        for (const queue of topology.queues) await channel.deleteQueue(queue.name);
        for (const exchange of topology.exchanges) await channel.deleteExchange(exchange.name);
      });
      await broker.close();
      await drop();
    },
  };
}

async function dropSchema(schema: string): Promise<void> {
  const client = new Client({ connectionString: DATABASE_URL });
  await client.connect();
  try {
    await client.query(`DROP SCHEMA IF EXISTS ${escapeIdentifier(schema)} CASCADE`);
  } finally {
    await client.end();
  }
}

/** A valid event with fresh ids unless given; `occurredAt` defaults to now. */
export function eventOf<D extends MessageDefinition>(
  definition: D,
  payload: PayloadOf<D>,
  origin: { messageId?: string; occurredAt?: Date } = {},
): MessageOf<D> {
  return createMessage(definition, payload, { correlationId: `corr-${randomUUID()}`, ...origin });
}

export { eventually };

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

/** Resolves once `mcms_history_events_total` with `labels` has reached `count`. */
export function eventsHandled(
  service: RunningHistoryService,
  labels: { type?: string; outcome?: 'recorded' | 'duplicate' | 'ignored' },
  count: number,
  timeoutMs?: number,
): Promise<number> {
  const filter = Object.fromEntries(
    Object.entries(labels).filter(([, value]) => value !== undefined),
  ) as Record<string, string>;
  return eventually(
    async () => {
      const value = await metricValue(service.metrics, 'mcms_history_events_total', filter);
      return value >= count ? value : undefined;
    },
    `${count} events handled with ${JSON.stringify(labels)}`,
    timeoutMs,
  );
}
