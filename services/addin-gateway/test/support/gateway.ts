import { waitFor as sharedWaitFor } from '@mcms/testing';
import { randomBytes, randomUUID } from 'node:crypto';
import {
  AddinJobExpired,
  AddinJobQueued,
  AddinJobResultCommand,
  AddinJobStarted,
  createMessage,
  EspritGenerationCommand,
  RoutingCreated,
  type MessageDefinition,
  type MessageEnvelope,
  type MessageOf,
} from '@mcms/contracts';
import { applyMigrations, pgPoolConfig, prismaAdapter, servicePrismaPaths } from '@mcms/db';
import {
  connectBroker,
  defineTopology,
  handlerFor,
  outgoing,
  startOutboxRelay,
  type Broker,
  type OutboxRelay,
  type Topology,
} from '@mcms/messaging';
import {
  createJwtAuth,
  createLogger,
  createMetrics,
  DEV_JWT_SECRET,
  startHttpServer,
  type JwtAuth,
  type Metrics,
  type Role,
  type RunningHttpServer,
} from '@mcms/platform';
import { Pool } from 'pg';
import { buildApp, type Gateway, type GatewaySettings } from '../../src/app';
import { PrismaClient } from '../../src/generated/prisma/client';
import { gatewayTopology } from '../../src/topology';

const DATABASE_URL = process.env.DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres';
const AMQP_URL = process.env.AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672';
const OBSERVER_QUEUE = 'test.observer';

/** Everything the gateway emits, as a test queue bound to it received it, in arrival order. */
export interface Observed {
  type: string;
  envelope: MessageEnvelope;
}

/** An HTTP answer: status and parsed JSON body (undefined when empty). */
// Tests assert on answers field by field (and parse them with the contract's schemas where it matters).
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export interface Answer<T = any> {
  status: number;
  body: T;
  headers: Headers;
}

/**
 * The real gateway in-process (buildApp + startHttpServer on port 0) on real PostgreSQL and RabbitMQ, isolated
 * by a throw-away schema and a unique topology prefix, with a queue that records what the outbox relays and a
 * clock the test can move forward.
 */
export interface GatewayHarness {
  app: Gateway;
  baseUrl: string;
  prisma: PrismaClient;
  /** The service's pg pool (its hot paths and the outbox relay). */
  pool: Pool;
  schema: string;
  prefix: string;
  broker: Broker;
  relay: OutboxRelay;
  jwt: JwtAuth;
  metrics: Metrics;
  /** The current value of a metric (summed over matching label sets), 0 when it has none yet. */
  metric(name: string, labels?: Record<string, string>): Promise<number>;
  /** A key registered through ADDIN_BOOTSTRAP_KEY. */
  bootstrapKey: string;
  observed: Observed[];
  /** Moves the gateway's clock forward. */
  advanceClock(ms: number): void;
  /** The gateway's clock now. */
  now(): Date;
  /** A bearer token with these roles. */
  token(roles: Role[], sub?: string): string;
  /** An HTTP call; `key`/`device` set the add-in headers, `token` the Authorization header. */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  call<T = any>(
    method: string,
    path: string,
    options?: { key?: string; device?: string; token?: string; body?: unknown; signal?: AbortSignal },
  ): Promise<Answer<T>>;
  /** Publishes an EspritGenerationCommand (as the routing-worker's outbox would); returns it. */
  publishGeneration(
    overrides?: Partial<MessageOf<typeof EspritGenerationCommand>['payload']>,
  ): Promise<MessageOf<typeof EspritGenerationCommand>>;
  /** Publishes a generation command and waits until its job exists. */
  queueJob(overrides?: Partial<MessageOf<typeof EspritGenerationCommand>['payload']>): Promise<string>;
  /** Waits until the outbox is empty and every message relayed so far has reached `observed`. */
  settle(): Promise<void>;
  /** Observed messages of one type about one job. */
  messagesOf<D extends MessageDefinition>(definition: D, jobId: string): Array<MessageOf<D>>;
  close(): Promise<void>;
}

/** Polls `probe` until it returns something truthy, or throws after `timeoutMs` naming `what`. */
export function waitFor<T>(
  probe: () => T | Promise<T>,
  what: string,
  timeoutMs = 10_000,
): Promise<NonNullable<T>> {
  return sharedWaitFor(probe, { what, timeoutMs, intervalMs: 10 });
}

export async function startGateway(settings: Partial<GatewaySettings> = {}): Promise<GatewayHarness> {
  // Undone in reverse by close(), or at once when starting fails half-way, so no run leaves schemas or queues.
  const cleanup: Array<() => Promise<unknown>> = [];
  const undo = async () => {
    for (const step of cleanup.splice(0).reverse()) await step().catch(() => undefined);
  };
  try {
    return await start(settings, cleanup, undo);
  } catch (err) {
    await undo();
    throw err;
  }
}

async function start(
  settings: Partial<GatewaySettings>,
  cleanup: Array<() => Promise<unknown>>,
  undo: () => Promise<void>,
): Promise<GatewayHarness> {
  const id = randomBytes(4).toString('hex');
  const schema = `test_gw_${id}`;
  const prefix = `t-gw-${id}.`;
  const log = createLogger({
    service: 'addin-gateway-test',
    level: (process.env.TEST_LOG_LEVEL as never) ?? 'silent',
  });
  cleanup.push(async () => {
    const admin = new Pool({ connectionString: DATABASE_URL, max: 1 });
    await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`).finally(() => admin.end());
  });
  await applyMigrations({
    databaseUrl: DATABASE_URL,
    schema,
    migrationsDir: servicePrismaPaths('addin-gateway').migrationsDir,
  });
  const prisma = new PrismaClient({ adapter: prismaAdapter({ databaseUrl: DATABASE_URL, schema, max: 4 }) });
  cleanup.push(() => prisma.$disconnect());
  const pool = new Pool(pgPoolConfig({ databaseUrl: DATABASE_URL, schema, max: 10 }));
  pool.on('error', () => undefined);
  cleanup.push(() => pool.end());

  const topology = gatewayTopology({ prefix, queueType: 'classic', retryDelaysMs: [50, 100] });
  // Bound before anything is relayed, so no message is unroutable: the commands and events the gateway emits,
  // and RoutingCreated as the flush sentinel.
  const watched = [AddinJobResultCommand, AddinJobQueued, AddinJobStarted, AddinJobExpired, RoutingCreated];
  const observerTopology = defineTopology({
    prefix,
    queueType: 'classic',
    consumers: [
      {
        queue: OBSERVER_QUEUE,
        bindings: watched.map((d) => ({ exchange: d.exchange, routingKey: d.routingKey })),
        retryDelaysMs: [],
      },
    ],
  });
  const observerBroker = await connectBroker({
    url: AMQP_URL,
    topology: observerTopology,
    log,
    connectionName: `${prefix}observer`,
  });
  cleanup.push(() => observerBroker.close());
  cleanup.push(() => deleteTopology(observerBroker, [topology, observerTopology]));
  const observed: Observed[] = [];
  const record = <D extends MessageDefinition>(definition: D) =>
    handlerFor(definition, async (envelope) => {
      observed.push({ type: definition.type, envelope });
    });
  const observer = observerBroker.consume({
    queue: OBSERVER_QUEUE,
    handlers: Object.fromEntries(watched.map((d) => [d.type, record(d)])),
    prefetch: 1,
    policy: { delaysMs: [] },
  });
  // Consumers stop before the queues go: a consumer whose queue is deleted under it declares it again.
  cleanup.push(() => observer.stop());
  await observer.ready;

  const metrics = createMetrics({ service: 'addin-gateway-test', defaultMetrics: false });
  const broker = await connectBroker({
    url: AMQP_URL,
    topology,
    log,
    metrics,
    connectionName: `${prefix}gateway`,
  });
  cleanup.push(() => broker.close());
  const relay = await startOutboxRelay({
    pool,
    schema,
    publisher: broker.publisher,
    log,
    fallbackPollMs: 200,
  });
  cleanup.push(() => relay.stop());
  const jwt = createJwtAuth({ secret: DEV_JWT_SECRET });
  let offsetMs = 0;
  const clock = () => new Date(Date.now() + offsetMs);
  const bootstrapKey = `dev-bootstrap-${randomUUID()}`;
  const app = buildApp({
    pool,
    schema,
    broker,
    jwt,
    log,
    metrics,
    clock,
    settings: {
      leaseMs: 600_000,
      expiry: { maxAttempts: 5, pendingTimeoutMs: 24 * 3_600_000 },
      // Tests sweep with app.sweepNow() on their own clock; the timer must not race them.
      sweepIntervalMs: 3_600_000,
      keyTtlDays: 30,
      bootstrapKey,
      maxWaiters: 1_000,
      longPollFallbackMs: 5_000,
      ...settings,
    },
  });
  cleanup.push(() => app.stop());
  await app.start();
  const http: RunningHttpServer = await startHttpServer(app.http, {
    port: 0,
    host: '127.0.0.1',
    log,
    closeGraceMs: 2_000,
  });
  // The app first: it answers waiting long polls, which the server would otherwise wait out.
  cleanup.push(async () => {
    await app.stop();
    await http.close();
  });
  const baseUrl = `http://127.0.0.1:${http.port}`;

  const harness: GatewayHarness = {
    app,
    baseUrl,
    prisma,
    pool,
    schema,
    prefix,
    broker,
    relay,
    jwt,
    metrics,
    async metric(name, labels = {}) {
      const metric = metrics.registry.getSingleMetric(name);
      if (metric === undefined) return 0;
      const { values } = await metric.get();
      return values
        .filter((v) =>
          Object.entries(labels).every(
            ([k, want]) => String((v.labels as Record<string, unknown>)[k]) === want,
          ),
        )
        .reduce((sum, v) => sum + v.value, 0);
    },
    bootstrapKey,
    observed,
    advanceClock: (ms) => {
      offsetMs += ms;
    },
    now: clock,
    token: (roles, sub = 'tester') => jwt.sign({ sub, roles }),

    async call(method, path, options = {}) {
      const headers: Record<string, string> = {};
      if (options.key !== undefined) headers['x-addin-key'] = options.key;
      if (options.device !== undefined) headers['x-addin-device'] = options.device;
      if (options.token !== undefined) headers.authorization = `Bearer ${options.token}`;
      if (options.body !== undefined) headers['content-type'] = 'application/json';
      const response = await fetch(`${baseUrl}${path}`, {
        method,
        headers,
        ...(options.body !== undefined ? { body: JSON.stringify(options.body) } : {}),
        ...(options.signal ? { signal: options.signal } : {}),
      });
      const text = await response.text();
      return {
        status: response.status,
        body: text === '' ? undefined : JSON.parse(text),
        headers: response.headers,
      };
    },

    async publishGeneration(overrides = {}) {
      const command = createMessage(
        EspritGenerationCommand,
        {
          jobId: randomUUID(),
          routingId: randomUUID(),
          routingCode: `GT${randomBytes(3).toString('hex')}`,
          itemCode: 'ITEM-1',
          revisionCode: 'A',
          camRevision: '1.0.0',
          parameters: { machine: 'DMU-50', stock: 'AL6061' },
          requestedBy: 'approver-1',
          ...overrides,
        },
        { correlationId: `corr-${randomUUID()}` },
      );
      await broker.publisher.publish(outgoing(EspritGenerationCommand, command));
      return command;
    },

    async queueJob(overrides = {}) {
      const command = await harness.publishGeneration(overrides);
      const { jobId } = command.payload;
      await waitFor(() => app.jobs.find(jobId), `job ${jobId} to be created`);
      return jobId;
    },

    async settle() {
      await waitFor(async () => (await relay.pending()) === 0, 'the outbox to be relayed');
      const sentinel = createMessage(
        RoutingCreated,
        {
          routingId: randomUUID(),
          routingCode: 'SENTINEL',
          itemCode: 'SENTINEL',
          revisionCode: 'A',
          camRevision: '1.0.0',
          createdBy: 'test',
        },
        { correlationId: 'sentinel' },
      );
      await broker.publisher.publish(outgoing(RoutingCreated, sentinel));
      // One queue, one consumer with prefetch 1: once the sentinel is here, everything confirmed before it is.
      await waitFor(
        () => observed.some((o) => o.envelope.messageId === sentinel.messageId),
        'the flush sentinel',
      );
    },

    messagesOf(definition, jobId) {
      return observed
        .filter(
          (o) => o.type === definition.type && (o.envelope.payload as { jobId?: string }).jobId === jobId,
        )
        .map((o) => o.envelope as never);
    },

    close: undo,
  };
  return harness;
}

async function deleteTopology(broker: Broker, topologies: Topology[]): Promise<void> {
  const queues = new Set(topologies.flatMap((t) => t.queues.map((q) => q.name)));
  const exchanges = new Set(topologies.flatMap((t) => t.exchanges.map((e) => e.name)));
  // A failed delete closes the channel, so each gets its own.
  for (const queue of queues) await broker.withChannel((ch) => ch.deleteQueue(queue)).catch(() => undefined);
  for (const exchange of exchanges)
    await broker.withChannel((ch) => ch.deleteExchange(exchange)).catch(() => undefined);
}
