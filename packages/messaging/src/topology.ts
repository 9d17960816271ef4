import { EXCHANGES, type ExchangeName } from '@mcms/contracts';
import type { Channel } from 'amqplib';

/** Quorum queues replicate and dead-letter at least once; classic ones are for small dev brokers. */
export type QueueType = 'quorum' | 'classic';

/** One binding of a consumer's work queue: a logical exchange and a routing key (a message type, or a pattern). */
export interface QueueBindingSpec {
  exchange: ExchangeName;
  routingKey: string;
}

/**
 * What one consumer needs from the broker: its work queue (named without the prefix, e.g.
 * `routing-worker.addin-job-results`), what the queue is bound to, and one delayed retry tier per
 * distinct delay of its retry policy.
 */
export interface ConsumerQueueSpec {
  queue: string;
  bindings: readonly QueueBindingSpec[];
  retryDelaysMs: readonly number[];
}

/** Options for {@link defineTopology}. */
export interface TopologyOptions {
  /** Put in front of every exchange and queue name; tests isolate themselves with a unique one. */
  prefix?: string;
  /** Default `quorum`. */
  queueType?: QueueType;
  consumers: readonly ConsumerQueueSpec[];
}

/** A topic exchange to assert. */
export interface ExchangeDeclaration {
  name: string;
  type: 'topic';
  durable: true;
}

/** A durable queue to assert, with the arguments that make it what its role says. */
export interface QueueDeclaration {
  name: string;
  role: 'work' | 'retry' | 'dead-letter';
  /** The spec queue (without the prefix) this queue belongs to. */
  consumerQueue: string;
  durable: true;
  arguments: Readonly<Record<string, string | number>>;
}

/** A binding of a queue to an exchange (real names). */
export interface BindingDeclaration {
  queue: string;
  exchange: string;
  routingKey: string;
}

/** Maps logical names to the real (prefixed) names on the broker. */
export interface TopologyNames {
  exchange(logical: ExchangeName): string;
  /** The work queue of a consumer spec. */
  queue(specQueue: string): string;
  retryQueue(specQueue: string, delayMs: number): string;
  deadLetterQueue(specQueue: string): string;
}

/** The broker topology as plain data: what {@link applyTopology} asserts on every (re)connect. */
export interface Topology {
  readonly prefix: string;
  readonly queueType: QueueType;
  readonly exchanges: readonly ExchangeDeclaration[];
  readonly queues: readonly QueueDeclaration[];
  readonly bindings: readonly BindingDeclaration[];
  readonly consumers: readonly ConsumerQueueSpec[];
  readonly names: TopologyNames;
}

/** The part of a topology {@link applyTopology} needs: it can be a whole topology or a subset. */
export type TopologyDeclarations = Pick<Topology, 'exchanges' | 'queues' | 'bindings'>;

const LOGICAL_EXCHANGES: readonly ExchangeName[] = [EXCHANGES.commands, EXCHANGES.events];

/**
 * Builds the topology: the two durable topic exchanges, and per consumer a durable work queue, one
 * retry queue per distinct delay and a parking (dead-letter) queue.
 *
 * A retry queue has no consumer: its messages expire after `x-message-ttl` and are dead-lettered
 * through the default exchange with the work queue's name as routing key, so a retried message
 * returns to the one queue that failed it and never fans out to the other subscribers again.
 * Quorum retry queues dead-letter `at-least-once` (which needs `reject-publish` overflow), so a
 * message can't be lost between the retry queue and the work queue.
 */
export function defineTopology(options: TopologyOptions): Topology {
  const prefix = options.prefix ?? '';
  const queueType = options.queueType ?? 'quorum';
  const names: TopologyNames = {
    exchange: (logical) => `${prefix}${logical}`,
    queue: (specQueue) => `${prefix}${specQueue}`,
    retryQueue: (specQueue, delayMs) => `${prefix}${specQueue}.retry.${delayMs}ms`,
    deadLetterQueue: (specQueue) => `${prefix}${specQueue}.dlq`,
  };
  const typeArgs: Record<string, string> = queueType === 'quorum' ? { 'x-queue-type': 'quorum' } : {};

  const seen = new Set<string>();
  const queues: QueueDeclaration[] = [];
  const bindings: BindingDeclaration[] = [];
  for (const spec of options.consumers) {
    if (!spec.queue) throw new Error('a consumer queue needs a name');
    if (seen.has(spec.queue)) throw new Error(`consumer queue ${spec.queue} is defined twice`);
    seen.add(spec.queue);
    const work = names.queue(spec.queue);
    queues.push({ name: work, role: 'work', consumerQueue: spec.queue, durable: true, arguments: typeArgs });
    for (const delayMs of new Set(spec.retryDelaysMs)) {
      if (!Number.isInteger(delayMs) || delayMs <= 0) {
        throw new Error(
          `retry delay ${delayMs} of ${spec.queue} must be a positive whole number of milliseconds`,
        );
      }
      queues.push({
        name: names.retryQueue(spec.queue, delayMs),
        role: 'retry',
        consumerQueue: spec.queue,
        durable: true,
        arguments: {
          ...typeArgs,
          'x-message-ttl': delayMs,
          'x-dead-letter-exchange': '',
          'x-dead-letter-routing-key': work,
          ...(queueType === 'quorum'
            ? { 'x-dead-letter-strategy': 'at-least-once', 'x-overflow': 'reject-publish' }
            : {}),
        },
      });
    }
    queues.push({
      name: names.deadLetterQueue(spec.queue),
      role: 'dead-letter',
      consumerQueue: spec.queue,
      durable: true,
      arguments: typeArgs,
    });
    for (const binding of spec.bindings) {
      if (!LOGICAL_EXCHANGES.includes(binding.exchange)) {
        throw new Error(`${spec.queue} binds to unknown exchange ${binding.exchange}`);
      }
      bindings.push({
        queue: work,
        exchange: names.exchange(binding.exchange),
        routingKey: binding.routingKey,
      });
    }
  }

  return Object.freeze({
    prefix,
    queueType,
    exchanges: LOGICAL_EXCHANGES.map((logical) => ({
      name: names.exchange(logical),
      type: 'topic' as const,
      durable: true as const,
    })),
    queues,
    bindings,
    consumers: options.consumers,
    names,
  });
}

/** The consumer spec of `specQueue`, or an error naming the queues the topology does have. */
export function consumerSpecOf(topology: Topology, specQueue: string): ConsumerQueueSpec {
  const spec = topology.consumers.find((candidate) => candidate.queue === specQueue);
  if (!spec) {
    const known = topology.consumers.map((candidate) => candidate.queue).join(', ') || 'none';
    throw new Error(`queue ${specQueue} is not in the topology (it has: ${known})`);
  }
  return spec;
}

/** The exchanges plus one consumer's queues and bindings: what that consumer re-asserts on its own. */
export function consumerDeclarations(topology: Topology, specQueue: string): TopologyDeclarations {
  const work = topology.names.queue(specQueue);
  return {
    exchanges: topology.exchanges,
    queues: topology.queues.filter((queue) => queue.consumerQueue === specQueue),
    bindings: topology.bindings.filter((binding) => binding.queue === work),
  };
}

/**
 * Asserts every exchange, queue and binding. Idempotent; a queue that exists with other arguments
 * makes the broker close the channel (PRECONDITION_FAILED), which surfaces here as a rejection.
 */
export async function applyTopology(channel: Channel, topology: TopologyDeclarations): Promise<void> {
  for (const exchange of topology.exchanges) {
    await channel.assertExchange(exchange.name, exchange.type, { durable: exchange.durable });
  }
  for (const queue of topology.queues) {
    await channel.assertQueue(queue.name, { durable: queue.durable, arguments: { ...queue.arguments } });
  }
  for (const binding of topology.bindings) {
    await channel.bindQueue(binding.queue, binding.exchange, binding.routingKey);
  }
}
