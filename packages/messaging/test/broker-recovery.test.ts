import { AddinJobResultCommand, EXCHANGES, type MessageOf } from '@mcms/contracts';
import { isAppError } from '@mcms/platform';
import { connectBroker, type Broker } from '../src/broker';
import { handlerFor } from '../src/consumer';
import { defineTopology, type Topology } from '../src/topology';
import { outgoing } from '../src/types';
import {
  AMQP_URL,
  captureLogger,
  deferred,
  deleteTopology,
  prepareBrokerClose,
  prepareSocketDestroy,
  startBrokerProxy,
  openAdmin,
  resultMessage,
  uniquePrefix,
  waitFor,
  type Admin,
} from './support/broker-harness';

type Result = MessageOf<typeof AddinJobResultCommand>;

const RESULTS = 'routing-worker.addin-job-results';
const bindings = [{ exchange: EXCHANGES.commands, routingKey: AddinJobResultCommand.routingKey }];

let admin: Admin;
const cleanups: Array<() => Promise<void>> = [];
let stopped = false;

beforeAll(async () => {
  admin = await openAdmin();
});
beforeEach(() => {
  stopped = false;
});
afterEach(async () => {
  stopped = true;
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});
afterAll(async () => {
  await admin.close();
});

async function startBroker(overrides: { url?: string; publisher?: { timeoutMs?: number } } = {}) {
  const prefix = uniquePrefix();
  const topology: Topology = defineTopology({
    prefix,
    consumers: [{ queue: RESULTS, bindings, retryDelaysMs: [200] }],
  });
  const logs = captureLogger();
  const connectionName = `${prefix}recovery-test`;
  const broker: Broker = await connectBroker({
    url: overrides.url ?? AMQP_URL,
    topology,
    log: logs.log,
    connectionName,
    reconnect: { initialDelayMs: 100, maxDelayMs: 2_000 },
    ...(overrides.publisher ? { publisher: overrides.publisher } : {}),
  });
  cleanups.push(async () => {
    await broker.close({ drainTimeoutMs: 2_000 });
    await deleteTopology(topology);
  });
  return { broker, topology, logs, connectionName, names: topology.names };
}

/** What the outbox relay does: publish again on a retryable rejection until the broker confirms. */
async function publishUntilConfirmed(
  broker: Broker,
  message: Result,
  stats: { rejections: number },
): Promise<void> {
  // The test's end (failed or not) stops the loop.
  while (!stopped) {
    try {
      await broker.publisher.publish(outgoing(AddinJobResultCommand, message));
      return;
    } catch (err) {
      if (!isAppError(err) || !err.retryable) throw err;
      stats.rejections++;
    }
  }
  throw new Error('gave up publishing');
}

/** Holds a paced stream at an index until released: a kill lands before the stream can end. */
interface Gate {
  holdAt: number;
  waiters: Array<() => void>;
}

function release(gate: Gate): void {
  gate.holdAt = Number.POSITIVE_INFINITY;
  for (const wake of gate.waiters.splice(0)) wake();
}

/**
 * Runs `work` over `items` with at most `concurrency` at once, starting at most `perSecond` a second
 * (paced like a steady producer) and never past `gate.holdAt` until the gate is released.
 */
async function paced<T>(
  items: readonly T[],
  concurrency: number,
  perSecond: number,
  gate: Gate,
  work: (item: T) => Promise<void>,
) {
  let tokens = 0;
  let waiting: Array<() => void> = [];
  const tickMs = 20;
  const refill = setInterval(() => {
    tokens += (perSecond * tickMs) / 1000;
    while (tokens >= 1 && waiting.length > 0) {
      tokens--;
      waiting.shift()?.();
    }
  }, tickMs);
  const token = () => new Promise<void>((resolve) => waiting.push(resolve));
  let next = 0;
  try {
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (next < items.length) {
          while (next >= gate.holdAt) await new Promise<void>((resolve) => gate.waiters.push(resolve));
          if (next >= items.length) break;
          const item = items[next++] as T;
          await token();
          await work(item);
        }
      }),
    );
  } finally {
    clearInterval(refill);
    waiting = [];
  }
}

describe('broker recovery', () => {
  type PrepareKill = (connectionName: string) => Promise<() => Promise<void>>;

  async function streamThroughFailures(kills: Array<{ at: number; prepare: PrepareKill }>) {
    const N = 2_000;
    const { broker, logs, connectionName } = await startBroker();
    const handled = new Map<string, number>();
    const consumer = broker.consume({
      queue: RESULTS,
      prefetch: 64,
      handlers: {
        [AddinJobResultCommand.type]: handlerFor(AddinJobResultCommand, async (message) => {
          handled.set(message.messageId, (handled.get(message.messageId) ?? 0) + 1);
        }),
      },
    });
    await consumer.ready;
    const messages = Array.from({ length: N }, () => resultMessage());
    const stats = { rejections: 0 };
    let confirmed = 0;
    const started = performance.now();
    const gate: Gate = { holdAt: Number.POSITIVE_INFINITY, waiters: [] };
    cleanups.push(async () => release(gate));
    const publishing = paced(messages, 32, 500, gate, async (message) => {
      await publishUntilConfirmed(broker, message, stats);
      confirmed++;
    });

    const confirmedAtKill: number[] = [];
    for (const [index, { at, prepare }] of kills.entries()) {
      // However slow rabbitmqctl is today, the stream waits a little past `at` for the kill.
      gate.holdAt = at + 600;
      const kill = await prepare(connectionName);
      await waitFor(() => confirmed >= at, { timeoutMs: 20_000, what: `${at} confirms` });
      await kill();
      confirmedAtKill.push(confirmed);
      release(gate);
      await waitFor(() => logs.messages('reconnected to the broker').length > index, {
        timeoutMs: 20_000,
        what: 'the reconnect',
      });
    }
    await publishing;
    await waitFor(() => handled.size === N, {
      timeoutMs: 30_000,
      intervalMs: 20,
      what: `all ${N} messages to be handled`,
    });
    const elapsedMs = performance.now() - started;

    // Each kill landed mid-stream, not after the last publish.
    for (const count of confirmedAtKill) expect(count).toBeLessThan(N);
    const deliveries = [...handled.values()].reduce((sum, count) => sum + count, 0);
    const ids = new Set(messages.map((message) => message.messageId));
    expect([...handled.keys()].every((id) => ids.has(id))).toBe(true);
    expect(handled.size).toBe(N);
    const downtimes = logs.messages('reconnected to the broker').map((line) => line.downtimeMs as number);
    expect(downtimes).toHaveLength(kills.length);
    expect(logs.messages('lost the broker connection; reconnecting')).toHaveLength(kills.length);
    expect(broker.health()).toMatchObject({
      connected: true,
      consumers: [{ queue: RESULTS, state: 'active' }],
    });
    return {
      N,
      downtimes,
      duplicates: deliveries - N,
      rejections: stats.rejections,
      elapsedMs,
      confirmedAtKill,
    };
  }

  it('loses no message when the broker closes our connection twice mid-stream', async () => {
    const figures = await streamThroughFailures([
      { at: 300, prepare: prepareBrokerClose },
      { at: 1_100, prepare: prepareBrokerClose },
    ]);
    console.log(
      `rabbitmqctl close_connection ×2: N=${figures.N}, all handled, duplicates=${figures.duplicates}, ` +
        `publish rejections retried=${figures.rejections}, reconnect downtime ms=${figures.downtimes.join(', ')}, ` +
        `killed at ${figures.confirmedAtKill.join(', ')} confirmed, total ${Math.round(figures.elapsedMs)} ms`,
    );
  }, 60_000);

  it('loses no message when our socket dies without a close handshake, reset or silently destroyed', async () => {
    const figures = await streamThroughFailures([
      {
        at: 500,
        prepare: (name) =>
          prepareSocketDestroy(name, Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' })),
      },
      { at: 1_300, prepare: (name) => prepareSocketDestroy(name) },
    ]);
    console.log(
      `socket reset ×1 + destroyed ×1: N=${figures.N}, all handled, duplicates=${figures.duplicates}, ` +
        `publish rejections retried=${figures.rejections}, reconnect downtime ms=${figures.downtimes.join(', ')}, ` +
        `killed at ${figures.confirmedAtKill.join(', ')} confirmed, total ${Math.round(figures.elapsedMs)} ms`,
    );
  }, 60_000);

  it('resubscribes after the broker cancels the consumer because its queue was deleted', async () => {
    const { broker, logs, names } = await startBroker();
    const handled: string[] = [];
    const consumer = broker.consume({
      queue: RESULTS,
      handlers: {
        [AddinJobResultCommand.type]: handlerFor(AddinJobResultCommand, async (message) => {
          handled.push(message.messageId);
        }),
      },
    });
    await consumer.ready;

    await admin.channel.deleteQueue(names.queue(RESULTS));
    await waitFor(
      () =>
        logs.messages('consumer cancelled by the broker (queue deleted or moved); resubscribing').length ===
        1,
      {
        what: 'the cancel to be noticed',
      },
    );
    await waitFor(() => logs.messages('consumer subscribed').length === 2, {
      what: 'the consumer to resubscribe',
    });
    expect(broker.health().consumers).toEqual([
      { queue: RESULTS, state: 'active', inFlight: 0, stalled: false },
    ]);
    expect(() => broker.readinessCheck().check()).not.toThrow();

    // The queue and its binding are back: a new message arrives.
    const after = resultMessage();
    await broker.publisher.publish(outgoing(AddinJobResultCommand, after));
    await waitFor(() => handled.includes(after.messageId), {
      what: 'the message published after the resubscribe',
    });
  });

  it('reports not ready while it cannot resubscribe, and recovers once it can', async () => {
    const { broker, logs, names } = await startBroker();
    const consumer = broker.consume({
      queue: RESULTS,
      handlers: { [AddinJobResultCommand.type]: handlerFor(AddinJobResultCommand, async () => {}) },
    });
    await consumer.ready;

    // Someone re-creates the queue with other arguments: re-asserting ours fails until it is gone.
    await admin.channel.deleteQueue(names.queue(RESULTS));
    await admin.channel.assertQueue(names.queue(RESULTS), { durable: false, autoDelete: false });
    await waitFor(() => logs.messages('consumer could not resubscribe; retrying').length >= 1, {
      what: 'a failed resubscribe',
    });
    expect(broker.health().consumers[0]?.state).toBe('recovering');
    expect(() => broker.readinessCheck().check()).toThrow(`consumer of ${RESULTS} is recovering`);

    await admin.channel.deleteQueue(names.queue(RESULTS));
    await waitFor(() => broker.health().consumers[0]?.state === 'active', {
      what: 'the consumer to recover',
    });
    expect(() => broker.readinessCheck().check()).not.toThrow();
  });

  it('reports a handler that runs longer than its timeout as not ready', async () => {
    const { broker } = await startBroker();
    const release = deferred();
    const started = deferred();
    broker.consume({
      queue: RESULTS,
      handlerTimeoutMs: 100,
      handlers: {
        [AddinJobResultCommand.type]: handlerFor(AddinJobResultCommand, async () => {
          started.resolve();
          await release.promise;
        }),
      },
    });
    await broker.publisher.publish(outgoing(AddinJobResultCommand, resultMessage()));
    await started.promise;
    expect(() => broker.readinessCheck().check()).not.toThrow();

    await waitFor(() => broker.health().consumers[0]?.stalled, { what: 'the handler to count as stalled' });
    expect(broker.health().consumers[0]).toMatchObject({ state: 'active', inFlight: 1, stalled: true });
    expect(() => broker.readinessCheck().check()).toThrow(
      /a handler on routing-worker\.addin-job-results has been running longer/,
    );

    release.resolve();
    await waitFor(() => broker.health().consumers[0]?.inFlight === 0, { what: 'the handler to finish' });
    expect(() => broker.readinessCheck().check()).not.toThrow();
  });

  it('reports not ready while disconnected, and ready again once reconnected', async () => {
    const proxy = await startBrokerProxy();
    cleanups.push(() => proxy.close());
    const { broker, logs } = await startBroker({ url: proxy.url });
    broker.consume({
      queue: RESULTS,
      handlers: { [AddinJobResultCommand.type]: handlerFor(AddinJobResultCommand, async () => {}) },
    });
    await waitFor(() => broker.health().consumers[0]?.state === 'active', {
      what: 'the consumer to subscribe',
    });

    proxy.shut();
    await waitFor(() => logs.messages('lost the broker connection; reconnecting').length === 1, {
      what: 'the loss',
    });
    await waitFor(() => logs.messages('could not reconnect to the broker').length >= 1, {
      what: 'a refused reconnect',
    });
    expect(broker.health()).toEqual({
      connected: false,
      consumers: [{ queue: RESULTS, state: 'recovering', inFlight: 0, stalled: false }],
    });
    expect(() => broker.readinessCheck().check()).toThrow(
      `not connected to RabbitMQ (reconnecting); consumer of ${RESULTS} is recovering`,
    );

    proxy.open();
    await waitFor(() => logs.messages('reconnected to the broker').length === 1, { what: 'the reconnect' });
    await waitFor(() => broker.health().consumers[0]?.state === 'active', {
      what: 'the consumer to resubscribe',
    });
    expect(() => broker.readinessCheck().check()).not.toThrow();
  });

  it('waits for a running handler on close, so its message is acked and not redelivered', async () => {
    const { broker, names } = await startBroker();
    const release = deferred();
    const started = deferred();
    let finished = false;
    broker.consume({
      queue: RESULTS,
      handlers: {
        [AddinJobResultCommand.type]: handlerFor(AddinJobResultCommand, async () => {
          started.resolve();
          await release.promise;
          finished = true;
        }),
      },
    });
    await broker.publisher.publish(outgoing(AddinJobResultCommand, resultMessage()));
    await started.promise;

    let closed = false;
    const closing = broker.close({ drainTimeoutMs: 10_000 }).then(() => {
      closed = true;
    });
    await waitFor(() => broker.health().consumers[0]?.state === 'stopped', {
      what: 'the consumer to be cancelled',
    });
    expect(closed).toBe(false);
    expect(broker.health().consumers[0]?.inFlight).toBe(1);

    release.resolve();
    await closing;
    expect(finished).toBe(true);
    // Acked before the channel closed: nothing came back to the queue.
    expect(await admin.count(names.queue(RESULTS))).toBe(0);
    await expect(
      broker.publisher.publish(outgoing(AddinJobResultCommand, resultMessage())),
    ).rejects.toMatchObject({
      code: 'broker_unavailable',
    });
  });

  it('rejects a publish with broker_unavailable when no connection comes back in time', async () => {
    const proxy = await startBrokerProxy();
    cleanups.push(() => proxy.close());
    const { broker, logs } = await startBroker({ url: proxy.url, publisher: { timeoutMs: 300 } });
    proxy.shut();
    await waitFor(() => !broker.health().connected, { what: 'the disconnect' });

    const before = performance.now();
    await expect(
      broker.publisher.publish(outgoing(AddinJobResultCommand, resultMessage())),
    ).rejects.toMatchObject({
      code: 'broker_unavailable',
      retryable: true,
    });
    expect(performance.now() - before).toBeGreaterThanOrEqual(300 - 5);
    expect(logs.messages('reconnected to the broker')).toHaveLength(0);
  });
});
