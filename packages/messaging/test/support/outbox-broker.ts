import { randomBytes, randomUUID } from 'node:crypto';
import { EXCHANGES } from '@mcms/contracts';
import { createLogger } from '@mcms/platform';
import { connect, type Channel, type ChannelModel } from 'amqplib';
import { connectBroker, type Broker } from '../../src/broker';
import { defineTopology } from '../../src/topology';
import type { OutgoingMessage, Publisher } from '../../src/types';

/** The broker every messaging test uses; `TEST_AMQP_URL` overrides it. */
export const TEST_AMQP_URL = process.env.TEST_AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672';

/** One message as the test queue received it. */
export interface Received {
  messageId: string;
  routingKey: string;
  /** `performance.now()` when the consumer got it. */
  at: number;
}

/**
 * A private corner of the real broker for one test: a topology of its own (unique prefix, classic
 * queues) with one work queue bound to `test.#` on both exchanges, publishers from the messaging
 * package's own `connectBroker` (confirms, mandatory, `unroutable` when nothing is bound), and a
 * plain consumer recording what arrives on the work queue.
 */
export interface OutboxTestBroker {
  prefix: string;
  queue: string;
  /** The publisher of the broker connection this helper opened. */
  publisher: Publisher;
  /** The publisher of another broker connection, e.g. one per relay (as if in another process). */
  newPublisher(): Promise<Publisher>;
  received: Received[];
  /** How often the message with this id has arrived so far. */
  countOf(messageId: string): number;
  /** Resolves once every one of `messageIds` has arrived at least once. */
  waitFor(messageIds: readonly string[], timeoutMs?: number): Promise<Received[]>;
  /**
   * Publishes a sentinel and waits for it: afterwards every message the broker confirmed before
   * has arrived too (one queue is FIFO), so "it never arrived" can be asserted without a sleep.
   */
  flush(timeoutMs?: number): Promise<void>;
  /** Binds the work queue to `routingKey` on both exchanges. */
  bind(routingKey: string): Promise<void>;
  close(): Promise<void>;
}

const WORK_QUEUE = 'outbox-test';
const silent = createLogger({ service: 'outbox-test-broker', level: 'silent' });

export async function openOutboxTestBroker(): Promise<OutboxTestBroker> {
  const prefix = `t_${randomBytes(6).toString('hex')}.`;
  const topology = defineTopology({
    prefix,
    queueType: 'classic',
    consumers: [
      {
        queue: WORK_QUEUE,
        bindings: Object.values(EXCHANGES).map((exchange) => ({ exchange, routingKey: 'test.#' })),
        retryDelaysMs: [],
      },
    ],
  });
  const queue = topology.names.queue(WORK_QUEUE);
  const brokers: Broker[] = [];
  async function newBroker(): Promise<Broker> {
    const broker = await connectBroker({
      url: TEST_AMQP_URL,
      topology,
      log: silent,
      connectionName: `${prefix}outbox-test-${brokers.length}`,
    });
    brokers.push(broker);
    return broker;
  }
  const { publisher } = await newBroker();

  const connection: ChannelModel = await connect(TEST_AMQP_URL);
  const admin: Channel = await connection.createChannel();
  const bind = async (routingKey: string) => {
    for (const logical of Object.values(EXCHANGES)) {
      await admin.bindQueue(queue, topology.names.exchange(logical), routingKey);
    }
  };

  const received: Received[] = [];
  const arrivals = new Map<string, number>();
  let notify: Array<() => void> = [];
  const consumer = await connection.createChannel();
  await consumer.consume(
    queue,
    (message) => {
      if (message === null) return;
      const envelope = JSON.parse(message.content.toString('utf8')) as { messageId: string };
      received.push({
        messageId: envelope.messageId,
        routingKey: message.fields.routingKey,
        at: performance.now(),
      });
      arrivals.set(envelope.messageId, (arrivals.get(envelope.messageId) ?? 0) + 1);
      const waiting = notify;
      notify = [];
      for (const wakeUp of waiting) wakeUp();
    },
    { noAck: true },
  );

  async function waitUntil<T>(probe: () => T | undefined, what: string, timeoutMs: number): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const value = probe();
      if (value !== undefined) return value;
      const left = deadline - Date.now();
      if (left <= 0)
        throw new Error(`timed out after ${timeoutMs} ms waiting for ${what} (received ${received.length})`);
      let timer: NodeJS.Timeout | undefined;
      await new Promise<void>((resolve) => {
        notify.push(resolve);
        timer = setTimeout(resolve, left);
      });
      clearTimeout(timer);
    }
  }

  return {
    prefix,
    queue,
    publisher,
    newPublisher: async () => (await newBroker()).publisher,
    received,
    countOf: (messageId) => arrivals.get(messageId) ?? 0,
    waitFor: (messageIds, timeoutMs = 20_000) => {
      const wanted = new Set(messageIds);
      const missing = new Set(messageIds.filter((id) => !arrivals.has(id)));
      let seen = received.length;
      return waitUntil(
        () => {
          for (; seen < received.length; seen += 1) missing.delete((received[seen] as Received).messageId);
          return missing.size === 0 ? received.filter((r) => wanted.has(r.messageId)) : undefined;
        },
        `${messageIds.length} messages`,
        timeoutMs,
      );
    },
    async flush(timeoutMs = 20_000) {
      const sentinel = testMessage(0, 'test.sentinel');
      await publisher.publish(sentinel);
      await waitUntil(() => arrivals.get(sentinel.envelope.messageId), 'the sentinel', timeoutMs);
    },
    bind,
    async close() {
      await Promise.all(brokers.map((broker) => broker.close({ drainTimeoutMs: 2_000 })));
      for (const declared of topology.queues) await admin.deleteQueue(declared.name);
      for (const exchange of topology.exchanges) await admin.deleteExchange(exchange.name);
      await connection.close();
    },
  };
}

/** A valid outgoing test event; its routing key is bound to the test queue unless you pass another. */
export function testMessage(n: number, routingKey = 'test.thing-happened'): OutgoingMessage {
  return {
    exchange: EXCHANGES.events,
    routingKey,
    envelope: {
      messageId: randomUUID(),
      type: routingKey,
      version: 1,
      occurredAt: new Date().toISOString(),
      correlationId: `corr-${n}`,
      causationId: null,
      payload: { n },
    },
  };
}
