import { createLogger } from '@mcms/platform';
import { enqueueOutbox, fromPgClient, withPgTransaction } from '../src/outbox';
import { startOutboxRelay } from '../src/outbox-relay';
import { openOutboxTestBroker, testMessage, type OutboxTestBroker } from './support/outbox-broker';
import { createTestSchema, type TestSchema } from './support/pg-schema';

// Figures, not assertions on speed: the machine is shared with the broker and the database. The
// assertions are on correctness under load (every message arrives exactly once).

let db: TestSchema;
let broker: OutboxTestBroker;
const log = createLogger({ service: 'outbox-throughput-test', level: 'warn' });

beforeAll(async () => {
  db = await createTestSchema();
  broker = await openOutboxTestBroker();
});

afterAll(async () => {
  await broker.close();
  await db.drop();
});

const rate = (count: number, ms: number) => `${Math.round((count / ms) * 1000)} msg/s`;

it('baseline: publishes 10,000 messages straight through the broker publisher, 500 at a time', async () => {
  const messages = Array.from({ length: 10_000 }, (_, i) => testMessage(i));
  const startedAt = performance.now();
  for (let i = 0; i < messages.length; i += 500) {
    await Promise.all(messages.slice(i, i + 500).map((m) => broker.publisher.publish(m)));
  }
  const arrived = await broker.waitFor(
    messages.map((m) => m.envelope.messageId),
    60_000,
  );
  const elapsed = Math.max(...arrived.map((r) => r.at)) - startedAt;
  process.stdout.write(
    `baseline, no outbox: 10,000 messages → queue in ${elapsed.toFixed(0)} ms = ${rate(10_000, elapsed)}\n`,
  );
  expect(arrived).toHaveLength(10_000);
});

it('relays a backlog of 10,000 rows to a real queue, each exactly once', async () => {
  const messages = Array.from({ length: 10_000 }, (_, i) => testMessage(i));
  for (let i = 0; i < messages.length; i += 500) {
    await withPgTransaction(db.pool, (client) =>
      enqueueOutbox(fromPgClient(client), messages.slice(i, i + 500)),
    );
  }

  const startedAt = performance.now();
  const relay = await startOutboxRelay({
    pool: db.pool,
    schema: db.schema,
    publisher: broker.publisher,
    log,
  });
  try {
    const arrived = await broker.waitFor(
      messages.map((m) => m.envelope.messageId),
      60_000,
    );
    const elapsed = Math.max(...arrived.map((r) => r.at)) - startedAt;
    await relay.drained();
    await broker.flush();
    process.stdout.write(
      `outbox relay backlog: 10,000 rows → queue in ${elapsed.toFixed(0)} ms = ${rate(10_000, elapsed)}\n`,
    );
    expect(messages.filter((m) => broker.countOf(m.envelope.messageId) !== 1)).toEqual([]);
    expect(await relay.pending()).toBe(0);
  } finally {
    await relay.stop();
  }
});

it('keeps up with 10,000 messages committed by concurrent producers in transactions of 10', async () => {
  const relay = await startOutboxRelay({
    pool: db.pool,
    schema: db.schema,
    publisher: broker.publisher,
    log,
  });
  try {
    await relay.drained();
    const messages = Array.from({ length: 10_000 }, (_, i) => testMessage(i));
    const startedAt = performance.now();
    const producing = (async () => {
      const batches = Array.from({ length: 1_000 }, (_, b) => messages.slice(b * 10, b * 10 + 10));
      // Four producers, like four request handlers each committing a state change with its events.
      await Promise.all(
        [0, 1, 2, 3].map(async (producer) => {
          for (let b = producer; b < batches.length; b += 4) {
            await withPgTransaction(db.pool, (client) =>
              enqueueOutbox(fromPgClient(client), batches[b] ?? []),
            );
          }
        }),
      );
      return performance.now() - startedAt;
    })();

    const arrived = await broker.waitFor(
      messages.map((m) => m.envelope.messageId),
      60_000,
    );
    const produced = await producing;
    const elapsed = Math.max(...arrived.map((r) => r.at)) - startedAt;
    await relay.drained();
    await broker.flush();
    process.stdout.write(
      `outbox relay under load: producers committed 10,000 in ${produced.toFixed(0)} ms (${rate(10_000, produced)}); ` +
        `all at the queue after ${elapsed.toFixed(0)} ms = ${rate(10_000, elapsed)}\n`,
    );
    expect(messages.filter((m) => broker.countOf(m.envelope.messageId) !== 1)).toEqual([]);
  } finally {
    await relay.stop();
  }
});
