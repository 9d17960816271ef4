/** The AMQP headers this package reads and writes. Ours, not `x-death`: they survive replays and copies. */
export const HEADERS = Object.freeze({
  /** 1-based number of the attempt this delivery is. Absent means 1. */
  attempt: 'x-mcms-attempt',
  /** ISO time of the first failed attempt, kept across retries. */
  firstFailureAt: 'x-mcms-first-failure-at',
  /** `code: message` of the last failure, short. */
  lastError: 'x-mcms-last-error',
  /** Where the message was first published; a retried copy arrives through the default exchange. */
  originalExchange: 'x-mcms-original-exchange',
  originalRoutingKey: 'x-mcms-original-routing-key',
  deadLetterReason: 'x-mcms-dead-letter-reason',
  deadLetterMessage: 'x-mcms-dead-letter-message',
  /** The real name of the work queue that dead-lettered the message: where a replay sends it. */
  queue: 'x-mcms-queue',
  attempts: 'x-mcms-attempts',
  lastFailureAt: 'x-mcms-last-failure-at',
  replayedBy: 'x-mcms-replayed-by',
  replayedAt: 'x-mcms-replayed-at',
});

/** A dead-letter message is cut to this many characters. */
export const DEAD_LETTER_MESSAGE_MAX = 1000;
/** `x-mcms-last-error` is cut to this many characters. */
export const LAST_ERROR_MAX = 200;

/** The attempt number in `headers`, 1 when absent or malformed. */
export function attemptOf(headers: Record<string, unknown> | undefined): number {
  const raw = headers?.[HEADERS.attempt];
  const value = typeof raw === 'number' ? raw : typeof raw === 'string' ? Number(raw) : NaN;
  return Number.isInteger(value) && value >= 1 ? value : 1;
}

/** A header value as a string, or undefined. */
export function headerString(headers: Record<string, unknown> | undefined, name: string): string | undefined {
  const raw = headers?.[name];
  if (typeof raw === 'string') return raw;
  if (Buffer.isBuffer(raw)) return raw.toString('utf8');
  if (typeof raw === 'number' || typeof raw === 'boolean') return String(raw);
  return undefined;
}

/** Cuts `text` to `max` characters, marking the cut. */
export function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}
