import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { Envelope, EXCHANGES, type ExchangeName } from './envelope';

/** Whether a message asks one service to act (command) or tells what happened (event). */
export type MessageKind = 'command' | 'event';

/**
 * One message, defined once: its type (also the routing key), version, exchange, payload schema and
 * the description that goes into the AsyncAPI document. Everything else is derived from it.
 */
export interface MessageDefinition<TType extends string = string, TPayload extends z.ZodType = z.ZodType> {
  readonly type: TType;
  readonly version: number;
  readonly kind: MessageKind;
  readonly exchange: ExchangeName;
  readonly routingKey: TType;
  readonly summary: string;
  readonly payload: TPayload;
  /** The envelope schema with this type, version and payload: what consumers validate. */
  readonly envelope: z.ZodType<MessageEnvelope<TType, z.output<TPayload>>>;
}

/** A validated envelope of a known message type. */
export interface MessageEnvelope<TType extends string = string, TPayload = unknown> {
  messageId: string;
  type: TType;
  version: number;
  occurredAt: string;
  correlationId: string;
  causationId: string | null;
  payload: TPayload;
}

/** The envelope type of a definition: `MessageOf<typeof AddinJobResultCommand>`. */
export type MessageOf<D> =
  D extends MessageDefinition<infer T, infer P> ? MessageEnvelope<T, z.output<P>> : never;

/** The payload type of a definition. */
export type PayloadOf<D> = D extends MessageDefinition<string, infer P> ? z.output<P> : never;

/** Defines a message. `type` doubles as the routing key, so consumers bind to exactly what they handle. */
export function defineMessage<TType extends string, TPayload extends z.ZodType>(spec: {
  type: TType;
  version: number;
  kind: MessageKind;
  summary: string;
  payload: TPayload;
}): MessageDefinition<TType, TPayload> {
  const envelope = Envelope.extend({
    type: z.literal(spec.type),
    version: z.literal(spec.version),
    payload: spec.payload,
  }) as unknown as z.ZodType<MessageEnvelope<TType, z.output<TPayload>>>;
  return Object.freeze({
    ...spec,
    exchange: spec.kind === 'command' ? EXCHANGES.commands : EXCHANGES.events,
    routingKey: spec.type,
    envelope,
  });
}

/** Where a new message comes from: the flow it belongs to and the message that caused it. */
export interface MessageOrigin {
  correlationId: string;
  causationId?: string | null;
  /** Injected in tests for exact results; defaults to a random uuid. */
  messageId?: string;
  /** Injected in tests for exact results; defaults to now. */
  occurredAt?: Date;
}

/**
 * Builds and validates a new envelope. Producers call this before writing an outbox row or
 * publishing, so an invalid message fails at its source, not in a consumer's dead-letter queue.
 */
export function createMessage<D extends MessageDefinition>(
  definition: D,
  payload: PayloadOf<D>,
  origin: MessageOrigin,
): MessageOf<D> {
  return definition.envelope.parse({
    messageId: origin.messageId ?? randomUUID(),
    type: definition.type,
    version: definition.version,
    occurredAt: (origin.occurredAt ?? new Date()).toISOString(),
    correlationId: origin.correlationId,
    causationId: origin.causationId ?? null,
    payload,
  }) as MessageOf<D>;
}

/** The origin of a message caused by `cause`: same correlation, causation = the cause's id. */
export function causedBy(cause: { messageId: string; correlationId: string }): MessageOrigin {
  return { correlationId: cause.correlationId, causationId: cause.messageId };
}
