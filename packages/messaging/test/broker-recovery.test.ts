import { AddinJobResultCommand, EXCHANGES, type MessageOf } from '@mcms/contracts';
import { isAppError } from '@mcms/platform';
import { connectBroker, type Broker } from '../src/broker';
import { handlerFor } from '../src/consumer';
import { defineTopology, type Topology } from '../src/topology';
import { outgoing } from '../src/types';
import {
  AMQP_URL,
  captureLogger,
  closeConnectionByBroker,
  deferred,
  deleteTopology,
  destroyOurSocket,
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

beforeAll(async () => {
  admin = await openAdmin();
});
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});
afterAll(async () => {
  await admin.close();
});

async function startBroker() {
  const prefix = uniquePrefix();
  const topology: Topology = defineTopology({ prefix, consumers: [{ queue: RESULTS, bindings, retryDelaysMs: [200] }] });
  const logs = captureLogger();
  const connectionName = `${prefix}recovery-test`;
  const broker: Broker = await connectBroker({
    url: AMQP_URL,
    topology,
    log: logs.log,
    connectionName,
    reconnect: { initialDelayMs: 100, maxDelayMs: 2_000 },
  });
  cleanups.push(async () => {
    await broker.close({ drainTimeoutMs: 2_000 });
    await deleteTopology(topology);
  });
  return { broker, topology, logs, connectionName, names: topology.names };
}

/** What the outbox relay does: publish again on a retryable rejection until the broker confirms. */
async function publishUntilConfirmed(broker: Broker, message: Result, stats: { rejections: number }): Promise<void> {
  for (;;) {
    try {
      await broker.publisher.publish(outgoing(AddinJobResultCommand, message));
      return;
    } catch (err) {
      if (!isAppError(err) || !err.retryable) throw err;
      stats.rejections++;
    }
  }
}

/** Runs `work` over `items` with at most `concurrency` at once. */
async function inPool<T>(items: readonly T[], concurrency: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < items.length) await work(items[next++] as T);
    }),
  );
}

describe('broker recovery', () => {
  async function streamThroughFailures(kill: (connectionName: string) => Promise<void>, killAt: number[]) {
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
    const publishing = inPool(messages, 32, async (message) => {
      await publishUntilConfirmed(broker, message, stats);
      confirmed++;
    });

    for (const [index, threshold] of killAt.entries()) {
      await waitFor(() => confirmed >= threshold, { timeoutMs: 20_000, what: `${threshold} confirms` });
      await kill(connectionName);
      await waitFor(() => logs.messages('reconnected to the broker').length > index, { timeoutMs: 20_000, what: 'the reconnect' });
    }
    await publishing;
    await waitFor(() => handled.size === N, { timeoutMs: 30_000, intervalMs: 20, what: `all ${N} messages to be handled` });
    const elapsedMs = performance.now() - started;

    const deliveries = [...handled.values()].reduce((sum, count) => sum + count, 0);
    const ids = new Set(messages.map((message) => message.messageId));
    expect([...handled.keys()].every((id) => ids.has(id))).toBe(true);
    expect(handled.size).toBe(N);
    const downtimes = logs.messages('reconnected to the broker').map((line) => line.downtimeMs as number);
    expect(downtimes).toHaveLength(killAt.length);
    expect(logs.messages('lost the broker connection; reconnecting')).toHaveLength(killAt.length);
    expect(broker.health()).toMatchObject({ connected: true, consumers: [{ queue: RESULTS, state: 'active' }] });
    return { N, downtimes, duplicates: deliveries - N, rejections: stats.rejections, elapsedMs };
  }

  it('loses no message when the broker closes our connection twice mid-stream', async () => {
    const figures = await streamThroughFailures(closeConnectionByBroker, [400, 1_200]);
    console.log(
      `rabbitmqctl close_connection ×2: N=${figures.N}, all handled, duplicates=${figures.duplicates}, ` +
        `publish rejections retried=${figures.rejections}, reconnect downtime ms=${figures.downtimes.join(', ')}, ` +
        `total ${Math.round(figures.elapsedMs)} ms`,
    );
  }, 60_000);

  it('loses no message when our socket dies without a close handshake', async () => {
    const figures = await streamThroughFailures(destroyOurSocket, [700]);
    console.log(
      `socket destroyed ×1: N=${figures.N}, all handled, duplicates=${figures.duplicates}, ` +
        `publish rejections retried=${figures.rejections}, reconnect downtime ms=${figures.downtimes.join(', ')}, ` +
        `total ${Math.round(figures.elapsedMs)} ms`,
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
    await waitFor(() => logs.messages('consumer cancelled by the broker (queue deleted or moved); resubscribing').length === 1, {
      what: 'the cancel to be noticed',
    });
    await waitFor(() => logs.messages('consumer subscribed').length === 2, { what: 'the consumer to resubscribe' });
    expect(broker.health().consumers).toEqual([{ queue: RESULTS, state: 'active', inFlight: 0, stalled: false }]);
    expect(() => broker.readinessCheck().check()).not.toThrow();

    // The queue and its binding are back: a new message arrives.
    const after = resultMessage();
    await broker.publisher.publish(outgoing(AddinJobResultCommand, after));
    await waitFor(() => handled.includes(after.messageId), { what: 'the message published after the resubscribe' });
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
    await waitFor(() => logs.messages('consumer could not resubscribe; retrying').length >= 1, { what: 'a failed resubscribe' });
    expect(broker.health().consumers[0]?.state).toBe('recovering');
    expect(() => broker.readinessCheck().check()).toThrow(`consumer of ${RESULTS} is recovering`);

    await admin.channel.deleteQueue(names.queue(RESULTS));
    await waitFor(() => broker.health().consumers[0]?.state === 'active', { what: 'the consumer to recover' });
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
    expect(() => broker.readinessCheck().check()).toThrow(/a handler on routing-worker\.addin-job-results has been running longer/);

    release.resolve();
    await waitFor(() => broker.health().consumers[0]?.inFlight === 0, { what: 'the handler to finish' });
    expect(() => broker.readinessCheck().check()).not.toThrow();
  });

  it('reports not ready while disconnected', async () => {
    const { broker, connectionName, logs } = await startBroker();
    broker.consume({ queue: RESULTS, handlers: { [AddinJobResultCommand.type]: handlerFor(AddinJobResultCommand, async () => {}) } });
    await destroyOurSocket(connectionName);
    await waitFor(() => logs.messages('lost the broker connection; reconnecting').length === 1, { what: 'the loss' });
    // Until the reconnect lands, readiness says why; the reconnect then clears it.
    const health = broker.health();
    if (!health.connected) expect(() => broker.readinessCheck().check()).toThrow(/not connected to RabbitMQ/);
    await waitFor(() => logs.messages('reconnected to the broker').length === 1, { what: 'the reconnect' });
    await waitFor(() => broker.health().consumers[0]?.state === 'active', { what: 'the consumer to resubscribe' });
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
    await waitFor(() => broker.health().consumers[0]?.state === 'stopped', { what: 'the consumer to be cancelled' });
    expect(closed).toBe(false);
    expect(broker.health().consumers[0]?.inFlight).toBe(1);

    release.resolve();
    await closing;
    expect(finished).toBe(true);
    // Acked before the channel closed: nothing came back to the queue.
    expect(await admin.count(names.queue(RESULTS))).toBe(0);
    await expect(broker.publisher.publish(outgoing(AddinJobResultCommand, resultMessage()))).rejects.toMatchObject({
      code: 'broker_unavailable',
    });
  });

  it('rejects a publish with broker_unavailable when no connection comes back in time', async () => {
    const prefix = uniquePrefix();
    const topology = defineTopology({ prefix, consumers: [{ queue: RESULTS, bindings, retryDelaysMs: [200] }] });
    const logs = captureLogger();
    const connectionName = `${prefix}timeout-test`;
    const broker = await connectBroker({
      url: AMQP_URL,
      topology,
      log: logs.log,
      connectionName,
      // Far longer than the publish timeout: the publish can't wait it out.
      reconnect: { initialDelayMs: 30_000, maxDelayMs: 30_000 },
      publisher: { timeoutMs: 300 },
    });
    cleanups.push(async () => {
      await broker.close({ drainTimeoutMs: 1_000 });
      await deleteTopology(topology);
    });
    await destroyOurSocket(connectionName);
    await waitFor(() => !broker.health().connected, { what: 'the disconnect' });

    const before = performance.now();
    await expect(broker.publisher.publish(outgoing(AddinJobResultCommand, resultMessage()))).rejects.toMatchObject({
      code: 'broker_unavailable',
      retryable: true,
    });
    expect(performance.now() - before).toBeGreaterThanOrEqual(300 - 5);
  });
});
