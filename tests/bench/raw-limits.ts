// The machine's own limits, measured in the same run as the system (absolute figures drift between runs on
// a shared machine; ratios measured side by side do not): confirmed persistent messages with raw amqplib,
// small write transactions with node-postgres, a bare express 5 POST; then our @mcms/messaging on the same
// messages as a ratio of raw amqplib.
import { spawn } from 'node:child_process';
import http from 'node:http';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { AddinJobResultCommand, createMessage, EXCHANGES } from '@mcms/contracts';
import {
  connectBroker,
  defineTopology,
  handlerFor,
  outgoing,
  publishProperties,
  type Topology,
} from '@mcms/messaging';
import { createLogger } from '@mcms/platform';
import { connect as amqpConnect, type ConfirmChannel, type Options } from 'amqplib';
import pg from 'pg';
import { createBenchHttpClient } from './http-client';
import { round } from './resources';

/** Messages a second through one queue: published with confirms, consumed and acked by another connection. */
export interface MessageRate {
  messages: number;
  messageBytes: number;
  seconds: number;
  perSecond: number;
}

/** Requests or transactions a second over a fixed time with a fixed concurrency. */
export interface OperationRate {
  operations: number;
  concurrency: number;
  seconds: number;
  perSecond: number;
}

const PUBLISH_WINDOW = 500;
const PREFETCH = 200;

/**
 * How raw amqplib addresses its messages. `bare`: straight to the queue through the default exchange, with no
 * properties but `persistent` (the raw limit). `system`: the wire shape of our messages without our
 * code — through a topic exchange bound to the queue by routing key, with the properties and the header our
 * publisher sets (`publishProperties` of @mcms/messaging). The difference between the two is what the broker
 * charges for the design's topic exchanges and properties; the difference between `system` and
 * @mcms/messaging is what our package costs.
 */
export type RawShape = 'bare' | 'system';

/**
 * Raw amqplib: one confirm channel publishing `count` persistent messages of `bytes` with at most
 * {@link PUBLISH_WINDOW} unconfirmed, one consumer connection (prefetch {@link PREFETCH}) acking each; timed
 * from the first publish to the last delivery. `shape` (default `bare`): see {@link RawShape}.
 */
export async function rawAmqp(
  amqpUrl: string,
  queue: string,
  {
    count,
    bytes = 500,
    queueType,
    shape = 'bare',
  }: { count: number; bytes?: number; queueType: 'classic' | 'quorum'; shape?: RawShape },
): Promise<MessageRate> {
  const publisher = await amqpConnect(amqpUrl, { clientProperties: { connection_name: `${queue}-pub` } });
  const consumer = await amqpConnect(amqpUrl, { clientProperties: { connection_name: `${queue}-sub` } });
  try {
    const pub: ConfirmChannel = await publisher.createConfirmChannel();
    await pub.assertQueue(queue, {
      durable: true,
      arguments: queueType === 'quorum' ? { 'x-queue-type': 'quorum' } : {},
    });
    await pub.purgeQueue(queue);
    // `system`: a topic exchange bound by routing key, and our publisher's properties with ids made before the
    // clock starts, as our messages' are.
    let exchange = '';
    let routingKey = queue;
    let optionsOf = (_i: number): Options.Publish => ({ persistent: true, mandatory: true });
    if (shape === 'system') {
      exchange = `${queue}.topic`;
      routingKey = AddinJobResultCommand.routingKey;
      await pub.assertExchange(exchange, 'topic', { durable: true });
      await pub.bindQueue(queue, exchange, routingKey);
      const ids = Array.from({ length: count }, () => ({
        messageId: randomUUID(),
        type: AddinJobResultCommand.type,
        correlationId: randomUUID(),
      }));
      optionsOf = (i) => publishProperties(ids[i]!, 'bench-raw');
    }
    const sub = await consumer.createChannel();
    await sub.prefetch(PREFETCH);
    let received = 0;
    let done!: () => void;
    const allReceived = new Promise<void>((resolve) => (done = resolve));
    await sub.consume(queue, (msg) => {
      if (!msg) return;
      sub.ack(msg);
      if (++received === count) done();
    });
    const body = Buffer.alloc(bytes, 'x');
    const started = performance.now();
    let inFlight = 0;
    let sent = 0;
    await new Promise<void>((resolve, reject) => {
      const pump = () => {
        while (inFlight < PUBLISH_WINDOW && sent < count) {
          inFlight++;
          sent++;
          pub.publish(exchange, routingKey, body, optionsOf(sent - 1), (err) => {
            if (err) return reject(err instanceof Error ? err : new Error(String(err)));
            inFlight--;
            if (sent === count && inFlight === 0) resolve();
            else pump();
          });
        }
      };
      pump();
    });
    await allReceived;
    const seconds = (performance.now() - started) / 1000;
    await sub.close().catch(() => {});
    await pub.deleteQueue(queue).catch(() => {});
    if (shape === 'system') await pub.deleteExchange(exchange).catch(() => {});
    return {
      messages: count,
      messageBytes: bytes,
      seconds: round(seconds, 3),
      perSecond: round(count / seconds),
    };
  } finally {
    await publisher.close().catch(() => {});
    await consumer.close().catch(() => {});
  }
}

/**
 * The same publish + consume through @mcms/messaging: a topology with a consumer queue and its retry
 * tiers and dead-letter queue, real contract messages (AddinJobResultCommand) validated when published
 * and when consumed, confirms and `mandatory` on; at most {@link PUBLISH_WINDOW} publishes awaiting confirms.
 */
export async function ourMessaging(
  amqpUrl: string,
  prefix: string,
  { count, queueType }: { count: number; queueType: 'classic' | 'quorum' },
): Promise<MessageRate> {
  const queue = 'bench.results';
  const topology: Topology = defineTopology({
    prefix,
    queueType,
    consumers: [
      {
        queue,
        bindings: [{ exchange: EXCHANGES.commands, routingKey: AddinJobResultCommand.routingKey }],
        retryDelaysMs: [1_000, 5_000, 30_000, 120_000],
      },
    ],
  });
  const broker = await connectBroker({
    url: amqpUrl,
    topology,
    log: createLogger({ service: 'bench-messaging', level: 'silent' }),
    connectionName: `${prefix}bench`,
  });
  try {
    const messages = Array.from({ length: count }, () =>
      createMessage(
        AddinJobResultCommand,
        {
          jobId: randomUUID(),
          routingId: randomUUID(),
          resultStatus: 'completed',
          message: null,
          outputs: [],
          attempt: 1,
          deviceId: 'BENCH-WS',
          finishedAt: new Date().toISOString(),
        },
        { correlationId: randomUUID() },
      ),
    );
    const messageBytes = Buffer.byteLength(JSON.stringify(messages[0]));
    let received = 0;
    let done!: () => void;
    const allReceived = new Promise<void>((resolve) => (done = resolve));
    const consumer = broker.consume({
      queue,
      prefetch: PREFETCH,
      handlers: {
        [AddinJobResultCommand.type]: handlerFor(AddinJobResultCommand, async () => {
          if (++received === count) done();
        }),
      },
    });
    // Subscribed before the clock starts, as the raw consumer is.
    await consumer.ready;
    const started = performance.now();
    let next = 0;
    const lane = async () => {
      while (next < count) {
        const message = messages[next++]!;
        await broker.publisher.publish(outgoing(AddinJobResultCommand, message));
      }
    };
    await Promise.all(Array.from({ length: PUBLISH_WINDOW }, lane));
    await allReceived;
    const seconds = (performance.now() - started) / 1000;
    return { messages: count, messageBytes, seconds: round(seconds, 3), perSecond: round(count / seconds) };
  } finally {
    await broker.close({ drainTimeoutMs: 2_000 }).catch(() => {});
    await deleteQueuesAndExchanges(amqpUrl, [
      ...topology.queues.map((q) => ({ kind: 'queue' as const, name: q.name })),
      ...topology.exchanges.map((e) => ({ kind: 'exchange' as const, name: e.name })),
    ]);
  }
}

async function deleteQueuesAndExchanges(
  amqpUrl: string,
  objects: Array<{ kind: 'queue' | 'exchange'; name: string }>,
): Promise<void> {
  const connection = await amqpConnect(amqpUrl);
  connection.on('error', () => {});
  try {
    for (const { kind, name } of objects) {
      // A failed delete closes its channel, so each gets its own.
      const channel = await connection.createChannel();
      channel.on('error', () => {});
      await (kind === 'queue' ? channel.deleteQueue(name) : channel.deleteExchange(name)).catch(() => {});
      await channel.close().catch(() => {});
    }
  } finally {
    await connection.close().catch(() => {});
  }
}

/**
 * Small idempotent write transactions: `INSERT … ON CONFLICT DO NOTHING` of one row into a logged table
 * (commits wait for the WAL flush like the services' do), autocommit, `concurrency` clients, for `ms`.
 */
export async function rawPostgres(
  databaseUrl: string,
  schema: string,
  { ms, concurrency = 8 }: { ms: number; concurrency?: number },
): Promise<OperationRate> {
  const pool = new pg.Pool({ connectionString: databaseUrl, max: concurrency });
  pool.on('error', () => {});
  try {
    await pool.query(`CREATE SCHEMA IF NOT EXISTS "${schema}"`);
    await pool.query(
      `CREATE TABLE IF NOT EXISTS "${schema}".raw_tx (id uuid PRIMARY KEY, n int NOT NULL, at timestamptz NOT NULL DEFAULT now())`,
    );
    const sql = `INSERT INTO "${schema}".raw_tx (id, n) VALUES ($1, $2) ON CONFLICT (id) DO NOTHING`;
    let operations = 0;
    const started = performance.now();
    const deadline = started + ms;
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        const client = await pool.connect();
        try {
          while (performance.now() < deadline) {
            await client.query(sql, [randomUUID(), operations]);
            operations++;
          }
        } finally {
          client.release();
        }
      }),
    );
    const seconds = (performance.now() - started) / 1000;
    return { operations, concurrency, seconds: round(seconds, 3), perSecond: round(operations / seconds) };
  } finally {
    await pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`).catch(() => {});
    await pool.end();
  }
}

// The services' HTTP stack without their middleware, in a process of its own like a service: express 5, its JSON
// body parser, and a server that creates requests and responses with the app's prototypes, as startHttpServer
// does (decision 0020).
const BARE_SERVER = `
const express = require(process.env.EXPRESS_PATH);
const { bornWithAppPrototypes } = require(process.env.PLATFORM_PATH);
const app = express();
app.use(express.json({ limit: '1mb' }));
app.post('/echo', (req, res) => { res.json({ ok: true, n: req.body.n }); });
const server = require('node:http').createServer(bornWithAppPrototypes(app), app);
server.listen(0, '127.0.0.1', () => process.send(server.address().port));
process.on('disconnect', () => process.exit(0));
`;

/** The bare express POST, once with each client. */
export interface HttpRates {
  /** node:http with a keep-alive Agent: the server stack's limit (the bound uses this one). */
  server: OperationRate;
  /** Global fetch, the add-in client's default: where a load generator on fetch would top out. */
  fetchClient: OperationRate;
  /** undici's `request` (http-client.ts), the client the simulated add-ins use here: the load generator's ceiling. */
  benchClient: OperationRate;
}

/**
 * A bare express 5 POST hammered for `ms` by `concurrency` keep-alive requests in flight with a body the
 * size of a `/complete`: first with node:http (the server's limit), then with global fetch (the add-in
 * client's default; fetch costs the client several times the CPU per request), then with the benchmark's own
 * add-in HTTP client (undici's `request`).
 */
export async function rawHttp(
  workspaceRoot: string,
  { ms, concurrency = 32 }: { ms: number; concurrency?: number },
): Promise<HttpRates> {
  const expressPath = require.resolve('express', {
    paths: [path.join(workspaceRoot, 'services', 'addin-gateway')],
  });
  const child = spawn(process.execPath, ['-e', BARE_SERVER], {
    env: {
      PATH: process.env.PATH ?? '',
      EXPRESS_PATH: expressPath,
      PLATFORM_PATH: path.join(workspaceRoot, 'packages', 'platform', 'dist', 'index.js'),
      NODE_ENV: 'production',
    },
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
  });
  try {
    const port = await new Promise<number>((resolve, reject) => {
      child.once('message', (message) => resolve(Number(message)));
      child.once('exit', (code) => reject(new Error(`the bare express server exited (code ${code})`)));
    });
    const body = JSON.stringify({
      n: 1,
      resultStatus: 'completed',
      outputs: [1, 2, 3].map((i) => ({ path: `ROUTING-${i}.nc`, sha256: 'a'.repeat(64), sizeBytes: 1024 })),
    });
    const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
    const viaAgent = () =>
      new Promise<number>((resolve, reject) => {
        const request = http.request(
          {
            host: '127.0.0.1',
            port,
            path: '/echo',
            method: 'POST',
            agent,
            headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
          },
          (response) => {
            response.resume();
            response.on('end', () => resolve(response.statusCode ?? 0));
            response.on('error', reject);
          },
        );
        request.on('error', reject);
        request.end(body);
      });
    // The same POST through a fetch-shaped client: global fetch, or the benchmark's (http-client.ts).
    const viaFetchOf = (client: typeof fetch) => async () => {
      const response = await client(`http://127.0.0.1:${port}/echo`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body,
      });
      await response.text();
      return response.status;
    };
    const hammer = async (call: () => Promise<number>): Promise<OperationRate> => {
      let operations = 0;
      const started = performance.now();
      const deadline = started + ms;
      await Promise.all(
        Array.from({ length: concurrency }, async () => {
          while (performance.now() < deadline) {
            const status = await call();
            if (status !== 200) throw new Error(`bare express answered ${status}`);
            operations++;
          }
        }),
      );
      const seconds = (performance.now() - started) / 1000;
      return { operations, concurrency, seconds: round(seconds, 3), perSecond: round(operations / seconds) };
    };
    const server = await hammer(viaAgent);
    agent.destroy();
    const fetchClient = await hammer(viaFetchOf(fetch));
    const bench = createBenchHttpClient();
    const benchClient = await hammer(viaFetchOf(bench.fetch)).finally(() => bench.close());
    return { server, fetchClient, benchClient };
  } finally {
    child.kill('SIGTERM');
  }
}
