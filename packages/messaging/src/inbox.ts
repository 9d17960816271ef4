import type { Pool, PoolClient } from 'pg';
import {
  fromPgClient,
  fromPrismaTx,
  withPgTransaction,
  type PrismaRawExecutor,
  type SqlExecutor,
} from './outbox';

/** Which consumer handles which message: the inbox's key. */
export interface InboxKey {
  /** A stable consumer name, e.g. `routing-worker.addin-job-result`; renaming it forgets history. */
  consumer: string;
  /** The envelope's `messageId`. */
  messageId: string;
}

/** The outcome of {@link withInbox}: a duplicate had no effect, a first delivery carries its result. */
export type InboxOutcome<T> = { duplicate: true } | { duplicate: false; result: T };

/**
 * Records that `consumer` handles `messageId`, inside the caller's transaction. `true` the first
 * time; `false` when it was already recorded. A concurrent claim of the same key waits on the
 * primary key until the first transaction ends, then sees the conflict (or wins, if that one
 * rolled back).
 */
export async function claimInbox(sql: SqlExecutor, consumer: string, messageId: string): Promise<boolean> {
  const inserted = await sql.execute(
    'INSERT INTO inbox_message (consumer, message_id) VALUES ($1, $2::uuid) ON CONFLICT DO NOTHING',
    [consumer, messageId],
  );
  return inserted === 1;
}

/** What {@link withInbox} needs of a Prisma client: interactive transactions. */
export interface PrismaTransactor<Tx extends PrismaRawExecutor> {
  $transaction<R>(fn: (tx: Tx) => Promise<R>): PromiseLike<R>;
}

/**
 * Runs `effect` at most once per {@link InboxKey}: the inbox claim and the effect (including any
 * outbox rows it enqueues with `fromPrismaTx(tx)`) commit or roll back together. An effect that
 * throws leaves no inbox row, so a redelivery can try again.
 *
 * Prisma's interactive transaction limits apply (default 5 s): a concurrent duplicate waits inside
 * its own transaction for the first one to finish.
 */
export async function withInbox<Tx extends PrismaRawExecutor, T>(
  prisma: PrismaTransactor<Tx>,
  key: InboxKey,
  effect: (tx: Tx) => Promise<T>,
): Promise<InboxOutcome<T>> {
  return prisma.$transaction(async (tx): Promise<InboxOutcome<T>> => {
    if (!(await claimInbox(fromPrismaTx(tx), key.consumer, key.messageId))) return { duplicate: true };
    return { duplicate: false, result: await effect(tx) };
  });
}

/** {@link withInbox} for pg users: one pooled connection, `BEGIN` … `COMMIT`, `ROLLBACK` on error. */
export async function withInboxPg<T>(
  pool: Pool,
  key: InboxKey,
  effect: (client: PoolClient) => Promise<T>,
): Promise<InboxOutcome<T>> {
  return withPgTransaction(pool, async (client): Promise<InboxOutcome<T>> => {
    if (!(await claimInbox(fromPgClient(client), key.consumer, key.messageId))) return { duplicate: true };
    return { duplicate: false, result: await effect(client) };
  });
}
