import type { MessageDefinition, MessageEnvelope, MessageOf } from '@mcms/contracts';
import { lazyChild, type Logger, type Metrics } from '@mcms/platform';
import type { Channel, ChannelModel, ConsumeMessage, Options } from 'amqplib';
import { createBatcher, type Batcher } from './batcher';
import { attemptOf, DEAD_LETTER_MESSAGE_MAX, HEADERS, LAST_ERROR_MAX, truncate } from './headers';
import type { BrokerPublisher } from './publisher';
import { DEFAULT_RETRY_POLICY, outcomeOf, type RetryPolicy } from './retry-policy';
import { applyTopology, consumerDeclarations, consumerSpecOf, type Topology } from './topology';

/** What a handler gets besides the message. */
export interface HandlerContext {
  /** A child logger carrying `queue`, `messageId`, `type` and `correlationId`. */
  readonly log: Logger;
  /** 1 on the first delivery, 2 on the first retry, …; reset to 1 by a replay. */
  readonly attempt: number;
  /** The broker delivered this before (a connection dropped before the ack): expect a duplicate. */
  readonly redelivered: boolean;
  /** The consumer's queue as the topology names it (without the prefix). */
  readonly queue: string;
  /** The AMQP headers as delivered, ours included (`x-mcms-*`). */
  readonly headers: Readonly<Record<string, unknown>>;
}

/** Handles one message type. Throw an AppError to choose retry (retryable) or dead letter (not). */
export interface MessageHandler<D extends MessageDefinition = MessageDefinition> {
  definition: D;
  handle(message: MessageOf<D>, ctx: HandlerContext): Promise<void>;
}

/** Builds a {@link MessageHandler} with the message type inferred from `definition`. */
export function handlerFor<D extends MessageDefinition>(
  definition: D,
  handle: (message: MessageOf<D>, ctx: HandlerContext) => Promise<void>,
): MessageHandler<D> {
  return { definition, handle };
}

/** One validated delivery handed to a batch handler. */
export interface BatchItem {
  /** The envelope, validated against its type's definition; narrow it by `message.type`. */
  readonly message: MessageEnvelope;
  readonly ctx: HandlerContext;
}

/**
 * Handling validated deliveries together (e.g. one database transaction for many). Per-message
 * semantics stay those of the `handlers`: a batch handler that throws hands each of its messages to
 * its type's handler one at a time (with the retry tiers and the dead-letter queue), so one poison
 * message affects only itself. Invalid messages never reach a batch: they are dead-lettered alone.
 */
export interface BatchOptions {
  /** The most messages in one batch; the consumer's prefetch must be at least this. */
  maxMessages: number;
  /** How long the first message of a batch waits for more. A few ms: it is added to every message's latency. */
  maxWaitMs: number;
  /**
   * Batches handled at once; default unbounded. While that many run, arriving messages wait and form
   * the next batch as soon as one ends, so batches grow with the load (group commit).
   */
  maxConcurrent?: number;
  /**
   * Handles the items together. Resolves with the items it left for their type's handler (e.g. the
   * unusual ones), or nothing; every other item is then acked, together. Throwing leaves every item
   * to the one-at-a-time handlers.
   */
  handle(items: readonly BatchItem[]): Promise<readonly BatchItem[] | void>;
}

/**
 * A batch `handle` that runs each message's own handler concurrently and leaves the ones whose
 * handler failed to be handled again alone (then with the retry tiers and the DLQ as usual). For
 * handlers whose stores group concurrent writes themselves: what the batch adds is one ack for all.
 */
export function handleConcurrently(
  handlers: Readonly<Record<string, MessageHandler>>,
): BatchOptions['handle'] {
  return async (items) => {
    const settled = await Promise.allSettled(
      items.map(async (item) => {
        const handler = handlers[item.message.type];
        if (handler === undefined) throw new Error(`no handler for ${item.message.type}`);
        await handler.handle(item.message as never, item.ctx);
      }),
    );
    return items.filter((_item, i) => settled[i]?.status === 'rejected');
  };
}

/** Options of `broker.consume`. */
export interface ConsumeOptions {
  /** A consumer queue of the topology, without the prefix. */
  queue: string;
  /** Keyed by message type; each key must equal its definition's type. */
  handlers: Readonly<Record<string, MessageHandler>>;
  /** Unacknowledged deliveries at once, i.e. handlers running concurrently. Default 64. */
  prefetch?: number;
  /** Default: the queue's `retryDelaysMs` from the topology. Every delay must have a retry queue. */
  policy?: RetryPolicy;
  /** A handler running longer than this counts as stalled in health and readiness. Default 60 s; 0 disables. */
  handlerTimeoutMs?: number;
  /** Hands validated deliveries to one batch handler; `handlers` stay the fallback for each message. */
  batch?: BatchOptions;
}

/** `active`: subscribed. `recovering`: not subscribed and trying to be. `stopped`: by `stop()` or `close()`. */
export type ConsumerState = 'active' | 'recovering' | 'stopped';

/** One consumer in `broker.health()`. */
export interface ConsumerHealth {
  queue: string;
  state: ConsumerState;
  inFlight: number;
  /** A handler has been running longer than `handlerTimeoutMs`. */
  stalled: boolean;
}

/** A running consumer. */
export interface Consumer {
  readonly queue: string;
  /** Resolves once the consumer has subscribed for the first time. */
  readonly ready: Promise<void>;
  health(): ConsumerHealth;
  /** Stops taking messages, waits for running handlers (bounded), closes its channel. */
  stop(options?: { drainTimeoutMs?: number }): Promise<void>;
}

/** What the broker drives. */
export interface ConsumerCore extends Consumer {
  /** Subscribes on `model` (no-op if already subscribed there). */
  attach(model: ChannelModel): Promise<void>;
  /** Cancels the subscription: no new deliveries. */
  cancel(): Promise<void>;
  /** Resolves `true` once no handler runs, `false` if `deadline` (performance.now()) passes first. */
  waitIdle(deadline: number): Promise<boolean>;
  closeChannel(): Promise<void>;
}

/** What a consumer needs from its broker. */
export interface ConsumerDeps {
  topology: Topology;
  log: Logger;
  metrics?: Metrics;
  publisher: BrokerPublisher;
  /** The open connection, if any. */
  currentModel(): ChannelModel | undefined;
  /** Delay before recovery attempt `n` (0-based). */
  backoff(attempt: number): number;
  /** Called by `stop()` so the broker forgets the consumer. */
  onStopped(consumer: ConsumerCore): void;
}

const now = () => performance.now();
const noop = () => {};
const UNKNOWN_TYPE = '(unknown)';

// RabbitMQ's own dead-lettering headers. Our copies drop them: the attempt lives in our header, and
// a re-encoded x-death (amqplib decodes its timestamps to numbers) is not worth the risk.
const BROKER_DEATH_HEADERS = [
  'x-death',
  'x-first-death-queue',
  'x-first-death-reason',
  'x-first-death-exchange',
  'x-last-death-queue',
  'x-last-death-reason',
  'x-last-death-exchange',
];

interface InFlight {
  startedAt: number;
}

/**
 * A channel, the delivery tags on it not acked or requeued yet, in delivery (= tag) order, and the acks decided
 * but not yet sent: those go out together once the current turn of the event loop ends ({@link flushAcks}).
 */
interface ChannelDeliveries {
  ch: Channel;
  unsettled: Set<number>;
  acks: Delivery[];
}

/** One delivery on the channel it came on; acked or requeued exactly once. */
interface Delivery {
  ch: Channel;
  msg: ConsumeMessage;
  settled: boolean;
  on: ChannelDeliveries;
}

/** What became of a message in a batch: acked with it, or left to its type's handler. */
type BatchResult = 'acked' | 'alone';

interface BatchEntry {
  item: BatchItem;
  delivery: Delivery;
}

/**
 * Creates a consumer; the broker attaches it on every (re)connect. Per delivery: JSON → handler by
 * `type` → the definition's envelope schema → handler → ack. A failure is retried through the
 * delayed retry queue of its attempt, or dead-lettered; either way a copy is published (confirmed)
 * before the original is acked, and if the copy can't be published the original is requeued.
 */
export function createConsumer(deps: ConsumerDeps, options: ConsumeOptions): ConsumerCore {
  const { topology, publisher } = deps;
  const specQueue = options.queue;
  const spec = consumerSpecOf(topology, specQueue);
  const workQueue = topology.names.queue(specQueue);
  const deadLetterQueue = topology.names.deadLetterQueue(specQueue);
  const prefetch = options.prefetch ?? 64;
  if (options.batch && options.batch.maxMessages > prefetch) {
    throw new Error(
      `batch.maxMessages ${options.batch.maxMessages} of ${specQueue} exceeds its prefetch ${prefetch}: batches could never fill`,
    );
  }
  const policy =
    options.policy ??
    (spec.retryDelaysMs.length > 0 ? { delaysMs: spec.retryDelaysMs } : DEFAULT_RETRY_POLICY);
  const handlerTimeoutMs = options.handlerTimeoutMs ?? 60_000;
  for (const delayMs of policy.delaysMs) {
    if (!spec.retryDelaysMs.includes(delayMs)) {
      throw new Error(
        `retry delay ${delayMs} ms of ${specQueue} has no retry queue; add it to the topology's retryDelaysMs`,
      );
    }
  }
  const handlers = new Map<string, MessageHandler>();
  for (const [type, handler] of Object.entries(options.handlers)) {
    if (handler.definition.type !== type) {
      throw new Error(`handler key ${type} does not match its definition's type ${handler.definition.type}`);
    }
    handlers.set(type, handler);
  }
  const retryQueues = new Map(
    policy.delaysMs.map((delayMs) => [delayMs, topology.names.retryQueue(specQueue, delayMs)]),
  );
  const log = deps.log.child({ queue: specQueue });
  const batcher: Batcher<BatchEntry, BatchResult> | undefined = options.batch
    ? createBatcher({
        maxItems: options.batch.maxMessages,
        maxWaitMs: options.batch.maxWaitMs,
        ...(options.batch.maxConcurrent === undefined ? {} : { maxConcurrent: options.batch.maxConcurrent }),
        run: (entries) => runBatch(entries),
      })
    : undefined;
  const consumed = deps.metrics?.counter('mcms_messages_consumed_total', 'Deliveries handled, by outcome', [
    'queue',
    'type',
    'outcome',
  ]);
  const handleSeconds = deps.metrics?.histogram('mcms_message_handle_seconds', 'Time in message handlers', [
    'queue',
    'type',
  ]);

  let state: ConsumerState = 'recovering';
  let stopping = false;
  let channel: Channel | undefined;
  let channelDeliveries: ChannelDeliveries | undefined;
  let channelModel: ChannelModel | undefined;
  let consumerTag: string | undefined;
  let opening: Promise<void> | undefined;
  let recoveryTimer: NodeJS.Timeout | undefined;
  let recoveryAttempt = 0;
  // Set when the broker cancelled us (e.g. the queue was deleted): re-assert the queue before consuming.
  let needsReassert = false;
  const inFlight = new Set<InFlight>();
  let idleWaiters: Array<() => void> = [];
  let resolveReady: () => void = noop;
  const ready = new Promise<void>((resolve) => {
    resolveReady = resolve;
  });

  // ---- subscription ----------------------------------------------------------------------------

  /** Subscribes on `model`; on failure the consumer keeps trying by itself (and the error is rethrown). */
  async function attach(model: ChannelModel): Promise<void> {
    if (recoveryTimer) {
      clearTimeout(recoveryTimer);
      recoveryTimer = undefined;
    }
    while (opening) await opening.catch(noop);
    if (stopping || (consumerTag !== undefined && channelModel === model)) return;
    opening = open(model);
    try {
      await opening;
    } catch (err) {
      scheduleRecovery();
      throw err;
    } finally {
      opening = undefined;
    }
  }

  async function open(model: ChannelModel): Promise<void> {
    if (needsReassert) {
      const admin = await model.createChannel();
      admin.on('error', noop);
      try {
        await applyTopology(admin, consumerDeclarations(topology, specQueue));
      } finally {
        await admin.close().catch(noop);
      }
      needsReassert = false;
    }
    let ch = channel;
    if (ch === undefined || channelModel !== model) {
      const fresh = await model.createChannel();
      fresh.on('error', (err: Error) => log.warn({ err }, 'consumer channel closed by the broker'));
      fresh.once('close', () => onChannelClosed(fresh));
      await fresh.prefetch(prefetch);
      channel = ch = fresh;
      channelDeliveries = { ch: fresh, unsettled: new Set(), acks: [] };
      channelModel = model;
    }
    if (stopping) return;
    const subscribedOn = ch;
    const deliveries = channelDeliveries as ChannelDeliveries;
    const reply = await ch.consume(workQueue, (msg) => onDelivery(deliveries, msg), { noAck: false });
    if (channel !== subscribedOn) return;
    consumerTag = reply.consumerTag;
    state = 'active';
    recoveryAttempt = 0;
    log.info({ prefetch }, 'consumer subscribed');
    resolveReady();
  }

  function onChannelClosed(ch: Channel): void {
    if (channel !== ch) return;
    channel = undefined;
    channelModel = undefined;
    consumerTag = undefined;
    if (stopping) {
      state = 'stopped';
      return;
    }
    state = 'recovering';
    scheduleRecovery();
  }

  function onCancelledByBroker(ch: Channel): void {
    if (channel !== ch || stopping) return;
    consumerTag = undefined;
    state = 'recovering';
    needsReassert = true;
    log.warn('consumer cancelled by the broker (queue deleted or moved); resubscribing');
    scheduleRecovery();
  }

  // Recovers a subscription lost while the connection stays up. When the connection itself is gone
  // this finds no model and does nothing: the broker's reconnect attaches every consumer.
  function scheduleRecovery(): void {
    if (stopping || recoveryTimer) return;
    recoveryTimer = setTimeout(() => {
      recoveryTimer = undefined;
      const model = deps.currentModel();
      if (!model || stopping) return;
      attach(model).catch((err: unknown) => {
        log.warn({ err }, 'consumer could not resubscribe; retrying');
        scheduleRecovery();
      });
    }, deps.backoff(recoveryAttempt++));
  }

  // ---- deliveries ------------------------------------------------------------------------------

  function onDelivery(on: ChannelDeliveries, msg: ConsumeMessage | null): void {
    if (msg === null) {
      onCancelledByBroker(on.ch);
      return;
    }
    const entry: InFlight = { startedAt: now() };
    inFlight.add(entry);
    on.unsettled.add(msg.fields.deliveryTag);
    void handleDelivery({ ch: on.ch, msg, settled: false, on }).then(() => {
      inFlight.delete(entry);
      if (inFlight.size === 0 && idleWaiters.length > 0) {
        const waiters = idleWaiters;
        idleWaiters = [];
        for (const wake of waiters) wake();
      }
    });
  }

  async function handleDelivery(delivery: Delivery): Promise<void> {
    const { msg } = delivery;
    const attempt = attemptOf(msg.properties.headers);
    try {
      const contentType = msg.properties.contentType as unknown;
      if (contentType !== undefined && !isJsonContentType(contentType)) {
        return await deadLetter(
          delivery,
          attempt,
          UNKNOWN_TYPE,
          'invalid-message',
          `content-type ${String(contentType)} is not application/json`,
        );
      }
      let body: unknown;
      try {
        body = JSON.parse(msg.content.toString('utf8'));
      } catch {
        return await deadLetter(delivery, attempt, UNKNOWN_TYPE, 'invalid-message', 'the body is not JSON');
      }
      const type = typeOfBody(body);
      if (type === undefined) {
        return await deadLetter(
          delivery,
          attempt,
          UNKNOWN_TYPE,
          'invalid-message',
          'the body is not an envelope (no type)',
        );
      }
      const typeProperty = msg.properties.type as unknown;
      if (typeProperty !== undefined && typeProperty !== type) {
        // Routing and metrics go by the property, handling by the body: they must agree.
        return await deadLetter(
          delivery,
          attempt,
          UNKNOWN_TYPE,
          'invalid-message',
          `the type property ${String(typeProperty)} is not the body's type ${type}`,
        );
      }
      const handler = handlers.get(type);
      if (handler === undefined) {
        return await deadLetter(
          delivery,
          attempt,
          UNKNOWN_TYPE,
          'unknown-message-type',
          `no handler for ${type} on ${specQueue}`,
        );
      }
      const parsed = handler.definition.envelope.safeParse(body);
      if (!parsed.success) {
        return await deadLetter(
          delivery,
          attempt,
          type,
          'invalid-message',
          summariseIssues(parsed.error.issues),
        );
      }
      const message = parsed.data;
      const ctx = contextFor(msg, attempt, type, message.messageId, message.correlationId);
      if (batcher !== undefined) {
        const result = await batcher.submit({ item: { message, ctx }, delivery });
        if (result === 'acked') {
          consumed?.inc({ queue: specQueue, type, outcome: 'ack' });
          return;
        }
      }
      const stopTimer = handleSeconds?.startTimer({ queue: specQueue, type });
      let failure: unknown;
      let failed = false;
      try {
        await handler.handle(message as never, ctx);
      } catch (err) {
        failed = true;
        failure = err ?? new Error('the handler threw undefined');
      }
      stopTimer?.();
      if (!failed) {
        ack(delivery);
        consumed?.inc({ queue: specQueue, type, outcome: 'ack' });
        return;
      }
      const outcome = outcomeOf(failure, attempt, policy);
      if (outcome.kind === 'retry') await retry(delivery, attempt, type, outcome.delayMs, failure);
      else if (outcome.kind === 'dead-letter') {
        await deadLetter(delivery, attempt, type, outcome.reason, describe(failure), failure);
      } else ack(delivery);
    } catch (err) {
      // A bug of ours, not of the message: unless it is settled already, leave it to the broker rather than lose it.
      log.error(
        { ...errorFields(err), messageId: msg.properties.messageId },
        'unexpected error while handling a delivery',
      );
      nackRequeue(delivery);
    }
  }

  async function runBatch(entries: BatchEntry[]): Promise<BatchResult[]> {
    const batchOptions = options.batch as BatchOptions;
    let left: ReadonlySet<BatchItem>;
    const stopTimer = handleSeconds?.startTimer({ queue: specQueue, type: '(batch)' });
    try {
      left = new Set((await batchOptions.handle(entries.map((entry) => entry.item))) ?? []);
    } catch (err) {
      log.warn(
        { ...errorFields(err), messages: entries.length },
        'batch handler failed; handling its messages one at a time',
      );
      return entries.map(() => 'alone');
    } finally {
      stopTimer?.();
    }
    for (const entry of entries) if (!left.has(entry.item)) ack(entry.delivery);
    return entries.map((entry) => (left.has(entry.item) ? 'alone' : 'acked'));
  }

  function contextFor(
    msg: ConsumeMessage,
    attempt: number,
    type: string,
    messageId: string,
    correlationId: string,
  ): HandlerContext {
    return {
      // Made when a line is written: most handlers that succeed never log at an enabled level.
      log: lazyChild(log, { messageId, type, correlationId }),
      attempt,
      redelivered: msg.fields.redelivered,
      queue: specQueue,
      headers: msg.properties.headers ?? {},
    };
  }

  async function retry(
    delivery: Delivery,
    attempt: number,
    type: string,
    delayMs: number,
    failure: unknown,
  ): Promise<void> {
    const { msg } = delivery;
    const headers = copyHeaders(msg);
    const nowIso = new Date().toISOString();
    headers[HEADERS.attempt] = attempt + 1;
    headers[HEADERS.firstFailureAt] ??= nowIso;
    headers[HEADERS.lastError] = truncate(describe(failure), LAST_ERROR_MAX);
    const target = retryQueues.get(delayMs) as string;
    if (!(await publishCopy(delivery, target, headers))) return;
    ack(delivery);
    consumed?.inc({ queue: specQueue, type, outcome: 'retry' });
    log.info(
      {
        messageId: msg.properties.messageId,
        correlationId: msg.properties.correlationId,
        type,
        attempt,
        delayMs,
        errorCode: codeOf(failure),
      },
      'message failed; retrying later',
    );
  }

  async function deadLetter(
    delivery: Delivery,
    attempt: number,
    type: string,
    reason: string,
    message: string,
    failure?: unknown,
  ): Promise<void> {
    const { msg } = delivery;
    const headers = copyHeaders(msg);
    const nowIso = new Date().toISOString();
    headers[HEADERS.deadLetterReason] = reason;
    headers[HEADERS.deadLetterMessage] = truncate(message, DEAD_LETTER_MESSAGE_MAX);
    headers[HEADERS.queue] = workQueue;
    headers[HEADERS.attempts] = attempt;
    headers[HEADERS.firstFailureAt] ??= nowIso;
    headers[HEADERS.lastFailureAt] = nowIso;
    if (!(await publishCopy(delivery, deadLetterQueue, headers))) return;
    ack(delivery);
    consumed?.inc({ queue: specQueue, type, outcome: 'dead_letter' });
    log.error(
      {
        messageId: msg.properties.messageId,
        correlationId: msg.properties.correlationId,
        type: type === UNKNOWN_TYPE ? msg.properties.type : type,
        reason,
        attempts: attempt,
        ...errorFields(failure),
      },
      'message dead-lettered',
    );
  }

  // Our headers so far, the original route (a retried copy arrives through the default exchange,
  // so only the first delivery knows it), without the broker's x-death bookkeeping.
  function copyHeaders(msg: ConsumeMessage): Record<string, unknown> {
    const headers: Record<string, unknown> = { ...msg.properties.headers };
    for (const name of BROKER_DEATH_HEADERS) delete headers[name];
    headers[HEADERS.originalExchange] ??= msg.fields.exchange;
    headers[HEADERS.originalRoutingKey] ??= msg.fields.routingKey;
    return headers;
  }

  /** `true` once the copy is confirmed; otherwise the original is requeued (or will be redelivered). */
  async function publishCopy(delivery: Delivery, queue: string, headers: Record<string, unknown>) {
    const { msg } = delivery;
    if (channel !== delivery.ch) return false; // the delivery's channel is gone: the broker redelivers the original
    try {
      await publisher.publishToQueue(queue, msg.content, copyOptions(msg, headers));
      return true;
    } catch (err) {
      log.error(
        { err, messageId: msg.properties.messageId, target: queue },
        'could not publish a retry/dead-letter copy; requeued',
      );
      nackRequeue(delivery);
      return false;
    }
  }

  // ---- lifecycle -------------------------------------------------------------------------------

  async function cancel(): Promise<void> {
    stopping = true;
    if (recoveryTimer) {
      clearTimeout(recoveryTimer);
      recoveryTimer = undefined;
    }
    while (opening) await opening.catch(noop);
    state = 'stopped';
    const ch = channel;
    const tag = consumerTag;
    consumerTag = undefined;
    if (ch && tag) await ch.cancel(tag).catch(noop);
  }

  function waitIdle(deadline: number): Promise<boolean> {
    if (inFlight.size === 0) return Promise.resolve(true);
    return new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), Math.max(0, deadline - now()));
      idleWaiters.push(() => {
        clearTimeout(timer);
        resolve(true);
      });
    });
  }

  async function closeChannel(): Promise<void> {
    // Acks still waiting for the end of the turn go out before the channel closes, not lost with it.
    if (channelDeliveries !== undefined) flushAcks(channelDeliveries);
    const ch = channel;
    channel = undefined;
    channelModel = undefined;
    if (ch) await ch.close().catch(noop);
  }

  const core: ConsumerCore = {
    queue: specQueue,
    ready,
    health(): ConsumerHealth {
      let stalled = false;
      if (handlerTimeoutMs > 0) {
        const limit = now() - handlerTimeoutMs;
        for (const entry of inFlight) {
          if (entry.startedAt < limit) {
            stalled = true;
            break;
          }
        }
      }
      return { queue: specQueue, state, inFlight: inFlight.size, stalled };
    },
    async stop({ drainTimeoutMs = 10_000 } = {}): Promise<void> {
      await cancel();
      const drained = await waitIdle(now() + drainTimeoutMs);
      if (!drained)
        log.warn(
          { inFlight: inFlight.size },
          'stopping with handlers still running; their messages return to the queue',
        );
      await closeChannel();
      deps.onStopped(core);
    },
    attach,
    cancel,
    waitIdle,
    closeChannel,
  };
  return core;
}

/**
 * Acks a delivery at the end of the current event-loop turn, with the others acked in that turn: one
 * `multiple` ack frame for all of them whenever no older delivery is still being handled (the usual case)
 * instead of one frame each. The delay is that of a `setImmediate`; a channel that closes before it loses
 * the acks like any unsent ack: the broker redelivers and the inboxes absorb the duplicates.
 */
function ack(delivery: Delivery): void {
  if (delivery.settled) return;
  delivery.settled = true;
  // The first ack of the turn schedules the flush; the flush takes them all.
  if (delivery.on.acks.push(delivery) === 1) setImmediate(flushAcks, delivery.on);
}

/**
 * Sends the acks waiting on a channel with as few frames as possible: every tag below the oldest delivery
 * still unsettled goes in one `multiple` ack of the highest; the rest one by one.
 */
function flushAcks(on: ChannelDeliveries): void {
  const group = on.acks;
  if (group.length === 0) return;
  on.acks = [];
  for (const delivery of group) on.unsettled.delete(delivery.msg.fields.deliveryTag);
  const oldestOther = on.unsettled.values().next();
  const limit = oldestOther.done === true ? Number.POSITIVE_INFINITY : oldestOther.value;
  const { together, alone } = splitByTag(
    group.map((delivery) => delivery.msg.fields.deliveryTag),
    limit,
  );
  try {
    if (together !== undefined) {
      const last = group.find((delivery) => delivery.msg.fields.deliveryTag === together) as Delivery;
      on.ch.ack(last.msg, true);
    }
    for (const delivery of group) {
      if (alone.has(delivery.msg.fields.deliveryTag)) on.ch.ack(delivery.msg);
    }
  } catch {
    // The channel closed under us: the broker redelivers the messages and the inboxes absorb them.
  }
}

/**
 * Which of `tags` one `multiple` ack can cover (the highest tag below `limit`, the oldest tag still
 * unsettled on the channel), and which must be acked alone. Pure.
 */
export function splitByTag(
  tags: readonly number[],
  limit: number,
): { together: number | undefined; alone: Set<number> } {
  let together: number | undefined;
  const alone = new Set<number>();
  for (const tag of tags) {
    if (tag < limit) together = together === undefined ? tag : Math.max(together, tag);
    else alone.add(tag);
  }
  return { together, alone };
}

function nackRequeue(delivery: Delivery): void {
  if (delivery.settled) return;
  delivery.settled = true;
  delivery.on.unsettled.delete(delivery.msg.fields.deliveryTag);
  try {
    delivery.ch.nack(delivery.msg, false, true);
  } catch {
    // As for ack: a closed channel returns the message to the queue by itself.
  }
}

// Absent is accepted: a hand-published message (a tool, a replay of an old copy) often has none.
function isJsonContentType(value: unknown): boolean {
  return typeof value === 'string' && /^application\/json\s*(;|$)/i.test(value.trim());
}

function typeOfBody(body: unknown): string | undefined {
  if (typeof body !== 'object' || body === null) return undefined;
  const type = (body as { type?: unknown }).type;
  return typeof type === 'string' && type.length > 0 ? type : undefined;
}

/** Same body and properties, our headers; persistent; never expiring in the DLQ. */
function copyOptions(msg: ConsumeMessage, headers: Record<string, unknown>): Options.Publish {
  const p = msg.properties;
  return {
    contentType: p.contentType,
    contentEncoding: p.contentEncoding,
    messageId: p.messageId,
    type: p.type,
    correlationId: p.correlationId,
    timestamp: p.timestamp,
    appId: p.appId,
    priority: p.priority,
    replyTo: p.replyTo,
    headers,
  };
}

/** `payload.jobId: Invalid UUID; payload.outputs.0.sha256: …` — paths and zod's messages, never values. */
function summariseIssues(
  issues: ReadonlyArray<{ path: ReadonlyArray<PropertyKey>; message: string }>,
): string {
  const summary = issues
    .map((issue) => `${issue.path.map((segment) => String(segment)).join('.') || '(root)'}: ${issue.message}`)
    .join('; ');
  return truncate(`invalid envelope: ${summary}`, DEAD_LETTER_MESSAGE_MAX);
}

// The logger's error serializer expects an Error; handlers may throw anything.
function errorFields(err: unknown): Record<string, unknown> {
  if (err === undefined) return {};
  return err instanceof Error ? { err } : { thrown: String(err) };
}

function codeOf(err: unknown): string {
  if (typeof err === 'object' && err !== null && typeof (err as { code?: unknown }).code === 'string') {
    return (err as { code: string }).code;
  }
  return err instanceof Error ? err.name : 'error';
}

function describe(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  return `${codeOf(err)}: ${message}`;
}
