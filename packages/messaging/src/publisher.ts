import type { ExchangeName } from '@mcms/contracts';
import { AppError, type Logger, type Metrics } from '@mcms/platform';
import type { ChannelModel, ConfirmChannel, Message, Options } from 'amqplib';
import { HEADERS } from './headers';
import type { TopologyNames } from './topology';
import type { OutgoingMessage, Publisher } from './types';

/** Options for the confirm-channel publisher. */
export interface PublisherOptions {
  /** Unconfirmed messages allowed at once; `publish()` waits for a slot beyond it. Default 1024. */
  maxInFlight?: number;
  /**
   * Longest a publish may take, waiting for a slot or a reconnect included. Past it, the publish
   * rejects (retryable): `broker_unavailable` while disconnected, `publish_timeout` otherwise.
   * Default 10 s.
   */
  timeoutMs?: number;
}

/** The broker's publisher: the {@link Publisher} port, plus confirmed publishing straight to a queue. */
export interface BrokerPublisher extends Publisher {
  /**
   * Publishes `content` to `queue` (a real queue name) through the default exchange, mandatory and
   * persistent, and resolves once the broker has confirmed it. Used for retry and dead-letter copies
   * and replays; rejects like {@link Publisher.publish}.
   */
  publishToQueue(queue: string, content: Buffer, options?: Options.Publish): Promise<void>;
}

/** What the broker needs from the publisher to run it across reconnects. */
export interface ConfirmPublisher extends BrokerPublisher {
  /** Opens a confirm channel on `model` (no-op if already on it) and sends whatever waits. */
  attach(model: ChannelModel): Promise<void>;
  /** Number of published, unconfirmed messages. */
  inFlight(): number;
  /** Resolves `true` once nothing is unconfirmed, `false` if `deadline` (performance.now()) passes first. */
  waitIdle(deadline: number): Promise<boolean>;
  /** Rejects whatever still waits and every later publish; unconfirmed messages settle as their channel closes. */
  close(): void;
}

/** What {@link createConfirmPublisher} needs from the broker. */
export interface ConfirmPublisherDeps {
  names: TopologyNames;
  log: Logger;
  metrics?: Metrics;
  appId: string;
  options?: PublisherOptions;
  /** The publisher's channel closed while the broker is open: the broker decides how to get a new one. */
  onChannelLost: () => void;
}

/** One publish, from the call to its confirm. A single object doubles as queue node and pending entry. */
interface PublishJob {
  exchange: string;
  routingKey: string;
  content: Buffer;
  options: Options.Publish;
  /** Label of `mcms_messages_published_total`: the logical exchange, or `default`. */
  metricExchange: string;
  deadline: number;
  settled: boolean;
  returned: boolean;
  next: PublishJob | undefined;
  resolve: () => void;
  reject: (err: Error) => void;
}

const now = () => performance.now();

/**
 * The AMQP properties every message of ours is published with: persistent and `mandatory`, JSON, the envelope's
 * id, type and correlation id (returns are matched by the id, consumers check the type against the body), the
 * publishing service, and the first attempt of the retry tiers. Also what the benchmark's raw amqplib publishes
 * with to measure our wire shape alone.
 */
export function publishProperties(
  envelope: Pick<OutgoingMessage['envelope'], 'messageId' | 'type' | 'correlationId'>,
  appId: string,
  headers?: OutgoingMessage['headers'],
): Options.Publish {
  return {
    persistent: true,
    mandatory: true,
    contentType: 'application/json',
    messageId: envelope.messageId,
    type: envelope.type,
    correlationId: envelope.correlationId,
    timestamp: Math.floor(Date.now() / 1000),
    appId,
    headers: headers ? { [HEADERS.attempt]: 1, ...headers } : { [HEADERS.attempt]: 1 },
  };
}

function brokerUnavailable(message: string, cause?: unknown): AppError {
  return new AppError({ code: 'broker_unavailable', message, httpStatus: 503, retryable: true, cause });
}

/**
 * The publisher of a broker connection: one confirm channel (replaced on every reconnect), publishes
 * `mandatory` so the broker returns what it cannot route, and at most `maxInFlight` messages
 * unconfirmed. Returned messages are correlated to their publish by message id, exchange and routing
 * key: RabbitMQ sends `basic.return` before the `basic.ack` of the same message, so when the ack
 * arrives the publish already knows it was unroutable.
 *
 * Nothing is buffered beyond the callers' own pending promises, and those are bounded in time: a
 * publish that cannot be sent within `timeoutMs` rejects, as does every unconfirmed message when its
 * channel closes. The caller (the outbox relay) publishes again; consumers de-duplicate by id.
 */
export function createConfirmPublisher(deps: ConfirmPublisherDeps): ConfirmPublisher {
  const maxInFlight = deps.options?.maxInFlight ?? 1024;
  const timeoutMs = deps.options?.timeoutMs ?? 10_000;
  const { log, appId } = deps;
  const published = deps.metrics?.counter(
    'mcms_messages_published_total',
    'Messages confirmed by the broker',
    ['exchange'],
  );
  const exchangeNames = new Map<string, string>();

  let channel: ConfirmChannel | undefined;
  let channelModel: ChannelModel | undefined;
  let waitingForDrain = false;
  let closed = false;
  // Why the broker closed the current channel, if it did: unconfirmed messages reject with it.
  let channelError: Error | undefined;
  // Published and not yet confirmed, in publishing order (a Set iterates in insertion order).
  const unconfirmed = new Set<PublishJob>();
  // Publishes waiting for a channel, a slot or 'drain': FIFO, linked through `next`.
  let waitHead: PublishJob | undefined;
  let waitTail: PublishJob | undefined;
  let idleWaiters: Array<() => void> = [];

  // One timer for every deadline (waiting and unconfirmed), instead of one timer per message.
  const sweeper = setInterval(sweep, Math.min(1_000, Math.max(10, Math.floor(timeoutMs / 10))));
  sweeper.unref();

  function canSend(): boolean {
    return channel !== undefined && !waitingForDrain && unconfirmed.size < maxInFlight;
  }

  function submit(
    exchange: string,
    routingKey: string,
    content: Buffer,
    options: Options.Publish,
    metricExchange: string,
  ): Promise<void> {
    if (closed) return Promise.reject(brokerUnavailable('the broker connection is closed'));
    return new Promise<void>((resolve, reject) => {
      const job: PublishJob = {
        exchange,
        routingKey,
        content,
        options,
        metricExchange,
        deadline: now() + timeoutMs,
        settled: false,
        returned: false,
        next: undefined,
        resolve,
        reject,
      };
      if (waitHead === undefined && canSend()) send(job);
      else enqueue(job);
    });
  }

  function send(job: PublishJob): void {
    const ch = channel as ConfirmChannel;
    unconfirmed.add(job);
    let hasRoom: boolean;
    try {
      hasRoom = ch.publish(job.exchange, job.routingKey, job.content, job.options, (err: unknown) =>
        onConfirm(job, err),
      );
    } catch (err) {
      // amqplib throws before it writes or registers a confirm callback, so nothing was sent.
      unconfirmed.delete(job);
      if ((err as Error | undefined)?.name === 'IllegalOperationError') {
        // The channel is closing (its 'close' event is on its way): wait for the next one.
        if (channel === ch) channel = undefined;
        enqueueFirst(job);
      } else {
        settle(
          job,
          new AppError({
            code: err instanceof RangeError ? 'message_too_large' : 'invalid_message',
            message: `could not encode the message: ${(err as Error).message}`,
            httpStatus: 500,
            cause: err,
          }),
        );
      }
      return;
    }
    if (!hasRoom) waitingForDrain = true;
  }

  function onConfirm(job: PublishJob, err: unknown): void {
    unconfirmed.delete(job);
    if (err) {
      const nacked = err instanceof Error && err.message === 'message nacked';
      settle(
        job,
        brokerUnavailable(
          nacked
            ? 'the broker refused the message (nack)'
            : channelError
              ? `the broker closed the channel before confirming the message: ${channelError.message}`
              : 'the broker connection was lost before the message was confirmed',
          err,
        ),
      );
    } else if (job.returned) {
      settle(
        job,
        new AppError({
          code: 'unroutable',
          message: `no queue is bound to exchange "${job.exchange}" for routing key "${job.routingKey}"`,
          httpStatus: 500,
          retryable: false,
          details: {
            exchange: job.exchange,
            routingKey: job.routingKey,
            messageId: job.options.messageId ?? null,
          },
        }),
      );
    } else {
      published?.inc({ exchange: job.metricExchange });
      settle(job);
    }
    pump();
    if (unconfirmed.size === 0 && idleWaiters.length > 0) {
      const waiters = idleWaiters;
      idleWaiters = [];
      for (const wake of waiters) wake();
    }
  }

  function onReturn(message: Message): void {
    const { exchange, routingKey } = message.fields;
    const messageId = message.properties.messageId as string | undefined;
    // Returns arrive in publishing order, so the first unreturned match is the one.
    for (const job of unconfirmed) {
      if (
        !job.returned &&
        job.options.messageId === messageId &&
        job.exchange === exchange &&
        job.routingKey === routingKey
      ) {
        job.returned = true;
        return;
      }
    }
    log.warn({ exchange, routingKey, messageId }, 'broker returned a message no publish is waiting for');
  }

  function settle(job: PublishJob, err?: Error): void {
    if (job.settled) return;
    job.settled = true;
    if (err) job.reject(err);
    else job.resolve();
  }

  function enqueue(job: PublishJob): void {
    if (waitTail) waitTail.next = job;
    else waitHead = job;
    waitTail = job;
  }

  function enqueueFirst(job: PublishJob): void {
    job.next = waitHead;
    waitHead = job;
    if (!waitTail) waitTail = job;
  }

  function dequeue(): PublishJob | undefined {
    const job = waitHead;
    if (job) {
      waitHead = job.next;
      if (!waitHead) waitTail = undefined;
      job.next = undefined;
    }
    return job;
  }

  function pump(): void {
    while (waitHead !== undefined && canSend()) {
      const job = dequeue() as PublishJob;
      if (!job.settled) send(job);
    }
  }

  function sweep(): void {
    const t = now();
    while (waitHead !== undefined && (waitHead.settled || waitHead.deadline <= t)) {
      const job = dequeue() as PublishJob;
      settle(
        job,
        channel
          ? new AppError({
              code: 'publish_timeout',
              message: `no room to publish within ${timeoutMs} ms (${unconfirmed.size} unconfirmed)`,
              httpStatus: 503,
              retryable: true,
            })
          : brokerUnavailable(`not connected to the broker within ${timeoutMs} ms`),
      );
    }
    // A confirm that is late stays counted in the window until it arrives or its channel closes.
    for (const job of unconfirmed) {
      if (job.deadline > t) break;
      if (!job.settled) {
        settle(
          job,
          new AppError({
            code: 'publish_timeout',
            message: `the broker did not confirm the message within ${timeoutMs} ms`,
            httpStatus: 503,
            retryable: true,
          }),
        );
      }
    }
  }

  function realExchange(logical: ExchangeName): string {
    let name = exchangeNames.get(logical);
    if (name === undefined) {
      name = deps.names.exchange(logical);
      exchangeNames.set(logical, name);
    }
    return name;
  }

  return {
    publish(message: OutgoingMessage): Promise<void> {
      const { envelope } = message;
      let content: Buffer;
      try {
        content = Buffer.from(JSON.stringify(envelope));
      } catch (err) {
        return Promise.reject(
          new AppError({
            code: 'invalid_message',
            message: 'the envelope is not serialisable',
            httpStatus: 500,
            cause: err,
          }),
        );
      }
      const options = publishProperties(envelope, appId, message.headers);
      return submit(realExchange(message.exchange), message.routingKey, content, options, message.exchange);
    },

    publishToQueue(queue: string, content: Buffer, options: Options.Publish = {}): Promise<void> {
      return submit('', queue, content, { ...options, persistent: true, mandatory: true }, 'default');
    },

    async attach(model: ChannelModel): Promise<void> {
      if (closed || (channel !== undefined && channelModel === model)) return;
      const ch = await model.createConfirmChannel();
      ch.on('error', (err: Error) => {
        if (channel === ch) channelError = err;
        log.warn({ err }, 'publisher channel closed by the broker');
      });
      ch.on('return', onReturn);
      ch.on('drain', () => {
        if (channel !== ch) return;
        waitingForDrain = false;
        pump();
      });
      ch.once('close', () => {
        if (channel !== ch) return;
        channel = undefined;
        channelModel = undefined;
        waitingForDrain = false;
        if (!closed) deps.onChannelLost();
      });
      channel = ch;
      channelModel = model;
      channelError = undefined;
      waitingForDrain = false;
      pump();
    },

    inFlight: () => unconfirmed.size,

    waitIdle(deadline: number): Promise<boolean> {
      if (unconfirmed.size === 0) return Promise.resolve(true);
      return new Promise<boolean>((resolve) => {
        const timer = setTimeout(() => resolve(false), Math.max(0, deadline - now()));
        idleWaiters.push(() => {
          clearTimeout(timer);
          resolve(true);
        });
      });
    },

    close(): void {
      if (closed) return;
      closed = true;
      clearInterval(sweeper);
      for (let job = dequeue(); job; job = dequeue())
        settle(job, brokerUnavailable('the broker connection is closing'));
    },
  };
}
