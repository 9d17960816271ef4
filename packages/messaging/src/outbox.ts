import { AppError } from '@mcms/platform';
import type { Pool, PoolClient } from 'pg';
import type { OutgoingMessage } from './types';

/**
 * The one thing the outbox and the inbox need from a transaction: run a statement, get the number
 * of rows it touched. Adapters exist for a Prisma interactive transaction ({@link fromPrismaTx})
 * and a pg client ({@link fromPgClient}); write through the same transaction as the state change.
 */
export interface SqlExecutor {
  execute(sql: string, params: unknown[]): Promise<number>;
}

/** What {@link fromPrismaTx} needs of a Prisma interactive transaction client. */
export interface PrismaRawExecutor {
  $executeRawUnsafe(query: string, ...values: unknown[]): PromiseLike<number>;
}

/** What {@link fromPgClient} needs of a pg `Client` / `PoolClient` (already inside `BEGIN`). */
export interface PgQueryable {
  query(text: string, values?: unknown[]): Promise<{ rowCount: number | null }>;
}

/** Adapts the `tx` of `prisma.$transaction(async (tx) => …)`. */
export function fromPrismaTx(tx: PrismaRawExecutor): SqlExecutor {
  return { execute: async (sql, params) => tx.$executeRawUnsafe(sql, ...params) };
}

/** Adapts a pg client; the caller owns `BEGIN`/`COMMIT` on it. */
export function fromPgClient(client: PgQueryable): SqlExecutor {
  return {
    execute: async (sql, params) => (await client.query(sql, params)).rowCount ?? 0,
  };
}

// PostgreSQL accepts at most 65,535 bind parameters per statement; 4 per row.
const MAX_ROWS_PER_INSERT = 16_000;

/**
 * Writes `messages` to the outbox inside the caller's transaction, in one multi-row INSERT (split
 * only past 16,000 messages). A message whose `messageId` is already in the outbox is skipped, so
 * re-running an idempotent use-case can't enqueue it twice. The table's trigger NOTIFYs the relay
 * when the transaction commits; nothing is published if it rolls back.
 *
 * Headers are not stored (the outbox table has no column for them): a message with headers is
 * rejected rather than published without them. Derive headers from the envelope in the publisher.
 *
 * @returns how many rows were inserted (duplicates excluded).
 */
export async function enqueueOutbox(
  sql: SqlExecutor,
  messages: OutgoingMessage | readonly OutgoingMessage[],
): Promise<number> {
  const list: readonly OutgoingMessage[] = Array.isArray(messages) ? messages : [messages as OutgoingMessage];
  for (const message of list) {
    if (message.headers !== undefined && Object.keys(message.headers).length > 0) {
      throw new AppError({
        code: 'outbox_headers_unsupported',
        message: `outbox message ${message.envelope.messageId} has headers; the outbox does not store headers`,
        httpStatus: 500,
      });
    }
  }
  let inserted = 0;
  for (let start = 0; start < list.length; start += MAX_ROWS_PER_INSERT) {
    const chunk = list.slice(start, start + MAX_ROWS_PER_INSERT);
    const params: unknown[] = [];
    const rows = chunk.map((message) => {
      const n = params.push(
        message.envelope.messageId,
        message.exchange,
        message.routingKey,
        JSON.stringify(message.envelope),
      );
      // Explicit casts: Prisma's pg adapter may bind parameters as text.
      return `($${n - 3}::uuid, $${n - 2}, $${n - 1}, $${n}::jsonb)`;
    });
    inserted += await sql.execute(
      `INSERT INTO outbox_message (message_id, exchange, routing_key, envelope) VALUES ${rows.join(', ')}
       ON CONFLICT (message_id) DO NOTHING`,
      params,
    );
  }
  return inserted;
}

/**
 * Runs `fn` in a transaction on one pooled connection: `BEGIN`, `COMMIT` on success, `ROLLBACK`
 * and rethrow on error. For pg users writing state and outbox rows together:
 * `withPgTransaction(pool, async (client) => { …; await enqueueOutbox(fromPgClient(client), messages); })`.
 *
 * While the connection is checked out, pg-pool listens for nothing on it, and a connection that dies
 * then (a restart, `pg_terminate_backend`) emits an `error` event that would crash the process.
 * This listens, and hands such a connection back to the pool as broken so it is discarded.
 */
export async function withPgTransaction<T>(pool: Pool, fn: (client: PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  let broken: Error | undefined;
  const onError = (err: Error) => {
    broken ??= err;
  };
  client.on('error', onError);
  try {
    await client.query('BEGIN');
    try {
      const result = await fn(client);
      await client.query('COMMIT');
      return result;
    } catch (err) {
      await client.query('ROLLBACK').catch((rollbackError: Error) => {
        // Never return a connection to the pool in the middle of a transaction.
        broken ??= rollbackError;
      });
      throw err;
    }
  } finally {
    client.removeListener('error', onError);
    client.release(broken);
  }
}
