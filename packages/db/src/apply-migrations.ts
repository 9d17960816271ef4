import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { pgPoolConfig } from './connection';
import { DbError } from './errors';
import { quoteSchema } from './identifiers';
import { readMigrationFiles, type MigrationFile } from './migration-files';

/**
 * The key `prisma migrate` itself locks (`SELECT pg_advisory_lock(72707369)`). Sharing it means our runner,
 * a second replica of it and a `prisma migrate deploy` run from a connected machine all exclude each other.
 * It is database-wide, so services sharing a database migrate one after another — a few milliseconds each.
 */
export const PRISMA_ADVISORY_LOCK_KEY = 72707369;

/** Options for {@link applyMigrations}. */
export interface ApplyMigrationsOptions {
  databaseUrl: string;
  /** The PostgreSQL schema the migrations (and their `_prisma_migrations` table) live in. */
  schema: string;
  /** A Prisma migrations folder: `<timestamp>_<name>/migration.sql` sub-folders. */
  migrationsDir: string;
  log?: (message: string) => void;
}

interface MigrationRow {
  id: string;
  checksum: string;
  finished_at: Date | null;
  migration_name: string;
  rolled_back_at: Date | null;
}

/**
 * Applies the not-yet-applied migrations in `migrationsDir` to `schema`, in name order, and returns their names.
 *
 * History is kept in `<schema>._prisma_migrations` exactly as Prisma keeps it (same table, same checksum, a failed
 * migration left with `finished_at` null and its error in `logs`), so `prisma migrate deploy`/`status` on a
 * connected machine reads the same history. Each migration runs in its own transaction with `search_path` set
 * to the schema, so unqualified names land there and a failure leaves nothing half-applied. Holds Prisma's
 * advisory lock throughout, so concurrent runners apply each migration once.
 *
 * Throws a {@link DbError} naming the migration when an applied migration's file changed
 * (`MIGRATION_CHECKSUM_MISMATCH`), when a migration fails (`MIGRATION_FAILED`) and on later runs while that
 * failure is unresolved (`MIGRATION_PREVIOUSLY_FAILED`).
 */
export async function applyMigrations(options: ApplyMigrationsOptions): Promise<string[]> {
  const { databaseUrl, migrationsDir, log = () => {} } = options;
  const schema = quoteSchema(options.schema);
  const table = `${schema}."_prisma_migrations"`;
  const migrations = await readMigrationFiles(migrationsDir);

  // The connection-wide search_path backs up the per-transaction one: nothing a migration creates may ever
  // fall through to `public`.
  const client = new pg.Client({
    ...pgPoolConfig({ databaseUrl, schema: options.schema, applicationName: 'mcms-migrate' }),
  });
  await client.connect();
  try {
    // Session-level lock: ending the connection (below, or by a crash) releases it, so no unlock is needed.
    await client.query('SELECT pg_advisory_lock($1)', [PRISMA_ADVISORY_LOCK_KEY]);
    // Inside the lock: concurrent `CREATE ... IF NOT EXISTS` can still fail on a unique-index race.
    await client.query(`CREATE SCHEMA IF NOT EXISTS ${schema}`);
    await client.query(`CREATE TABLE IF NOT EXISTS ${table} (
    "id"                    VARCHAR(36) PRIMARY KEY NOT NULL,
    "checksum"              VARCHAR(64) NOT NULL,
    "finished_at"           TIMESTAMPTZ,
    "migration_name"        VARCHAR(255) NOT NULL,
    "logs"                  TEXT,
    "rolled_back_at"        TIMESTAMPTZ,
    "started_at"            TIMESTAMPTZ NOT NULL DEFAULT now(),
    "applied_steps_count"   INTEGER NOT NULL DEFAULT 0
)`);
    const { rows } = await client.query<MigrationRow>(
      `SELECT id, checksum, finished_at, migration_name, rolled_back_at FROM ${table}
       WHERE rolled_back_at IS NULL ORDER BY started_at`,
    );
    const pending = pendingMigrations(migrations, rows, options.schema, log);

    const applied: string[] = [];
    for (const migration of pending) {
      log(`applying ${migration.name} to schema ${options.schema}`);
      await applyOne(client, schema, table, migration);
      applied.push(migration.name);
    }
    return applied;
  } finally {
    await client.end();
  }
}

/** Checks the recorded history against the files and returns what is left to apply. */
function pendingMigrations(
  migrations: MigrationFile[],
  rows: MigrationRow[],
  schema: string,
  log: (message: string) => void,
): MigrationFile[] {
  const failed = rows.find((row) => row.finished_at === null);
  if (failed) {
    // Same stance as Prisma (P3009): a human decides whether the failed migration left anything behind.
    throw new DbError(
      'MIGRATION_PREVIOUSLY_FAILED',
      `Migration ${failed.migration_name} failed earlier in schema ${schema}; no migrations will be applied ` +
        `until it is resolved. Fix it, then mark it rolled back (prisma migrate resolve --rolled-back ` +
        `${failed.migration_name}, or UPDATE "${schema}"."_prisma_migrations" SET rolled_back_at = now() ` +
        `WHERE id = '${failed.id}').`,
      { migrationName: failed.migration_name },
    );
  }
  const appliedByName = new Map(rows.map((row) => [row.migration_name, row]));
  for (const migration of migrations) {
    const row = appliedByName.get(migration.name);
    if (row && row.checksum !== migration.checksum) {
      throw new DbError(
        'MIGRATION_CHECKSUM_MISMATCH',
        `Migration ${migration.name} was modified after it was applied to schema ${schema} ` +
          `(recorded checksum ${row.checksum}, file ${migration.checksum}). Applied migrations must not change; ` +
          `restore the file and put the change in a new migration.`,
        { migrationName: migration.name },
      );
    }
  }
  const onDisk = new Set(migrations.map((migration) => migration.name));
  for (const row of rows) {
    if (!onDisk.has(row.migration_name)) {
      log(`warning: migration ${row.migration_name} is applied to schema ${schema} but missing from disk`);
    }
  }
  return migrations.filter((migration) => !appliedByName.has(migration.name));
}

async function applyOne(client: pg.Client, schema: string, table: string, migration: MigrationFile) {
  const id = randomUUID();
  try {
    await client.query('BEGIN');
    // Unqualified names in migration.sql (tables, and functions such as trigger functions) land in the schema.
    await client.query(`SET LOCAL search_path TO ${schema}`);
    // The row commits with the migration or not at all: a Job killed mid-way leaves no stale "failed" row
    // behind, and the next run simply applies the migration again.
    await client.query(`INSERT INTO ${table} (id, checksum, migration_name) VALUES ($1, $2, $3)`, [
      id,
      migration.checksum,
      migration.name,
    ]);
    // No parameters: the simple query protocol runs the whole multi-statement file, dollar-quoting included.
    await client.query(migration.sql);
    await client.query(
      `UPDATE ${table} SET finished_at = clock_timestamp(), applied_steps_count = 1 WHERE id = $1`,
      [id],
    );
    await client.query('COMMIT');
  } catch (err) {
    await client.query('ROLLBACK').catch(() => {});
    // Recorded the way Prisma records a failure (finished_at null, the error in logs), so both tools refuse to
    // go on until someone resolves it.
    await client
      .query(`INSERT INTO ${table} (id, checksum, migration_name, logs) VALUES ($1, $2, $3, $4)`, [
        id,
        migration.checksum,
        migration.name,
        failureLogs(err),
      ])
      .catch(() => {});
    throw new DbError('MIGRATION_FAILED', `Migration ${migration.name} failed: ${(err as Error).message}`, {
      migrationName: migration.name,
      cause: err,
    });
  }
}

/** The `logs` column text, shaped like Prisma's so the same people can read it. */
function failureLogs(err: unknown): string {
  const dbErr = err as Partial<pg.DatabaseError>;
  const lines = [];
  if (dbErr.code) lines.push(`Database error code: ${dbErr.code}`, '');
  lines.push('Database error:', `ERROR: ${(err as Error).message ?? String(err)}`);
  if (dbErr.detail) lines.push(`DETAIL: ${dbErr.detail}`);
  if (dbErr.hint) lines.push(`HINT: ${dbErr.hint}`);
  if (dbErr.position) lines.push('', `Position: ${dbErr.position}`);
  return lines.join('\n');
}
