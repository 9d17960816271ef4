import { waitFor as sharedWaitFor, type WaitOptions } from '@mcms/testing';
// The system under end-to-end test: each service started as its own process from its production build
// (`node services/<svc>/dist/main.js`), isolated by a topology prefix, its own database schemas and a
// temporary shared drive, so test files can run side by side against one RabbitMQ and one PostgreSQL.
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { createAddinClient, type AddinClient, type AddinClientOptions } from '@mcms/addin-client';
import {
  EXCHANGES,
  Notification,
  type ExchangeName,
  type MessageDefinition,
  type MessageEnvelope,
  type NotificationHandshake,
  type NotificationClientEvents,
  type NotificationServerEvents,
} from '@mcms/contracts';
import { applyMigrations, servicePrismaPaths, SERVICE_DATABASES } from '@mcms/db';
import { connectBroker, defineTopology, outgoing, type Broker } from '@mcms/messaging';
import { createJwtAuth, createLogger, DEV_JWT_SECRET, type Role } from '@mcms/platform';
import { connect as amqpConnect, type Channel, type ChannelModel } from 'amqplib';
import pg from 'pg';
import { io, type Socket } from 'socket.io-client';
import { DEFAULT_AMQP_URL, DEFAULT_DATABASE_URL } from './infrastructure';

const run = promisify(execFile);

/** The services this harness can start. */
export type SystemService = 'addin-gateway' | 'routing-worker' | 'history-service' | 'notification-service';
export const ALL_SERVICES: readonly SystemService[] = [
  'addin-gateway',
  'routing-worker',
  'history-service',
  'notification-service',
];

/** The workspace root (this file is tests/support/system.ts). */
export const WORKSPACE_ROOT = path.resolve(__dirname, '..', '..');

/** Settings short enough for tests: a lease runs out in seconds, sweeps and retries come quickly. */
export const FAST_TEST_ENV: Readonly<Record<string, string>> = {
  JOB_LEASE: '2s',
  LEASE_SWEEP_INTERVAL: '200ms',
  MCMS_RETRY_DELAYS: '200ms,400ms,800ms,1600ms',
  SHARED_DRIVE_TIMEOUT: '2s',
  LONG_POLL_FALLBACK: '1s',
};

/** Options of {@link startSystem}. */
export interface SystemOptions {
  /** Default: all four. */
  services?: readonly SystemService[];
  /** Added to (and overriding) {@link FAST_TEST_ENV} for every service. */
  env?: Readonly<Record<string, string>>;
  /** Per-service additions, applied last. */
  serviceEnv?: Partial<Record<SystemService, Readonly<Record<string, string>>>>;
  /** Default `classic`: quorum queues cost a Raft group each, too slow to create per test file. */
  queueType?: 'classic' | 'quorum';
  /** How long each service may take to answer `/readyz` 200; default 30 s. */
  readyTimeoutMs?: number;
  /** Names the system in prefixes and logs; default `e2e`. */
  name?: string;
  /** The broker and database to use instead of `AMQP_URL` / `DATABASE_URL` (e.g. private ones a chaos run may stop). */
  amqpUrl?: string;
  databaseUrl?: string;
  /**
   * Whether {@link System.cleanup} deletes the system's queues and exchanges; default true. False when the
   * broker is thrown away with the run anyway (and may be down at the end).
   */
  deleteBrokerObjects?: boolean;
  /** Called with every line a service prints, as it arrives (e.g. to keep them in a file). */
  onLine?: (line: LogLine) => void;
}

/** One line a service printed. */
export interface LogLine {
  service: SystemService;
  stream: 'stdout' | 'stderr';
  line: string;
}

/** How a service process ended after {@link System.stop}. */
export interface ServiceExit {
  service: SystemService;
  code: number | null;
  signal: NodeJS.Signals | null;
  /** From SIGTERM to exit. */
  stopMs: number;
}

/** A message that arrived on a {@link Tap}. */
export interface TappedMessage {
  routingKey: string;
  envelope: MessageEnvelope;
}

/** A private queue bound to one of the system's exchanges: sees every matching message published after `tap()`. */
export interface Tap {
  /** Takes every message that is in the queue now (the broker confirmed it to the publisher = it is here). */
  drain(): Promise<TappedMessage[]>;
  /** Everything drained so far. */
  readonly seen: TappedMessage[];
  /** Waits until a drained message satisfies `predicate`, and returns it. */
  waitFor(
    predicate: (message: TappedMessage) => boolean,
    options?: { timeoutMs?: number; what?: string },
  ): Promise<TappedMessage>;
  close(): Promise<void>;
}

/** Options of {@link System.alerts}. */
export interface AlertFeedOptions {
  /** Default: a viewer token. */
  token?: string;
  /** Resume after this alert (the server replays every newer one first). */
  lastNotificationId?: string;
  /** Narrow the connection to one routing (`subscribe`, acknowledged before `alerts()` resolves). */
  routingId?: string;
}

/** A socket.io client of notification-service that collects every `notification` it receives. */
export interface AlertFeed {
  /** Every alert received so far, in arrival order (each validated against the contract). */
  readonly received: Notification[];
  /** Waits until a received alert satisfies `predicate`, and returns it. */
  waitFor(
    predicate: (alert: Notification) => boolean,
    options?: { timeoutMs?: number; what?: string },
  ): Promise<Notification>;
  close(): void;
}

/** An HTTP answer with its JSON body (or text, or undefined when empty). */
export interface ApiAnswer<T = unknown> {
  status: number;
  body: T;
  headers: Headers;
}

/** Who calls: a role's JWT (default viewer), a given token, no credentials, or the add-in's headers. */
export interface CallAs {
  role?: Role;
  token?: string;
  anonymous?: boolean;
  /** Add-in headers instead of a JWT; a missing field defaults to the system's bootstrap key / device `E2E-WS`. */
  addin?: { key?: string | null; device?: string | null };
  headers?: Record<string, string>;
}

/** A small fetch wrapper for one service. */
export interface Api {
  readonly baseUrl: string;
  request<T = unknown>(
    method: string,
    urlPath: string,
    options?: CallAs & { body?: unknown; rawBody?: string },
  ): Promise<ApiAnswer<T>>;
  get<T = unknown>(urlPath: string, as?: CallAs): Promise<ApiAnswer<T>>;
  post<T = unknown>(urlPath: string, body?: unknown, as?: CallAs): Promise<ApiAnswer<T>>;
  delete<T = unknown>(urlPath: string, as?: CallAs): Promise<ApiAnswer<T>>;
}

/** A started system. */
export interface System {
  readonly prefix: string;
  readonly schemas: Readonly<Record<SystemService, string>>;
  readonly urls: Readonly<Record<SystemService, string>>;
  readonly sharedDriveRoot: string;
  /** The `ADDIN_BOOTSTRAP_KEY` the gateway registered at start. */
  readonly addinKey: string;
  readonly amqpUrl: string;
  readonly databaseUrl: string;
  /** Milliseconds from spawn to `/readyz` 200, per service. */
  readonly startupMs: Readonly<Record<SystemService, number>>;
  /** The HTTP API of `service` (over `fetchImpl`, global fetch by default: the benchmark passes a lighter one). */
  api(service: SystemService, fetchImpl?: typeof fetch): Api;
  /** An add-in client of the gateway for `deviceId` (bootstrap key unless `key` is given). */
  addinClient(deviceId: string, options?: Partial<AddinClientOptions>): AddinClient;
  /** Runs SQL in a service's own schema (for what the API does not show, e.g. an outbox). */
  sql<R extends pg.QueryResultRow = Record<string, unknown>>(
    service: SystemService,
    text: string,
    params?: unknown[],
  ): Promise<R[]>;
  /** Binds a private queue to the system's `exchange` for `routingKey` (a type or a pattern). */
  tap(exchange: ExchangeName, routingKey: string): Promise<Tap>;
  /** Connects a socket.io client to notification-service (resolves once connected and, if asked, subscribed). */
  alerts(options?: AlertFeedOptions): Promise<AlertFeed>;
  /** Publishes a validated envelope onto the system's exchanges, as a service would (confirmed). */
  publish<D extends MessageDefinition>(definition: D, envelope: MessageEnvelope): Promise<void>;
  /** A position in the services' logs, to print what came after it. */
  logMark(): number;
  /** Every line every service printed so far, in arrival order (log scans, e.g. for leaked secrets). */
  logLines(): readonly LogLine[];
  /** The lines printed since `mark` (the last `limit` per service). */
  logsSince(mark: number, limit?: number): string;
  /** Whether every service process is still running. */
  running(): SystemService[];
  /** Sends `signal` (default SIGKILL) to one service's current process and waits until it has exited. */
  kill(service: SystemService, signal?: NodeJS.Signals): Promise<void>;
  /**
   * Starts one service again (after {@link System.kill} or a crash) with the same environment and port, and
   * waits for `/readyz` 200; resolves with the milliseconds from spawn to ready.
   */
  restart(service: SystemService, options?: { readyTimeoutMs?: number }): Promise<number>;
  /** Sends SIGTERM to each service and waits for them to exit (SIGKILL after 15 s). */
  stop(): Promise<ServiceExit[]>;
  /** Stops (if needed) and removes the schemas, queues, exchanges and temp dir. */
  cleanup(): Promise<void>;
}

const SCHEMA_PREFIX: Record<SystemService, string> = {
  'addin-gateway': 'GATEWAY',
  'routing-worker': 'ROUTING',
  'history-service': 'HISTORY',
  'notification-service': 'NOTIFICATION',
};

/** Creates a JWT for `role` with the documented development secret (the services run outside production). */
export function tokenFor(
  role: Role,
  { sub = `e2e-${role}`, expiresInSeconds }: { sub?: string; expiresInSeconds?: number } = {},
): string {
  return createJwtAuth({ secret: DEV_JWT_SECRET }).sign({ sub, roles: [role] }, { expiresInSeconds });
}

/** Polls `probe` until it returns something truthy (which it returns); end-to-end defaults: 15 s, every 50 ms. */
export function waitFor<T>(probe: () => T | Promise<T>, options: WaitOptions = {}): Promise<NonNullable<T>> {
  return sharedWaitFor(probe, { timeoutMs: 15_000, intervalMs: 50, ...options });
}

/** A TCP port nothing listens on right now (the service binds it a moment later). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** The production entry point of a service, or an error telling how to build it. */
export function serviceEntryPoint(service: SystemService): string {
  const entry = path.join(WORKSPACE_ROOT, 'services', service, 'dist', 'main.js');
  if (!existsSync(entry)) {
    throw new Error(
      `${path.relative(WORKSPACE_ROOT, entry)} does not exist: the end-to-end tests run the services' production ` +
        'builds. Build them first with `npx tsc -b` (after `node packages/db/dist/cli.js generate`); `npm test` does both.',
    );
  }
  return entry;
}

// Only what a service needs from the parent's environment: nothing of the developer's MCMS_* or *_DATABASE_*
// settings may leak into an isolated system.
const INHERITED_ENV = ['PATH', 'HOME', 'TMPDIR', 'LANG', 'TZ', 'SYSTEMROOT'];

interface RunningService {
  service: SystemService;
  child: ChildProcess;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  exit?: { code: number | null; signal: NodeJS.Signals | null };
}

/**
 * Starts the services as separate processes and waits until each answers `/readyz` 200. Before that it
 * applies each service's migrations to a fresh schema of its own. A failure stops whatever was started and
 * throws with the services' output.
 */
export async function startSystem(options: SystemOptions = {}): Promise<System> {
  const services = options.services ?? ALL_SERVICES;
  const entries = Object.fromEntries(services.map((s) => [s, serviceEntryPoint(s)])) as Record<
    SystemService,
    string
  >;
  const id = randomBytes(4).toString('hex');
  const name = options.name ?? 'e2e';
  const prefix = `${name}-${id}.`;
  const amqpUrl = options.amqpUrl ?? (process.env.AMQP_URL || DEFAULT_AMQP_URL);
  const databaseUrl = options.databaseUrl ?? (process.env.DATABASE_URL || DEFAULT_DATABASE_URL);
  const schemas = Object.fromEntries(
    ALL_SERVICES.map((s) => [s, `${name.replace(/[^a-z0-9]/g, '_')}_${id}_${SERVICE_DATABASES[s]}`]),
  ) as Record<SystemService, string>;
  const sharedDriveRoot = await mkdtemp(path.join(os.tmpdir(), `mcms-${name}-drive-`));
  const addinKey = `mcms_ak_${name}_${randomBytes(24).toString('base64url')}`;
  const lines: LogLine[] = [];
  const processes: RunningService[] = [];
  const pools = new Map<SystemService, pg.Pool>();
  const taps = new Set<Tap>();
  const feeds = new Set<AlertFeed>();
  let broker: Broker | undefined;
  let stopped: Promise<ServiceExit[]> | undefined;
  let cleaned = false;

  const stop = (): Promise<ServiceExit[]> => {
    stopped ??= Promise.all(
      processes.map(async (p): Promise<ServiceExit> => {
        const started = Date.now();
        if (!p.exit) {
          p.child.kill('SIGTERM');
          const killer = setTimeout(() => p.child.kill('SIGKILL'), 15_000);
          await p.exited;
          clearTimeout(killer);
        }
        return { service: p.service, ...p.exit!, stopMs: Date.now() - started };
      }),
    );
    return stopped;
  };

  const cleanup = async (): Promise<void> => {
    if (cleaned) return;
    cleaned = true;
    await stop();
    for (const feed of feeds) feed.close();
    await Promise.all([...taps].map((tap) => tap.close()));
    await broker?.close().catch(() => {});
    await Promise.all([...pools.values()].map((pool) => pool.end().catch(() => {})));
    await dropSchemas(databaseUrl, Object.values(schemas));
    if (options.deleteBrokerObjects !== false) await deleteBrokerObjects(amqpUrl, prefix);
    await rm(sharedDriveRoot, { recursive: true, force: true });
  };

  const logsSince = (mark: number, limit = 80): string =>
    services
      .map((service) => {
        const own = lines.slice(mark).filter((l) => l.service === service);
        const shown = own.slice(-limit).map((l) => `${l.stream === 'stderr' ? '! ' : ''}${l.line}`);
        const cut =
          own.length > shown.length ? `  (${own.length - shown.length} earlier lines not shown)\n` : '';
        return `──── ${service} ────\n${cut}${shown.join('\n') || '(nothing)'}`;
      })
      .join('\n');

  try {
    for (const service of services) {
      await applyMigrations({
        databaseUrl,
        schema: schemas[service],
        migrationsDir: servicePrismaPaths(service, WORKSPACE_ROOT).migrationsDir,
      });
    }
    const ports = Object.fromEntries(
      await Promise.all(services.map(async (s) => [s, await freePort()] as const)),
    ) as Record<SystemService, number>;
    const inherited = Object.fromEntries(
      INHERITED_ENV.filter((k) => process.env[k] !== undefined).map((k) => [k, process.env[k] as string]),
    );
    const schemaEnv = Object.fromEntries(
      ALL_SERVICES.map((s) => [`${SCHEMA_PREFIX[s]}_DATABASE_SCHEMA`, schemas[s]]),
    );
    const startedAt: Partial<Record<SystemService, number>> = {};

    const envOf = (service: SystemService): NodeJS.ProcessEnv => ({
      ...inherited,
      NODE_ENV: 'test',
      LOG_LEVEL: process.env.E2E_LOG_LEVEL ?? 'info',
      PORT: String(ports[service]),
      AMQP_URL: amqpUrl,
      DATABASE_URL: databaseUrl,
      ...schemaEnv,
      MCMS_TOPOLOGY_PREFIX: prefix,
      MCMS_QUEUE_TYPE: options.queueType ?? 'classic',
      SHARED_DRIVE_ROOT: sharedDriveRoot,
      ADDIN_BOOTSTRAP_KEY: addinKey,
      ...FAST_TEST_ENV,
      // The operator page's proxy reaches this system's own services (unset when they are not started).
      ...(ports['routing-worker'] && { ROUTING_WORKER_URL: `http://127.0.0.1:${ports['routing-worker']}` }),
      ...(ports['history-service'] && {
        HISTORY_SERVICE_URL: `http://127.0.0.1:${ports['history-service']}`,
      }),
      ...options.env,
      ...options.serviceEnv?.[service],
    });
    const spawnService = (service: SystemService): RunningService => {
      const child = spawn(process.execPath, [entries[service]], {
        cwd: WORKSPACE_ROOT,
        env: envOf(service),
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      const running: RunningService = {
        service,
        child,
        exited: new Promise((resolve) =>
          child.once('exit', (code, signal) => {
            running.exit = { code, signal };
            resolve(running.exit);
          }),
        ),
      };
      for (const stream of ['stdout', 'stderr'] as const) {
        let partial = '';
        child[stream]?.setEncoding('utf8');
        child[stream]?.on('data', (chunk: string) => {
          const parts = (partial + chunk).split('\n');
          partial = parts.pop() ?? '';
          for (const line of parts) {
            if (!line) continue;
            const logLine: LogLine = { service, stream, line };
            lines.push(logLine);
            options.onLine?.(logLine);
          }
        });
      }
      startedAt[service] = Date.now();
      return running;
    };
    for (const service of services) processes.push(spawnService(service));

    const startupMs = {} as Record<SystemService, number>;
    await Promise.all(
      processes.map(async (p) => {
        await waitReady(p, `http://127.0.0.1:${ports[p.service]}`, options.readyTimeoutMs ?? 30_000);
        startupMs[p.service] = Date.now() - (startedAt[p.service] ?? 0);
      }),
    );

    const urls = Object.fromEntries(services.map((s) => [s, `http://127.0.0.1:${ports[s]}`])) as Record<
      SystemService,
      string
    >;
    const system: System = {
      prefix,
      schemas,
      urls,
      sharedDriveRoot,
      addinKey,
      amqpUrl,
      databaseUrl,
      startupMs,
      api: (service, fetchImpl) => createApi(urlOf(urls, service), addinKey, fetchImpl),
      addinClient: (deviceId, clientOptions = {}) =>
        createAddinClient({
          baseUrl: urlOf(urls, 'addin-gateway'),
          key: addinKey,
          deviceId,
          timeoutMs: 15_000,
          ...clientOptions,
        }),
      async sql(service, text, params = []) {
        let pool = pools.get(service);
        if (!pool) {
          pool = new pg.Pool({
            connectionString: databaseUrl,
            max: 2,
            options: `-c search_path="${schemas[service]}"`,
          });
          pool.on('error', () => {});
          pools.set(service, pool);
        }
        return (await pool.query(text, params)).rows;
      },
      async tap(exchange, routingKey) {
        const tap = await openTap(amqpUrl, `${prefix}${exchange}`, routingKey);
        taps.add(tap);
        return tap;
      },
      async alerts(feedOptions = {}) {
        const feed = await openAlertFeed(urlOf(urls, 'notification-service'), feedOptions);
        feeds.add(feed);
        return feed;
      },
      async publish(definition, envelope) {
        broker ??= await connectBroker({
          url: amqpUrl,
          topology: defineTopology({ prefix, queueType: options.queueType ?? 'classic', consumers: [] }),
          log: createLogger({ service: 'e2e-publisher', level: 'silent' }),
          connectionName: `e2e-publisher-${id}`,
        });
        await broker.publisher.publish(outgoing(definition, envelope));
      },
      logMark: () => lines.length,
      logLines: () => lines,
      logsSince,
      running: () => processes.filter((p) => !p.exit).map((p) => p.service),
      async kill(service, signal = 'SIGKILL') {
        const current = processes.find((p) => p.service === service);
        if (!current) throw new Error(`${service} was not started in this system`);
        if (!current.exit) current.child.kill(signal);
        await current.exited;
      },
      async restart(service, { readyTimeoutMs = options.readyTimeoutMs ?? 30_000 } = {}) {
        const index = processes.findIndex((p) => p.service === service);
        const current = processes[index];
        if (!current) throw new Error(`${service} was not started in this system`);
        if (!current.exit) throw new Error(`${service} is still running: kill it first`);
        if (stopped) throw new Error('the system is stopped');
        const next = spawnService(service);
        processes[index] = next;
        await waitReady(next, urlOf(urls, service), readyTimeoutMs);
        return Date.now() - (startedAt[service] ?? 0);
      },
      stop,
      cleanup,
    };
    return system;
  } catch (err) {
    const output = logsSince(0, 60);
    await cleanup().catch(() => {});
    const message = err instanceof Error ? err.message : String(err);
    throw new Error(`the system did not start: ${message}\n${output}`, { cause: err });
  }
}

function urlOf(urls: Readonly<Partial<Record<SystemService, string>>>, service: SystemService): string {
  const url = urls[service];
  if (!url) throw new Error(`${service} was not started in this system`);
  return url;
}

async function waitReady(p: RunningService, baseUrl: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = 'no answer yet';
  while (Date.now() < deadline) {
    if (p.exit)
      throw new Error(`${p.service} exited during start-up (code ${p.exit.code}, signal ${p.exit.signal})`);
    try {
      const response = await fetch(`${baseUrl}/readyz`, { signal: AbortSignal.timeout(2_000) });
      last = `${response.status} ${await response.text()}`;
      if (response.status === 200) return;
    } catch (err) {
      last = err instanceof Error ? err.message : String(err);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`${p.service} was not ready within ${timeoutMs} ms (last /readyz: ${last})`);
}

function createApi(baseUrl: string, addinKey: string, fetchImpl: typeof fetch = fetch): Api {
  async function request<T>(
    method: string,
    urlPath: string,
    options: CallAs & { body?: unknown; rawBody?: string } = {},
  ): Promise<ApiAnswer<T>> {
    const headers: Record<string, string> = { accept: 'application/json' };
    if (options.addin) {
      const { key = addinKey, device = 'E2E-WS' } = options.addin;
      if (key !== null) headers['x-addin-key'] = key;
      if (device !== null) headers['x-addin-device'] = device;
    } else if (!options.anonymous) {
      headers.authorization = `Bearer ${options.token ?? tokenFor(options.role ?? 'viewer')}`;
    }
    let body: string | undefined;
    if (options.rawBody !== undefined) body = options.rawBody;
    else if (options.body !== undefined) body = JSON.stringify(options.body);
    if (body !== undefined) headers['content-type'] = 'application/json';
    const response = await fetchImpl(`${baseUrl}${urlPath}`, {
      method,
      headers: { ...headers, ...options.headers },
      body,
      signal: AbortSignal.timeout(40_000),
    });
    const text = await response.text();
    let parsed: unknown = undefined;
    if (text !== '') {
      try {
        parsed = JSON.parse(text);
      } catch {
        parsed = text;
      }
    }
    return { status: response.status, body: parsed as T, headers: response.headers };
  }
  return {
    baseUrl,
    request,
    get: (urlPath, as) => request('GET', urlPath, as),
    post: (urlPath, body, as) => request('POST', urlPath, { ...as, body }),
    delete: (urlPath, as) => request('DELETE', urlPath, as),
  };
}

async function openTap(amqpUrl: string, exchange: string, routingKey: string): Promise<Tap> {
  const connection: ChannelModel = await amqpConnect(amqpUrl, {
    clientProperties: { connection_name: `e2e-tap-${exchange}` },
  });
  connection.on('error', () => {});
  const channel: Channel = await connection.createChannel();
  channel.on('error', () => {});
  // Exclusive and server-named: the broker removes it with the connection, whatever happens to the test.
  const { queue } = await channel.assertQueue('', { exclusive: true, autoDelete: true, durable: false });
  await channel.bindQueue(queue, exchange, routingKey);
  const seen: TappedMessage[] = [];
  let closed = false;
  const drain = async (): Promise<TappedMessage[]> => {
    const taken: TappedMessage[] = [];
    for (;;) {
      const message = await channel.get(queue, { noAck: true });
      if (message === false) break;
      taken.push({
        routingKey: message.fields.routingKey,
        envelope: JSON.parse(message.content.toString('utf8')) as MessageEnvelope,
      });
    }
    seen.push(...taken);
    return taken;
  };
  return {
    seen,
    drain,
    async waitFor(predicate, { timeoutMs = 15_000, what = `a message on ${exchange} (${routingKey})` } = {}) {
      return waitFor(
        async () => {
          await drain();
          return seen.find(predicate);
        },
        { timeoutMs, what },
      );
    },
    async close() {
      if (closed) return;
      closed = true;
      await connection.close().catch(() => {});
    },
  };
}

async function openAlertFeed(baseUrl: string, options: AlertFeedOptions): Promise<AlertFeed> {
  const auth: NotificationHandshake = { token: options.token ?? tokenFor('viewer') };
  if (options.lastNotificationId !== undefined) auth.lastNotificationId = options.lastNotificationId;
  const socket: Socket<NotificationServerEvents, NotificationClientEvents> = io(baseUrl, {
    auth,
    transports: ['websocket'],
    reconnection: false,
    forceNew: true,
  });
  const received: Notification[] = [];
  socket.on('notification', (alert) => received.push(Notification.parse(alert)));
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no socket.io connection within 10 s')), 10_000);
      socket.once('connect', () => {
        clearTimeout(timer);
        resolve();
      });
      socket.once('connect_error', (err) => {
        clearTimeout(timer);
        reject(new Error(`socket.io connection refused: ${err.message}`));
      });
    });
    if (options.routingId !== undefined) {
      const ack = await socket.timeout(10_000).emitWithAck('subscribe', { routingId: options.routingId });
      if (!ack.ok) throw new Error(`subscribe refused: ${ack.error}`);
    }
  } catch (err) {
    socket.disconnect();
    throw err;
  }
  return {
    received,
    waitFor(predicate, { timeoutMs = 15_000, what = 'an alert' } = {}) {
      return waitFor(() => received.find(predicate), { timeoutMs, what: `${what} on the socket` });
    },
    close: () => {
      socket.disconnect();
    },
  };
}

async function dropSchemas(databaseUrl: string, schemas: string[]): Promise<void> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    for (const schema of schemas) await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  } finally {
    await client.end();
  }
}

/**
 * Deletes every queue and exchange whose name starts with `prefix`. AMQP can't list queues, so the names
 * come from `rabbitmqctl` (root on these machines); without it, the names the services are known to declare.
 */
async function deleteBrokerObjects(amqpUrl: string, prefix: string): Promise<void> {
  let queues: string[];
  let exchanges: string[];
  try {
    const list = async (what: 'list_queues' | 'list_exchanges') =>
      (
        JSON.parse(
          (await run('rabbitmqctl', [what, '-q', 'name', '--formatter', 'json'], { timeout: 15_000 })).stdout,
        ) as Array<{ name: string }>
      )
        .map((row) => row.name)
        .filter((queueName) => queueName.startsWith(prefix));
    [queues, exchanges] = await Promise.all([list('list_queues'), list('list_exchanges')]);
  } catch {
    const known = [
      'addin-gateway.esprit-generation',
      'routing-worker.addin-job-results',
      'routing-worker.job-progress',
      'history-service.events',
      'notification-service.alerts',
    ];
    queues = known.flatMap((q) => [`${prefix}${q}`, `${prefix}${q}.dlq`]);
    exchanges = Object.values(EXCHANGES).map((e) => `${prefix}${e}`);
  }
  const connection = await amqpConnect(amqpUrl);
  connection.on('error', () => {});
  try {
    for (const [kind, names] of [
      ['queue', queues],
      ['exchange', exchanges],
    ] as const) {
      for (const objectName of names) {
        // A failed delete closes its channel, so each gets its own.
        const channel = await connection.createChannel();
        channel.on('error', () => {});
        await (kind === 'queue' ? channel.deleteQueue(objectName) : channel.deleteExchange(objectName)).catch(
          () => {},
        );
        await channel.close().catch(() => {});
      }
    }
  } finally {
    await connection.close().catch(() => {});
  }
}

/** What a test file gets from {@link useSystem}. */
export interface SystemFixture {
  /** The started system (only inside tests and hooks). */
  readonly system: System;
  /**
   * Like Jest's `it`, but a failing test's error carries what the services printed while it ran, so a
   * failure on CI can be understood without re-running it.
   */
  it(name: string, fn: (system: System) => Promise<void>, timeoutMs?: number): void;
}

/**
 * Starts one system for the whole test file (`beforeAll`) and cleans it up afterwards (`afterAll`):
 * tests isolate themselves by their own routings, not by their own processes.
 */
export function useSystem(options: SystemOptions = {}, { startTimeoutMs = 90_000 } = {}): SystemFixture {
  let current: System | undefined;
  beforeAll(async () => {
    try {
      current = await startSystem(options);
    } catch (err) {
      // A free port can be taken by a parallel test file between our probe and the service's listen: once more.
      if (!(err instanceof Error && err.message.includes('EADDRINUSE'))) throw err;
      current = await startSystem(options);
    }
  }, startTimeoutMs);
  afterAll(async () => {
    await current?.cleanup();
  }, 60_000);
  const fixture: SystemFixture = {
    get system(): System {
      if (!current) throw new Error('the system is not started (use it inside tests or hooks)');
      return current;
    },
    it(name, fn, timeoutMs) {
      it(
        name,
        async () => {
          const system = fixture.system;
          const mark = system.logMark();
          try {
            await fn(system);
          } catch (err) {
            const down = ALL_SERVICES.filter((s) => s in system.urls && !system.running().includes(s));
            const note = down.length > 0 ? `\nservices no longer running: ${down.join(', ')}` : '';
            const logs = `${note}\nwhat the services printed during this test:\n${system.logsSince(mark)}`;
            if (err instanceof Error) {
              err.message += logs;
              throw err;
            }
            throw new Error(`${String(err)}${logs}`);
          }
        },
        timeoutMs,
      );
    },
  };
  return fixture;
}
