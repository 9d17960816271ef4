import type { ExchangeName, MessageDefinition, MessageEnvelope, UnknownEnvelope } from '@mcms/contracts';

/** AMQP header values we put on messages (kept flat and small: a headers table is capped at 64 KiB). */
export type HeaderValue = string | number | boolean;

/** One message on its way out: where it goes and the validated envelope it carries. */
export interface OutgoingMessage {
  /** Logical exchange name (`mcms.commands` | `mcms.events`); the topology maps it to the real name. */
  exchange: ExchangeName;
  routingKey: string;
  envelope: UnknownEnvelope | MessageEnvelope;
  headers?: Record<string, HeaderValue>;
}

/**
 * Publishes with publisher confirms and `mandatory`. Resolves only once the broker has taken
 * responsibility for the message. Rejects with an AppError: `unroutable` (not retryable: nothing
 * is bound, the message would be lost) or `broker_unavailable` / `publish_timeout` (retryable).
 */
export interface Publisher {
  publish(message: OutgoingMessage): Promise<void>;
}

/** The outgoing form of an envelope of a known definition: its exchange and routing key. */
export function outgoing<D extends MessageDefinition>(
  definition: D,
  envelope: MessageEnvelope,
  headers?: Record<string, HeaderValue>,
): OutgoingMessage {
  return {
    exchange: definition.exchange,
    routingKey: definition.routingKey,
    envelope,
    ...(headers ? { headers } : {}),
  };
}
