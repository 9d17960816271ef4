import type { GetMessage, Options } from 'amqplib';
import type { Broker } from './broker';
import { attemptOf, HEADERS, headerString } from './headers';

/** One parked message as an operator sees it. */
export interface DeadLetter {
  messageId: string | undefined;
  type: string | undefined;
  correlationId: string | undefined;
  /** `x-mcms-dead-letter-reason`: an AppError code, `retries-exhausted`, `invalid-message`, `unknown-message-type`. */
  reason: string | undefined;
  message: string | undefined;
  /** The real name of the work queue a replay returns it to. */
  queue: string | undefined;
  originalExchange: string | undefined;
  originalRoutingKey: string | undefined;
  attempts: number | undefined;
  firstFailureAt: string | undefined;
  lastFailureAt: string | undefined;
  /** The parsed JSON body, or the raw text when it is not JSON. */
  body: unknown;
}

/** What {@link replayDeadLetters} did. */
export interface ReplayResult {
  replayed: number;
  /** Examined and left in the dead-letter queue: not matching the filter, or with no origin queue. */
  skipped: number;
  /** Matching but not republished (e.g. the origin queue no longer exists); left in the dead-letter queue. */
  failed: number;
  replayedBy: string;
  replayedAt: string;
}

// Headers a replay drops: the copy starts a fresh series of attempts.
const FAILURE_HEADERS = [
  HEADERS.deadLetterReason,
  HEADERS.deadLetterMessage,
  HEADERS.attempts,
  HEADERS.firstFailureAt,
  HEADERS.lastFailureAt,
  HEADERS.lastError,
];

/**
 * Up to `limit` (default 50) messages of the dead-letter queue of `queue` (a consumer queue of the
 * topology, without the prefix), oldest first, without consuming them: they are fetched unacked and
 * returned to the queue when the channel closes.
 */
export async function peekDeadLetters(
  broker: Broker,
  queue: string,
  { limit = 50 }: { limit?: number } = {},
): Promise<DeadLetter[]> {
  const deadLetterQueue = broker.topology.names.deadLetterQueue(queue);
  return broker.withChannel(async (channel) => {
    const letters: DeadLetter[] = [];
    while (letters.length < limit) {
      const message = await channel.get(deadLetterQueue, { noAck: false });
      if (message === false) break;
      letters.push(toDeadLetter(message));
    }
    // Back to the queue now, ahead of whatever an operator does next (closing the channel would
    // return them too, but later).
    channel.nackAll(true);
    return letters;
  });
}

/**
 * Republishes the dead letters of `queue` that match `filter` (all when omitted), at most `limit`,
 * each to the work queue that dead-lettered it (`x-mcms-queue`, through the default exchange, so no
 * other subscriber sees it again), with the attempt reset to 1 and `x-mcms-replayed-by`/`-at` set.
 * A dead letter is acked only after its copy is confirmed; the others stay in the dead-letter queue.
 * Examines at most the messages that were in the queue when it started.
 */
export async function replayDeadLetters(
  broker: Broker,
  queue: string,
  options: { filter?: (letter: DeadLetter) => boolean; limit?: number; replayedBy: string },
): Promise<ReplayResult> {
  const { filter, limit = Number.POSITIVE_INFINITY, replayedBy } = options;
  if (!replayedBy) throw new Error('replayedBy is required: who replays is part of the audit trail');
  const deadLetterQueue = broker.topology.names.deadLetterQueue(queue);
  const replayedAt = new Date().toISOString();
  const result = await broker.withChannel(async (channel) => {
    const { messageCount } = await channel.checkQueue(deadLetterQueue);
    let replayed = 0;
    let skipped = 0;
    let failed = 0;
    // Non-matching letters stay unacked (so `get` moves past them) until the channel closes.
    for (let examined = 0; examined < messageCount && replayed < limit; examined++) {
      const message = await channel.get(deadLetterQueue, { noAck: false });
      if (message === false) break;
      const letter = toDeadLetter(message);
      if (!letter.queue || (filter && !filter(letter))) {
        skipped++;
        continue;
      }
      const headers: Record<string, unknown> = { ...message.properties.headers };
      for (const name of FAILURE_HEADERS) delete headers[name];
      headers[HEADERS.attempt] = 1;
      headers[HEADERS.replayedBy] = replayedBy;
      headers[HEADERS.replayedAt] = replayedAt;
      try {
        await broker.publisher.publishToQueue(letter.queue, message.content, replayOptions(message, headers));
      } catch (err) {
        failed++;
        broker.log.warn(
          { err, messageId: letter.messageId, target: letter.queue },
          'could not replay a dead letter; left in place',
        );
        continue;
      }
      channel.ack(message);
      replayed++;
    }
    // What is still unacked (skipped or failed) goes back to the dead-letter queue.
    channel.nackAll(true);
    return { replayed, skipped, failed };
  });
  broker.log.info({ queue: deadLetterQueue, ...result, replayedBy, replayedAt }, 'dead letters replayed');
  return { ...result, replayedBy, replayedAt };
}

/** Deletes every message of the dead-letter queue of `queue`; returns how many there were. */
export async function purgeDeadLetters(broker: Broker, queue: string): Promise<number> {
  const deadLetterQueue = broker.topology.names.deadLetterQueue(queue);
  const { messageCount } = await broker.withChannel((channel) => channel.purgeQueue(deadLetterQueue));
  broker.log.warn({ queue: deadLetterQueue, purged: messageCount }, 'dead letters purged');
  return messageCount;
}

function toDeadLetter(message: GetMessage): DeadLetter {
  const headers = message.properties.headers;
  const attempts =
    headers?.[HEADERS.attempts] === undefined
      ? undefined
      : attemptOf({ [HEADERS.attempt]: headers[HEADERS.attempts] });
  const text = message.content.toString('utf8');
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // Parked because it is not JSON: show it as it is.
  }
  return {
    messageId: message.properties.messageId as string | undefined,
    type: message.properties.type as string | undefined,
    correlationId: message.properties.correlationId as string | undefined,
    // Dead-lettered by the broker itself (the delivery limit of poisonPolicies): only its headers say why and where from.
    reason: headerString(headers, HEADERS.deadLetterReason) ?? headerString(headers, 'x-first-death-reason'),
    message:
      headerString(headers, HEADERS.deadLetterMessage) ??
      brokerDeathMessage(headerString(headers, 'x-first-death-reason')),
    queue: headerString(headers, HEADERS.queue) ?? headerString(headers, 'x-first-death-queue'),
    originalExchange: headerString(headers, HEADERS.originalExchange),
    originalRoutingKey: headerString(headers, HEADERS.originalRoutingKey),
    attempts,
    firstFailureAt: headerString(headers, HEADERS.firstFailureAt),
    lastFailureAt: headerString(headers, HEADERS.lastFailureAt),
    body,
  };
}

function brokerDeathMessage(reason: string | undefined): string | undefined {
  if (reason === undefined) return undefined;
  return reason === 'delivery_limit'
    ? 'delivered more times than the delivery limit without an ack: its handler crashes the consumer'
    : `dead-lettered by the broker: ${reason}`;
}

function replayOptions(message: GetMessage, headers: Record<string, unknown>): Options.Publish {
  const p = message.properties;
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
