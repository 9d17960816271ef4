import type { Pool } from 'pg';
import type { PrismaTransactor } from '../../src/inbox';
import { withPgTransaction, type PrismaRawExecutor } from '../../src/outbox';

/**
 * The shape of `prisma.$transaction(async (tx) => …)` over a real pg transaction: `tx` offers
 * `$executeRawUnsafe` like a Prisma interactive transaction client. Lets the inbox tests run
 * `withInbox` against PostgreSQL without a generated Prisma client.
 */
export function pgTransactor(pool: Pool): PrismaTransactor<PrismaRawExecutor> {
  return {
    $transaction: (fn) =>
      withPgTransaction(pool, (client) =>
        fn({
          $executeRawUnsafe: async (query, ...values) => (await client.query(query, values)).rowCount ?? 0,
        }),
      ),
  };
}
