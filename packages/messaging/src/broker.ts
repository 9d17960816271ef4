import { redactUrl, type Logger, type Metrics, type ReadinessCheck } from '@mcms/platform';
import { connect, type Channel, type ChannelModel } from 'amqplib';
import {
  createConsumer,
  type ConsumeOptions,
  type Consumer,
  type ConsumerCore,
  type ConsumerHealth,
} from './consumer';
import { createConfirmPublisher, type BrokerPublisher, type PublisherOptions } from './publisher';
import { applyTopology, type Topology } from './topology';

/** Options of {@link connectBroker}. */
export interface ConnectBrokerOptions {
  /** `amqp://user:password@host:5672/vhost`; only ever logged with the password masked. */
  url: string;
  topology: Topology;
  log: Logger;
  metrics?: Metrics;
  /** Shown by the broker (`rabbitmqctl list_connections client_properties`, management UI): the service name. */
  connectionName: string;
  /** AMQP `app-id` of published messages; default `connectionName`. */
  appId?: string;
  /**
   * AMQP heartbeat, unless the URL sets one: how soon a silently dead connection (no FIN, no RST)
   * is noticed, roughly twice this. Default 10 s (the broker would suggest 60 s).
   */
  heartbeatSeconds?: number;
  /** Exponential backoff with full jitter between reconnect attempts. Default 100 ms doubling up to 10 s. */
  reconnect?: { initialDelayMs?: number; maxDelayMs?: number };
  publisher?: PublisherOptions;
}

/** What `broker.health()` reports. */
export interface BrokerHealth {
  connected: boolean;
  consumers: ConsumerHealth[];
}

/** A broker connection that recovers by itself; see {@link connectBroker}. */
export interface Broker {
  readonly topology: Topology;
  readonly log: Logger;
  /** Confirmed, mandatory publishing; waits out a reconnect for up to `publisher.timeoutMs`. */
  readonly publisher: BrokerPublisher;
  /** Starts consuming a queue of the topology; re-subscribed after every reconnect or broker-side cancel. */
  consume(options: ConsumeOptions): Consumer;
  health(): BrokerHealth;
  /** For the platform's `/readyz`: its check throws, naming the reason, unless connected and every consumer is active and none stalled. */
  readinessCheck(): ReadinessCheck;
  /** Runs `fn` on a short-lived channel of the current connection (waiting for a reconnect like a publish). */
  withChannel<T>(fn: (channel: Channel) => Promise<T>): Promise<T>;
  /**
   * Graceful shutdown: cancels every consumer, waits for running handlers and unconfirmed publishes
   * (together at most `drainTimeoutMs`, default 10 s), then closes the connection. Never reconnects
   * afterwards. Messages whose handlers did not finish return to their queues.
   */
  close(options?: { drainTimeoutMs?: number }): Promise<void>;
}

const now = () => performance.now();
const noop = () => {};

/** Waits for `promise` (ignoring its failure) until `deadline` (performance.now()) at the latest. */
async function within(promise: Promise<unknown>, deadline: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    promise.catch(noop),
    new Promise<void>((resolve) => {
      timer = setTimeout(resolve, Math.max(0, deadline - now()));
    }),
  ]);
  clearTimeout(timer);
}

function withDefaultHeartbeat(url: string, seconds: number): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return url; // amqplib reports the bad URL itself
  }
  if (parsed.searchParams.has('heartbeat')) return url;
  parsed.searchParams.set('heartbeat', String(seconds));
  return parsed.toString();
}

/**
 * Connects to RabbitMQ, applies the topology and returns a {@link Broker}. The first connection must
 * succeed (a wrong URL or topology fails the start); after that, a lost connection is re-opened with
 * exponential backoff and full jitter, and every reconnect applies the topology again, opens a new
 * confirm channel for the publisher and re-subscribes every consumer.
 */
export async function connectBroker(options: ConnectBrokerOptions): Promise<Broker> {
  const { topology, connectionName } = options;
  const log = options.log.child({ component: 'broker', connectionName });
  const initialDelayMs = options.reconnect?.initialDelayMs ?? 100;
  const maxDelayMs = options.reconnect?.maxDelayMs ?? 10_000;
  const timeoutMs = options.publisher?.timeoutMs ?? 10_000;
  const backoff = (attempt: number) =>
    Math.floor(Math.random() * Math.min(maxDelayMs, initialDelayMs * 2 ** Math.min(attempt, 30)));

  let model: ChannelModel | undefined;
  let closing = false;
  let closePromise: Promise<void> | undefined;
  let reconnecting: Promise<void> | undefined;
  let reconnectTimer: NodeJS.Timeout | undefined;
  let reconnectAttempt = 0;
  let disconnectedAt = 0;
  let publisherRecoveryTimer: NodeJS.Timeout | undefined;
  let publisherRecoveryAttempt = 0;
  let connectionWaiters: Array<{ resolve: (m: ChannelModel) => void; reject: (err: Error) => void }> = [];
  const consumers = new Set<ConsumerCore>();

  const publisher = createConfirmPublisher({
    names: topology.names,
    log,
    ...(options.metrics ? { metrics: options.metrics } : {}),
    appId: options.appId ?? connectionName,
    ...(options.publisher ? { options: options.publisher } : {}),
    onChannelLost: schedulePublisherRecovery,
  });

  const url = withDefaultHeartbeat(options.url, options.heartbeatSeconds ?? 10);

  async function open(): Promise<ChannelModel> {
    const m = await connect(url, { clientProperties: { connection_name: connectionName } });
    let lost = false;
    // amqplib watches its socket for 'end' and 'error' only: a socket destroyed without an error
    // would go unnoticed until heartbeats time out. Report a bare 'close' the way a reset is reported.
    const socket = (m.connection as unknown as { stream?: NodeJS.EventEmitter }).stream;
    socket?.once('close', () => {
      if (!lost) socket.emit('error', new Error('the broker socket closed'));
    });
    m.on('error', (err: Error) => log.warn({ err }, 'broker connection error'));
    m.on('blocked', (reason: string) =>
      log.warn({ reason }, 'broker blocked our publishing (resource alarm)'),
    );
    m.on('unblocked', () => log.info('broker unblocked our publishing'));
    m.once('close', (err?: Error) => {
      lost = true;
      if (model === m) onConnectionLost(err);
    });
    try {
      await reassertTopology(m);
      await publisher.attach(m);
      // One consumer that can't subscribe (it retries on its own) must not keep the rest, and the
      // publisher, off the broker.
      await Promise.all(
        [...consumers].map((consumer) =>
          consumer
            .attach(m)
            .catch((err: unknown) =>
              log.warn({ err, queue: consumer.queue }, 'consumer could not subscribe'),
            ),
        ),
      );
    } catch (err) {
      if (!lost) await m.close().catch(noop);
      throw err;
    }
    if (lost) throw new Error('the connection closed while it was being set up');
    return m;
  }

  function connected(m: ChannelModel): void {
    model = m;
    reconnectAttempt = 0;
    publisherRecoveryAttempt = 0;
    const waiters = connectionWaiters;
    connectionWaiters = [];
    for (const waiter of waiters) waiter.resolve(m);
    // A consumer added while the connection was being set up has not been attached yet.
    for (const consumer of consumers) {
      consumer
        .attach(m)
        .catch((err: unknown) => log.warn({ err, queue: consumer.queue }, 'consumer could not subscribe'));
    }
  }

  function onConnectionLost(err: Error | undefined): void {
    model = undefined;
    disconnectedAt = now();
    log.warn({ err }, 'lost the broker connection; reconnecting');
    scheduleReconnect();
  }

  function scheduleReconnect(): void {
    if (closing || reconnectTimer) return;
    const delayMs = backoff(reconnectAttempt++);
    reconnectTimer = setTimeout(() => {
      reconnectTimer = undefined;
      reconnecting = reconnect().finally(() => {
        reconnecting = undefined;
      });
    }, delayMs);
  }

  async function reconnect(): Promise<void> {
    if (closing) return;
    let m: ChannelModel;
    try {
      m = await open();
    } catch (err) {
      log.warn({ err, attempt: reconnectAttempt }, 'could not reconnect to the broker');
      scheduleReconnect();
      return;
    }
    if (closing) {
      await m.close().catch(noop);
      return;
    }
    connected(m);
    log.info({ downtimeMs: Math.round(now() - disconnectedAt) }, 'reconnected to the broker');
  }

  // The publisher's channel can die alone while the connection stays up: the broker closes it when
  // a publish names a missing exchange (someone deleted ours). Re-assert the topology, then reopen.
  // When the connection is gone too, the reconnect does both.
  function schedulePublisherRecovery(): void {
    if (closing || publisherRecoveryTimer) return;
    publisherRecoveryTimer = setTimeout(() => {
      publisherRecoveryTimer = undefined;
      const m = model;
      if (!m || closing) return;
      reassertTopology(m)
        .then(() => publisher.attach(m))
        .then(
          () => {
            publisherRecoveryAttempt = 0;
          },
          (err: unknown) => {
            log.warn({ err }, 'could not reopen the publisher channel; retrying');
            schedulePublisherRecovery();
          },
        );
    }, backoff(publisherRecoveryAttempt++));
  }

  async function reassertTopology(m: ChannelModel): Promise<void> {
    const admin = await m.createChannel();
    admin.on('error', noop);
    try {
      await applyTopology(admin, topology);
    } finally {
      await admin.close().catch(noop);
    }
  }

  function waitForConnection(): Promise<ChannelModel> {
    if (model) return Promise.resolve(model);
    if (closing) return Promise.reject(new Error('the broker connection is closed'));
    return new Promise<ChannelModel>((resolve, reject) => {
      const timer = setTimeout(() => {
        connectionWaiters = connectionWaiters.filter((waiter) => waiter !== entry);
        reject(new Error(`not connected to the broker within ${timeoutMs} ms`));
      }, timeoutMs);
      const entry = {
        resolve: (m: ChannelModel) => {
          clearTimeout(timer);
          resolve(m);
        },
        reject: (err: Error) => {
          clearTimeout(timer);
          reject(err);
        },
      };
      connectionWaiters.push(entry);
    });
  }

  log.info({ url: redactUrl(options.url) }, 'connecting to the broker');
  try {
    connected(await open());
  } catch (err) {
    publisher.close();
    throw err;
  }
  log.info('connected to the broker; topology applied');

  const broker: Broker = {
    topology,
    log,
    publisher,

    consume(consumeOptions: ConsumeOptions): Consumer {
      if (closing) throw new Error('the broker connection is closed');
      const consumer = createConsumer(
        {
          topology,
          log,
          ...(options.metrics ? { metrics: options.metrics } : {}),
          publisher,
          currentModel: () => model,
          backoff,
          onStopped: (stopped) => consumers.delete(stopped),
        },
        consumeOptions,
      );
      consumers.add(consumer);
      if (model) {
        consumer
          .attach(model)
          .catch((err: unknown) => log.warn({ err, queue: consumer.queue }, 'consumer could not subscribe'));
      }
      return consumer;
    },

    health(): BrokerHealth {
      return {
        connected: model !== undefined && !closing,
        consumers: [...consumers].map((consumer) => consumer.health()),
      };
    },

    readinessCheck(): ReadinessCheck {
      return {
        name: 'rabbitmq',
        check: () => {
          const problems: string[] = [];
          if (closing) problems.push('the broker connection is closed');
          else if (!model) problems.push('not connected to RabbitMQ (reconnecting)');
          for (const consumer of consumers) {
            const health = consumer.health();
            if (health.state !== 'active') problems.push(`consumer of ${health.queue} is ${health.state}`);
            if (health.stalled)
              problems.push(`a handler on ${health.queue} has been running longer than its timeout`);
          }
          if (problems.length > 0) throw new Error(problems.join('; '));
        },
      };
    },

    async withChannel<T>(fn: (channel: Channel) => Promise<T>): Promise<T> {
      const m = await waitForConnection();
      const channel = await m.createChannel();
      channel.on('error', (err: Error) => log.warn({ err }, 'tool channel closed by the broker'));
      try {
        return await fn(channel);
      } finally {
        await channel.close().catch(noop);
      }
    },

    close({ drainTimeoutMs = 10_000 } = {}): Promise<void> {
      closePromise ??= (async () => {
        closing = true;
        clearTimeout(reconnectTimer);
        clearTimeout(publisherRecoveryTimer);
        const deadline = now() + drainTimeoutMs;
        const all = [...consumers];
        // Every step is bounded: on a connection that died silently, an RPC waits for the heartbeat.
        await within(Promise.all(all.map((consumer) => consumer.cancel())), deadline);
        const drained = await Promise.all(all.map((consumer) => consumer.waitIdle(deadline)));
        if (drained.includes(false)) {
          log.warn('closing with handlers still running; their messages return to their queues');
        }
        if (!(await publisher.waitIdle(deadline))) {
          log.warn(
            { unconfirmed: publisher.inFlight() },
            'closing with unconfirmed publishes; they reject as broker_unavailable',
          );
        }
        publisher.close();
        if (reconnecting) await within(reconnecting, deadline);
        // The close handshakes get at least a second, even when draining used the whole budget.
        const closeDeadline = Math.max(deadline, now() + 1_000);
        await within(Promise.all(all.map((consumer) => consumer.closeChannel())), closeDeadline);
        const m = model;
        model = undefined;
        if (m) await within(m.close(), closeDeadline);
        const waiters = connectionWaiters;
        connectionWaiters = [];
        for (const waiter of waiters) waiter.reject(new Error('the broker connection is closed'));
        log.info('broker connection closed');
      })();
      return closePromise;
    },
  };
  return broker;
}
