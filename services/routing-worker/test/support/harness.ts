import { eventually } from '@mcms/testing';
import { randomBytes, randomUUID } from 'node:crypto';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  AddinJobResultCommand,
  commands,
  createMessage,
  events,
  EXCHANGES,
  type PayloadOf,
  type UnknownEnvelope,
} from '@mcms/contracts';
import { applyMigrations, pgPoolConfig, prismaAdapter } from '@mcms/db';
import {
  connectBroker,
  defineTopology,
  handlerFor,
  outgoing,
  startOutboxRelay,
  type Broker,
  type ConsumeOptions,
  type OutboxRelay,
} from '@mcms/messaging';
import {
  createJwtAuth,
  createLogger,
  createMetrics,
  DEV_JWT_SECRET,
  startHttpServer,
  type Metrics,
  type Role,
  type RunningHttpServer,
} from '@mcms/platform';
import { Client, escapeIdentifier, Pool } from 'pg';
import { buildApp, type RoutingWorkerApp } from '../../src/app';
import { createFsSharedDrive, type FsSharedDrive } from '../../src/adapters/fs-shared-drive';
import { routingWorkerTopology } from '../../src/adapters/topology';
import type { Routing as RoutingDto } from '@mcms/contracts';
import { PrismaClient } from '../../src/generated/prisma/client';

const AMQP_URL = process.env.AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672';
const DATABASE_URL = process.env.DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres';
const OBSERVER_QUEUE = 'test.observer';
const MIGRATIONS_DIR = path.resolve(__dirname, '../../prisma/migrations');

/** One message the observer saw on either exchange. */
export interface Observed {
  routingKey: string;
  envelope: UnknownEnvelope & { payload: Record<string, unknown> };
}

/** The routing-worker running in-process against the real broker and database, isolated for one test file. */
export interface Harness {
  baseUrl: string;
  prisma: PrismaClient;
  broker: Broker;
  metrics: Metrics;
  /** The shared drive's root (a temp dir): `<root>/<item>/<revision>/Routings/<code>/`. */
  sharedDriveRoot: string;
  /** Every message published on the test's exchanges, in arrival order. */
  observed: Observed[];
  token(roles: readonly string[], options?: { sub?: string; expiresInSeconds?: number }): string;
  request(
    method: string,
    url: string,
    options?: { roles?: readonly string[] | null; token?: string; body?: unknown },
    // The tests assert on the body's shape (or parse it with the contract's schemas); typing it would only add casts.
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
  ): Promise<{ status: number; body: any }>;
  /** Waits for the first observed message matching `predicate`. */
  waitForMessage(predicate: (m: Observed) => boolean, what: string, timeoutMs?: number): Promise<Observed>;
  /**
   * Makes a routing Draft → PendingApproval → Approved through the API; returns it with its job id.
   * `code` defaults to a unique routing code.
   */
  approvedRouting(code?: string): Promise<RoutingDto & { lastAddinJobId: string }>;
  /** Writes files into the routing's folder on the shared drive; returns them as the add-in reports outputs. */
  writeOutputs(
    routing: RoutingDto,
    files: Record<string, string>,
  ): Promise<Array<{ path: string; sha256: string; sizeBytes: number }>>;
  routingFolder(routing: RoutingDto): string;
  /** Publishes an AddinJobResultCommand (as the gateway would); returns the envelope. */
  publishResult(
    payload: Partial<PayloadOf<typeof AddinJobResultCommand>> & { jobId: string; routingId: string },
  ): Promise<UnknownEnvelope>;
  /** Publishes an envelope again, as it was (a redelivery of the very same message). */
  republish(envelope: UnknownEnvelope, exchange?: (typeof EXCHANGES)[keyof typeof EXCHANGES]): Promise<void>;
  getRouting(id: string): Promise<RoutingDto>;
  /** Polls the routing until `predicate` holds. */
  waitForRouting(
    id: string,
    predicate: (r: RoutingDto) => boolean,
    what: string,
    timeoutMs?: number,
  ): Promise<RoutingDto>;
  /** The value of a counter with these labels (0 when never incremented). */
  counter(name: string, labels: Record<string, string>): Promise<number>;
  close(): Promise<void>;
}

export { eventually };

export function sha256(content: string): string {
  return createHash('sha256').update(content).digest('hex');
}

/** Options of {@link startHarness}. */
export interface HarnessOptions {
  retryDelaysMs?: number[];
  /** The service's clock; real time by default. */
  clock?: () => Date;
}

export async function startHarness(options: HarnessOptions = {}): Promise<Harness> {
  const cleanups: Array<() => Promise<unknown> | unknown> = [];
  try {
    return await build(options, cleanups);
  } catch (err) {
    // Half-started: undo what exists, so a failed start leaks no queues, schemas or connections.
    for (const cleanup of cleanups.splice(0).reverse())
      await Promise.resolve()
        .then(cleanup)
        .catch(() => undefined);
    throw err;
  }
}

async function build(
  options: HarnessOptions,
  cleanups: Array<() => Promise<unknown> | unknown>,
): Promise<Harness> {
  const id = randomBytes(5).toString('hex');
  const prefix = `t-rw-${id}.`;
  const schema = `t_rw_${id}`;
  const log = createLogger({
    service: 'routing-worker-test',
    level: process.env.TEST_LOG_LEVEL === undefined ? 'silent' : (process.env.TEST_LOG_LEVEL as 'info'),
  });
  const metrics = createMetrics({ service: 'routing-worker', defaultMetrics: false });

  const base = await mkdtemp(path.join(tmpdir(), 'rw-component-'));
  cleanups.push(() => rm(base, { recursive: true, force: true }));
  const sharedDriveRoot = path.join(base, 'MCMS');
  await mkdir(sharedDriveRoot);

  await applyMigrations({ databaseUrl: DATABASE_URL, schema, migrationsDir: MIGRATIONS_DIR });
  cleanups.push(async () => {
    const client = new Client({ connectionString: DATABASE_URL });
    await client.connect();
    try {
      await client.query(`DROP SCHEMA ${escapeIdentifier(schema)} CASCADE`);
    } finally {
      await client.end();
    }
  });
  const prisma = new PrismaClient({
    adapter: prismaAdapter({ databaseUrl: DATABASE_URL, schema, max: 3, applicationName: schema }),
  });
  const pool = new Pool(
    pgPoolConfig({ databaseUrl: DATABASE_URL, schema, applicationName: `${schema}-pg`, max: 11 }),
  );
  pool.on('error', () => undefined);
  cleanups.push(
    () => pool.end(),
    () => prisma.$disconnect(),
  );

  const service = routingWorkerTopology({
    prefix,
    queueType: 'quorum',
    retryDelaysMs: options.retryDelaysMs ?? [200, 400, 800, 1600],
  });
  // Plus an observer: a queue of our own bound to everything on the test's exchanges. It also makes
  // every message the service publishes routable, as the other services' queues do in production.
  const topology = defineTopology({
    prefix,
    queueType: 'quorum',
    consumers: [
      ...service.consumers,
      {
        queue: OBSERVER_QUEUE,
        bindings: Object.values(EXCHANGES).map((exchange) => ({ exchange, routingKey: '#' })),
        retryDelaysMs: [],
      },
    ],
  });
  const broker = await connectBroker({
    url: AMQP_URL,
    topology,
    log,
    metrics,
    connectionName: `${prefix}routing-worker`,
  });
  cleanups.push(() => broker.close({ drainTimeoutMs: 2_000 }));
  cleanups.push(() =>
    broker.withChannel(async (channel) => {
      for (const queue of topology.queues) await channel.deleteQueue(queue.name);
      for (const exchange of topology.exchanges) await channel.deleteExchange(exchange.name);
    }),
  );

  const observed: Observed[] = [];
  const record: Array<ConsumeOptions['handlers'][string]> = [...commands, ...events].map((definition) =>
    handlerFor(definition, async (envelope) => {
      observed.push({ routingKey: definition.routingKey, envelope: envelope as Observed['envelope'] });
    }),
  );
  const observer = broker.consume({
    queue: OBSERVER_QUEUE,
    handlers: Object.fromEntries(record.map((handler) => [handler.definition.type, handler])),
    prefetch: 100,
    policy: { delaysMs: [] },
  });
  await observer.ready;
  cleanups.push(() => observer.stop({ drainTimeoutMs: 1_000 }));

  const relay: OutboxRelay = await startOutboxRelay({
    pool,
    schema,
    publisher: broker.publisher,
    log,
    fallbackPollMs: 200,
  });
  cleanups.push(() => relay.stop());
  const drive: FsSharedDrive = createFsSharedDrive({
    root: sharedDriveRoot,
    timeoutMs: 2_000,
    log,
    metrics,
    resetTimeoutMs: 300,
  });
  cleanups.push(() => drive.close());

  const jwt = createJwtAuth({ secret: DEV_JWT_SECRET });
  const app: RoutingWorkerApp = buildApp({
    pool,
    broker,
    jwt,
    sharedDrive: drive,
    log,
    metrics,
    ...(options.clock ? { clock: options.clock } : {}),
  });
  await app.start();
  cleanups.push(() => app.stop());
  const server: RunningHttpServer = await startHttpServer(app.http, {
    port: 0,
    host: '127.0.0.1',
    log,
    closeGraceMs: 1_000,
  });
  cleanups.push(() => server.close());
  const baseUrl = `http://127.0.0.1:${server.port}`;

  const token: Harness['token'] = (
    roles,
    { sub = `user-${roles.join('-') || 'none'}`, expiresInSeconds } = {},
  ) => jwt.sign({ sub, roles: roles as Role[] }, expiresInSeconds === undefined ? {} : { expiresInSeconds });

  const request: Harness['request'] = async (
    method,
    url,
    { roles = ['admin'], token: explicit, body } = {},
  ) => {
    const headers: Record<string, string> = {};
    const bearer = explicit ?? (roles === null ? undefined : token(roles));
    if (bearer !== undefined) headers.authorization = `Bearer ${bearer}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    const response = await fetch(`${baseUrl}${url}`, {
      method,
      headers,
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await response.text();
    return { status: response.status, body: text ? JSON.parse(text) : undefined };
  };

  const getRouting = async (routingId: string): Promise<RoutingDto> => {
    const { status, body } = await request('GET', `/api/routings/${routingId}`, { roles: ['viewer'] });
    if (status !== 200) throw new Error(`GET routing ${routingId}: ${status} ${JSON.stringify(body)}`);
    return body as RoutingDto;
  };

  const routingFolder = (routing: RoutingDto) =>
    path.join(sharedDriveRoot, routing.itemCode, routing.revisionCode, 'Routings', routing.routingCode);

  const harness: Harness = {
    baseUrl,
    prisma,
    broker,
    metrics,
    sharedDriveRoot,
    observed,
    token,
    request,
    waitForMessage: (predicate, what, timeoutMs = 10_000) =>
      eventually(() => observed.find(predicate), what, timeoutMs),

    async approvedRouting(code = `GT${randomBytes(4).toString('hex').toUpperCase()}`) {
      const created = await request('POST', '/api/routings', {
        roles: ['editor'],
        body: { routingCode: code, itemCode: 'ITEM-7', revisionCode: 'B' },
      });
      if (created.status !== 201)
        throw new Error(`create: ${created.status} ${JSON.stringify(created.body)}`);
      const routingId = (created.body as RoutingDto).id;
      const requested = await request('POST', `/api/routings/${routingId}/request-approval`, {
        roles: ['editor'],
        body: {},
      });
      if (requested.status !== 200) throw new Error(`request-approval: ${requested.status}`);
      const approved = await request('POST', `/api/routings/${routingId}/approve`, {
        roles: ['approver'],
        body: {},
      });
      if (approved.status !== 200) throw new Error(`approve: ${approved.status}`);
      return approved.body as RoutingDto & { lastAddinJobId: string };
    },

    async writeOutputs(routing, files) {
      const folder = routingFolder(routing);
      const outputs = [];
      for (const [name, content] of Object.entries(files)) {
        const file = path.join(folder, name);
        await mkdir(path.dirname(file), { recursive: true });
        await writeFile(file, content);
        outputs.push({ path: name, sha256: sha256(content), sizeBytes: Buffer.byteLength(content) });
      }
      return outputs;
    },
    routingFolder,

    async publishResult(payload) {
      const envelope = createMessage(
        AddinJobResultCommand,
        {
          resultStatus: 'completed',
          message: null,
          outputs: [],
          attempt: 1,
          deviceId: 'WS-042',
          finishedAt: '2026-01-05T09:30:00.000Z',
          ...payload,
        },
        { correlationId: `test-${randomUUID()}` },
      );
      await broker.publisher.publish(outgoing(AddinJobResultCommand, envelope));
      return envelope;
    },

    async republish(envelope, exchange = EXCHANGES.commands) {
      await broker.publisher.publish({ exchange, routingKey: envelope.type, envelope });
    },

    getRouting,
    waitForRouting: (routingId, predicate, what, timeoutMs = 10_000) =>
      eventually(
        async () => {
          const routing = await getRouting(routingId);
          return predicate(routing) ? routing : undefined;
        },
        what,
        timeoutMs,
      ),

    async counter(name, labels) {
      const metric = metrics.registry.getSingleMetric(name);
      if (!metric) return 0;
      const { values } = await metric.get();
      return values
        .filter((v) => Object.entries(labels).every(([k, val]) => v.labels[k] === val))
        .reduce((sum, v) => sum + v.value, 0);
    },

    async close() {
      // Every step runs even when one fails, so a failed test doesn't leak queues or schemas.
      const failures: unknown[] = [];
      for (const cleanup of cleanups.splice(0).reverse()) {
        try {
          await cleanup();
        } catch (err) {
          failures.push(err);
        }
      }
      if (failures.length > 0) throw failures[0];
    },
  };
  return harness;
}
