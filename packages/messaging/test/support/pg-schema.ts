import { eventually } from '@mcms/testing';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { Client, escapeIdentifier, Pool } from 'pg';
// Relative, not `@mcms/db`: the messaging package does not depend on the db package, its tests do.
import { applyMigrations, pgPoolConfig } from '@mcms/db';

/** The server every messaging test uses; `TEST_DATABASE_URL` overrides it. */
export const TEST_DATABASE_URL =
  process.env.TEST_DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres';

// Any service's migrations create the outbox and inbox tables and the NOTIFY trigger; this one's are the real DDL.
const MIGRATIONS_DIR = path.resolve(__dirname, '../../../../services/routing-worker/prisma/migrations');

/** A throw-away schema migrated like a service schema, and a pool whose `search_path` is it. */
export interface TestSchema {
  schema: string;
  /** Connections with `search_path` = `schema` and `application_name` = `schema`. */
  pool: Pool;
  /** Drops the schema and ends the pool. */
  drop(): Promise<void>;
}

/**
 * Creates `t_<random>`, applies the routing-worker migrations to it (outbox, inbox, NOTIFY trigger)
 * and then `extraDdl` (tables a test needs for its effects), with the schema on the search path.
 */
export async function createTestSchema(extraDdl = ''): Promise<TestSchema> {
  const schema = `t_${randomBytes(6).toString('hex')}`;
  await applyMigrations({ databaseUrl: TEST_DATABASE_URL, schema, migrationsDir: MIGRATIONS_DIR });
  // Lets a test find its own sessions in pg_stat_activity while other test files run.
  const pool = new Pool({
    ...pgPoolConfig({ databaseUrl: TEST_DATABASE_URL, schema, applicationName: schema }),
    max: 10,
  });
  // An idle connection that dies (a test terminates backends) must not crash the test process.
  pool.on('error', () => undefined);
  if (extraDdl) await pool.query(extraDdl);
  return {
    schema,
    pool,
    async drop() {
      await pool.end();
      const client = new Client({ connectionString: TEST_DATABASE_URL });
      await client.connect();
      try {
        await client.query(`DROP SCHEMA ${escapeIdentifier(schema)} CASCADE`);
      } finally {
        await client.end();
      }
    },
  };
}

export { eventually };
