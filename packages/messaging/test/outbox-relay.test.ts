import { pgPoolConfig } from '@mcms/db';
import { Pool } from 'pg';
import { createLogger, createMetrics, unavailable, type Logger, type Metrics } from '@mcms/platform';
import { enqueueOutbox, fromPgClient, withPgTransaction } from '../src/outbox';
import { startOutboxRelay, type OutboxRelay, type OutboxRelayOptions } from '../src/outbox-relay';
import type { OutgoingMessage, Publisher } from '../src/types';
import { openOutboxTestBroker, testMessage, type OutboxTestBroker } from './support/outbox-broker';
import { createTestSchema, eventually, TEST_DATABASE_URL, type TestSchema } from './support/pg-schema';

let db: TestSchema;
let broker: OutboxTestBroker;
let relays: OutboxRelay[] = [];
let logLines: Array<{ level: string; msg: string; messageId?: string }> = [];
let log: Logger;

beforeAll(async () => {
  db = await createTestSchema();
});

afterAll(async () => {
  await db.drop();
});

beforeEach(async () => {
  await db.pool.query('TRUNCATE outbox_message');
  broker = await openOutboxTestBroker();
  logLines = [];
  log = createLogger({
    service: 'outbox-relay-test',
    level: 'debug',
    destination: { write: (line: string) => void logLines.push(JSON.parse(line)) },
  });
});

afterEach(async () => {
  await Promise.all(relays.map((relay) => relay.stop()));
  relays = [];
  await broker.close();
});

async function start(options: Partial<OutboxRelayOptions> = {}): Promise<OutboxRelay> {
  const relay = await startOutboxRelay({
    pool: db.pool,
    schema: db.schema,
    publisher: broker.publisher,
    log,
    ...options,
  });
  relays.push(relay);
  return relay;
}

function enqueue(messages: OutgoingMessage[]): Promise<number> {
  return withPgTransaction(db.pool, (client) => enqueueOutbox(fromPgClient(client), messages));
}

/** A publisher that holds every publish until `release()`: `gate` has one entry per publish held. */
function gatedPublisher(): { publisher: Publisher; gate: Array<() => void>; release(): void } {
  const gate: Array<() => void> = [];
  let gated = true;
  return {
    publisher: {
      publish: async (message) => {
        if (gated) await new Promise<void>((resolve) => gate.push(resolve));
        return broker.publisher.publish(message);
      },
    },
    gate,
    release() {
      gated = false;
      for (const open of gate.splice(0)) open();
    },
  };
}

const ids = (messages: readonly OutgoingMessage[]) => messages.map((m) => m.envelope.messageId);

async function metricValue(metrics: Metrics, name: string): Promise<number> {
  const metric = metrics.registry.getSingleMetric(name);
  if (metric === undefined) throw new Error(`no metric ${name}`);
  const { values } = await metric.get();
  return values.find((v) => v.labels.schema === db.schema)?.value ?? 0;
}

const listenerPids = async (): Promise<number[]> =>
  (
    await db.pool.query<{ pid: number }>('SELECT pid FROM pg_stat_activity WHERE query = $1', [
      `LISTEN "mcms_outbox_${db.schema}"`,
    ])
  ).rows.map((r) => r.pid);

describe('startOutboxRelay', () => {
  it('publishes every enqueued row once, in relay order, and deletes it', async () => {
    const metrics = createMetrics({ service: 'test', defaultMetrics: false });
    const relay = await start({ metrics });
    const batches = Array.from({ length: 5 }, (_, b) =>
      Array.from({ length: 10 }, (_, i) => testMessage(b * 10 + i)),
    );

    for (const batch of batches) await enqueue(batch);
    await broker.waitFor(ids(batches.flat()));
    await relay.drained();
    await broker.flush();

    expect(broker.received.filter((r) => r.routingKey !== 'test.sentinel').map((r) => r.messageId)).toEqual(
      ids(batches.flat()),
    );
    expect(await relay.pending()).toBe(0);
    expect(await metricValue(metrics, 'mcms_outbox_published_total')).toBe(50);
    expect(await metricValue(metrics, 'mcms_outbox_lag_seconds')).toBe(0);
  });

  it('is woken by the NOTIFY of a commit long before its fallback poll', async () => {
    const relay = await start({ fallbackPollMs: 60_000 });
    await relay.drained();
    const latencies: number[] = [];

    for (let i = 0; i < 20; i += 1) {
      const message = testMessage(i);
      const client = await db.pool.connect();
      let committedAt: number;
      try {
        await client.query('BEGIN');
        await enqueueOutbox(fromPgClient(client), message);
        committedAt = performance.now();
        await client.query('COMMIT');
      } finally {
        client.release();
      }
      const [arrived] = await broker.waitFor([message.envelope.messageId], 5_000);
      latencies.push((arrived?.at ?? Infinity) - committedAt);
    }

    latencies.sort((a, b) => a - b);
    process.stdout.write(
      `NOTIFY wake latency, COMMIT → consumer (20 sequential messages): p50 ${latencies[10]?.toFixed(1)} ms, ` +
        `max ${latencies[19]?.toFixed(1)} ms\n`,
    );
    expect(latencies[19]).toBeLessThan(5_000);
  });

  it('runs one more pass for a commit notified while a pass was running', async () => {
    const { publisher, gate, release } = gatedPublisher();
    const relay = await start({ publisher, fallbackPollMs: 60_000 });
    const first = testMessage(1);
    await enqueue([first]);
    await eventually(async () => (gate.length === 1 ? true : undefined), 'the first pass to publish');

    const second = testMessage(2);
    await enqueue([second]); // its NOTIFY arrives while the first pass waits for the broker
    await eventually(async () => ((await relay.pending()) === 2 ? true : undefined), 'the second row');
    release();

    await broker.waitFor([first.envelope.messageId, second.envelope.messageId], 5_000);
  });

  it('waits a moment before a pass that follows straight on another, so that it carries the rows committed meanwhile', async () => {
    const { publisher, gate, release } = gatedPublisher();
    // The relay on a pool of its own, so that its passes (one connection each) can be counted.
    const relayPool = new Pool({
      ...pgPoolConfig({ databaseUrl: TEST_DATABASE_URL, schema: db.schema }),
      max: 2,
    });
    try {
      const passes = jest.spyOn(relayPool, 'connect');
      await start({ pool: relayPool, publisher, fallbackPollMs: 60_000, lingerMs: 1_000 });
      const first = testMessage(1);
      await enqueue([first]);
      await eventually(async () => (gate.length === 1 ? true : undefined), 'the first pass to publish');
      const passesBefore = passes.mock.calls.length;
      const second = testMessage(2);
      await enqueue([second]); // notified while the first pass waits for the broker
      release();
      await broker.waitFor([first.envelope.messageId], 5_000);
      // Committed one by one after the first pass: each NOTIFY finds the relay lingering.
      const later = [3, 4, 5, 6].map((n) => testMessage(n));
      for (const message of later) await enqueue([message]);

      await broker.waitFor(ids([second, ...later]), 5_000);
      expect(passes.mock.calls.length - passesBefore).toBe(1);
    } finally {
      await Promise.all(relays.map((relay) => relay.stop()));
      relays = [];
      await relayPool.end();
    }
  });

  it('publishes nothing for a state change that rolled back', async () => {
    await start();
    const rolledBack = testMessage(1);
    const committed = testMessage(2);

    await expect(
      withPgTransaction(db.pool, async (client) => {
        await enqueueOutbox(fromPgClient(client), rolledBack);
        throw new Error('the state change failed');
      }),
    ).rejects.toThrow('the state change failed');
    await enqueue([committed]);
    await broker.waitFor([committed.envelope.messageId]);
    await broker.flush();

    expect(broker.countOf(rolledBack.envelope.messageId)).toBe(0);
  });

  it('publishes rows committed while no relay ran as soon as a relay starts', async () => {
    const messages = Array.from({ length: 10 }, (_, i) => testMessage(i));
    await enqueue(messages);

    await start({ fallbackPollMs: 60_000 });

    await broker.waitFor(ids(messages), 5_000);
  });

  it('leaves the rows of a relay that died before the broker confirmed them to the next relay', async () => {
    const messages = Array.from({ length: 5 }, (_, i) => testMessage(i));
    await enqueue(messages);
    // The dying relay's publishes never reach the broker and never settle until we say so.
    const hanging: Array<(err: Error) => void> = [];
    const dying: Publisher = { publish: () => new Promise<void>((_resolve, reject) => hanging.push(reject)) };
    await start({ publisher: dying, stopTimeoutMs: 5_000 });
    await eventually(
      async () => (hanging.length === 5 ? true : undefined),
      'the dying relay to take the rows',
    );

    // Its database session dies with it: the transaction rolls back and the row locks go.
    await db.pool.query(
      `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
       WHERE application_name = $1 AND state = 'idle in transaction' AND query LIKE 'SELECT id, message_id%'`,
      [db.schema],
    );
    await eventually(async () => {
      const { rows } = await db.pool.query(
        `SELECT 1 FROM pg_stat_activity WHERE application_name = $1 AND query LIKE 'SELECT id, message_id%'`,
        [db.schema],
      );
      return rows.length === 0 ? true : undefined;
    }, 'the dead session to go');
    const next = await start({ publisher: await broker.newPublisher(), fallbackPollMs: 60_000 });

    await broker.waitFor(ids(messages));
    await next.drained();
    for (const reject of hanging) reject(new Error('process died'));
    await broker.flush();
    expect(ids(messages).map((id) => broker.countOf(id))).toEqual([1, 1, 1, 1, 1]);
    expect(await next.pending()).toBe(0);
  });

  it('lets two relays on one table publish each of 5,000 messages exactly once', async () => {
    const metricsA = createMetrics({ service: 'a', defaultMetrics: false });
    const metricsB = createMetrics({ service: 'b', defaultMetrics: false });
    const transactions = Array.from({ length: 250 }, (_, t) =>
      Array.from({ length: 20 }, (_, i) => testMessage(t * 20 + i)),
    );
    // Half is waiting when both relays start (they race for the same first rows), half arrives while they run.
    await Promise.all(transactions.slice(0, 125).map((messages) => enqueue(messages)));
    const [a, b] = await Promise.all([
      start({ batchSize: 100, metrics: metricsA, publisher: await broker.newPublisher() }),
      start({ batchSize: 100, metrics: metricsB, publisher: await broker.newPublisher() }),
    ]);

    await Promise.all(transactions.slice(125).map((messages) => enqueue(messages)));
    await broker.waitFor(ids(transactions.flat()), 30_000);
    await Promise.all([a.drained(), b.drained()]);
    await broker.flush();

    const counts = ids(transactions.flat()).map((id) => broker.countOf(id));
    expect(counts.filter((n) => n !== 1)).toEqual([]);
    expect(await a.pending()).toBe(0);
    const [byA, byB] = [
      await metricValue(metricsA, 'mcms_outbox_published_total'),
      await metricValue(metricsB, 'mcms_outbox_published_total'),
    ];
    expect(byA + byB).toBe(5_000);
    process.stdout.write(`two relays, 5,000 messages: relay A published ${byA}, relay B ${byB}\n`);
  });

  it('keeps an unroutable message, reports a growing lag, and publishes it once something is bound', async () => {
    const metrics = createMetrics({ service: 'test', defaultMetrics: false });
    const relay = await start({ metrics, maxBackoffMs: 200 });
    const stuck = testMessage(1, 'nobody.listens');
    const fine = testMessage(2);

    await enqueue([stuck, fine]);
    await broker.waitFor([fine.envelope.messageId]);
    const firstLag = await eventually(async () => {
      const lag = await relay.lagSeconds();
      return lag > 0 ? lag : undefined;
    }, 'a lag');
    await eventually(
      async () => ((await relay.lagSeconds()) > firstLag + 0.3 ? true : undefined),
      'the lag to grow',
    );

    expect(await relay.pending()).toBe(1);
    expect(await metricValue(metrics, 'mcms_outbox_publish_failures_total')).toBeGreaterThanOrEqual(1);
    expect(await metricValue(metrics, 'mcms_outbox_lag_seconds')).toBeGreaterThan(0);
    expect(logLines).toContainEqual(
      expect.objectContaining({ level: 'error', messageId: stuck.envelope.messageId }),
    );

    await broker.bind('nobody.listens');
    await broker.waitFor([stuck.envelope.messageId]);
    await relay.drained();
    expect(await relay.pending()).toBe(0);
    expect(broker.countOf(fine.envelope.messageId)).toBe(1);
  });

  it('retries the rows a broker outage left unconfirmed, without publishing the confirmed ones again', async () => {
    const metrics = createMetrics({ service: 'test', defaultMetrics: false });
    let calls = 0;
    // Every other publish of the first 20 fails the way a broker that went away does.
    const flaky: Publisher = {
      publish(message) {
        calls += 1;
        if (calls <= 20 && calls % 2 === 0) {
          return Promise.reject(unavailable('the broker connection closed'));
        }
        return broker.publisher.publish(message);
      },
    };
    const messages = Array.from({ length: 20 }, (_, i) => testMessage(i));
    await enqueue(messages);

    const relay = await start({ publisher: flaky, metrics, maxBackoffMs: 200 });

    await broker.waitFor(ids(messages));
    await relay.drained();
    await broker.flush();
    expect(ids(messages).map((id) => broker.countOf(id))).toEqual(messages.map(() => 1));
    expect(await metricValue(metrics, 'mcms_outbox_publish_failures_total')).toBe(10);
    expect(await metricValue(metrics, 'mcms_outbox_published_total')).toBe(20);
  });

  it('reconnects its LISTEN connection and is woken by NOTIFY again', async () => {
    const relay = await start({ fallbackPollMs: 60_000 });
    await relay.drained();
    const [before] = await listenerPids();
    expect(before).toBeDefined();

    await db.pool.query('SELECT pg_terminate_backend($1)', [before]);
    await eventually(async () => {
      const pids = await listenerPids();
      return pids.length === 1 && pids[0] !== before ? true : undefined;
    }, 'a new LISTEN connection');
    await relay.drained();
    const message = testMessage(1);
    await enqueue([message]);

    await broker.waitFor([message.envelope.messageId], 5_000);
    expect(logLines).toContainEqual(
      expect.objectContaining({ level: 'warn', msg: expect.stringContaining('LISTEN') }),
    );
  });

  it('finishes the pass in progress on stop, then releases its connections and publishes no more', async () => {
    const gate: Array<() => void> = [];
    const gated: Publisher = {
      publish: (message) =>
        new Promise<void>((resolve) => gate.push(resolve)).then(() => broker.publisher.publish(message)),
    };
    const relay = await start({ publisher: gated });
    const inFlight = [testMessage(1), testMessage(2), testMessage(3)];
    await enqueue(inFlight);
    await eventually(async () => (gate.length === 3 ? true : undefined), 'the pass to publish');

    const stopped = relay.stop();
    for (const open of gate) open();
    await stopped;

    await broker.waitFor(ids(inFlight));
    expect(await relay.pending()).toBe(0);
    expect(await listenerPids()).toEqual([]);
    expect(db.pool.idleCount).toBe(db.pool.totalCount);
    const afterStop = testMessage(4);
    await enqueue([afterStop]);
    await broker.flush();
    expect(broker.countOf(afterStop.envelope.messageId)).toBe(0);
    expect(await relay.pending()).toBe(1);
    await expect(relay.drained()).rejects.toThrow('stopped');
  });
});
