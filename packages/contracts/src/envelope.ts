import { z } from 'zod';

/**
 * The envelope every command and event travels in. `messageId` is the idempotency key consumers
 * record in their inbox; `correlationId` follows one business flow (an approval, a job) across
 * services; `causationId` names the message that caused this one (null for an HTTP request).
 */
export const Envelope = z.object({
  messageId: z.uuid(),
  type: z.string().min(1).max(200),
  version: z.number().int().positive(),
  occurredAt: z.iso.datetime({ offset: true }),
  correlationId: z.string().min(1).max(200),
  causationId: z.string().min(1).max(200).nullable(),
  payload: z.unknown(),
});

/** An envelope whose payload has not been validated against its message definition yet. */
export type UnknownEnvelope = z.infer<typeof Envelope>;

/** The logical exchanges: commands ask one service to act, events tell anyone what happened. */
export const EXCHANGES = { commands: 'mcms.commands', events: 'mcms.events' } as const;

/** A logical exchange name as it appears in definitions and outbox rows. */
export type ExchangeName = (typeof EXCHANGES)[keyof typeof EXCHANGES];
