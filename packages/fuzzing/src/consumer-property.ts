import { randomUUID } from 'node:crypto';
import { messageCatalog } from '@mcms/contracts';
import { consumerSpecOf, peekDeadLetters, type Broker } from '@mcms/messaging';
import { eventually } from '@mcms/testing';
import fc from 'fast-check';
import { malformedMessages, type MalformedMessage } from './messages';

/** Options of {@link fuzzConsumer}. */
export interface FuzzConsumerOptions {
  /** The broker of the service under test (its topology holds `queue`). */
  broker: Broker;
  /** A consumer queue of the topology, without the prefix. */
  queue: string;
  cases: number;
  seed: number;
  /** Messages published at once. Default 64. */
  concurrency?: number;
  /** How many messages the service handled (acked after its handler ran) so far, e.g. from its metrics. */
  handled: () => Promise<number>;
  /** How many messages the service sent to a retry tier so far. */
  retried: () => Promise<number>;
}

/** The messages a queue's consumer takes: the catalogue's definitions its bindings name. */
export function definitionsOf(broker: Broker, queue: string) {
  const routingKeys = new Set(consumerSpecOf(broker.topology, queue).bindings.map((b) => b.routingKey));
  return messageCatalog.filter((definition) => routingKeys.has(definition.routingKey));
}

async function queueDepth(broker: Broker, name: string): Promise<number> {
  return broker.withChannel(async (channel) => (await channel.checkQueue(name)).messageCount);
}

async function publishAll(
  broker: Broker,
  queue: string,
  messages: Array<MalformedMessage & { id: string }>,
  concurrency: number,
) {
  const target = broker.topology.names.queue(queue);
  for (let i = 0; i < messages.length; i += concurrency) {
    await Promise.all(
      messages.slice(i, i + concurrency).map((m) =>
        broker.publisher.publishToQueue(target, m.content, {
          messageId: m.id,
          contentType: m.contentType,
          type: m.type,
          headers: m.headers,
        }),
      ),
    );
  }
}

/**
 * Publishes `cases` generated malformed messages straight to the consumer's work queue, then checks
 * that each one was dead-lettered exactly once with a reason, that none was handled or retried, and
 * that the work and retry queues are empty. Returns how many messages it published.
 */
export async function fuzzConsumer(options: FuzzConsumerOptions): Promise<number> {
  const { broker, queue, cases, seed, concurrency = 64 } = options;
  const definitions = definitionsOf(broker, queue);
  const handledBefore = await options.handled();
  const retriedBefore = await options.retried();
  const generated = fc.sample(malformedMessages(definitions), { numRuns: cases, seed });
  const messages = generated.map((m) => ({ ...m, id: `fuzz-${randomUUID()}` }));
  await publishAll(broker, queue, messages, concurrency);

  const deadLetterQueue = broker.topology.names.deadLetterQueue(queue);
  const timeoutMs = 30_000 + cases * 20;
  await eventually(
    async () => ((await queueDepth(broker, deadLetterQueue)) >= cases ? true : undefined),
    `${cases} dead letters in ${deadLetterQueue}`,
    timeoutMs,
  );
  // One more message, dead-lettered after the others were: a late duplicate of any of them would
  // show up before it does.
  const [sentinel] = fc.sample(malformedMessages(definitions), { numRuns: 1, seed: seed + 1 });
  const last = { ...(sentinel as MalformedMessage), id: `fuzz-sentinel-${randomUUID()}` };
  await publishAll(broker, queue, [last], 1);
  await eventually(
    async () => ((await queueDepth(broker, deadLetterQueue)) >= cases + 1 ? true : undefined),
    'the sentinel dead letter',
    timeoutMs,
  );

  const letters = await peekDeadLetters(broker, queue, { limit: cases + 100 });
  const seen = new Map<string, number>();
  for (const letter of letters) seen.set(letter.messageId ?? '', (seen.get(letter.messageId ?? '') ?? 0) + 1);
  const problems: string[] = [];
  if (letters.length !== cases + 1) problems.push(`${letters.length} dead letters for ${cases + 1} messages`);
  for (const m of [...messages, last]) {
    const count = seen.get(m.id) ?? 0;
    if (count !== 1) problems.push(`${m.defect} message ${m.id} dead-lettered ${count} times`);
  }
  for (const letter of letters) {
    if (!letter.reason) problems.push(`dead letter ${letter.messageId} has no reason`);
    if (!letter.message) problems.push(`dead letter ${letter.messageId} does not say what is wrong`);
  }
  const handled = (await options.handled()) - handledBefore;
  if (handled !== 0) problems.push(`${handled} malformed messages were handled`);
  const retried = (await options.retried()) - retriedBefore;
  if (retried !== 0) problems.push(`${retried} malformed messages were retried`);
  const spec = consumerSpecOf(broker.topology, queue);
  const leftovers = [
    broker.topology.names.queue(queue),
    ...spec.retryDelaysMs.map((ms) => broker.topology.names.retryQueue(queue, ms)),
  ];
  for (const name of leftovers) {
    const depth = await queueDepth(broker, name);
    if (depth !== 0) problems.push(`${depth} messages left in ${name}`);
  }
  if (problems.length > 0) {
    throw new Error(`${queue} (seed ${seed}):\n  ${problems.slice(0, 20).join('\n  ')}`);
  }
  return cases + 1;
}
