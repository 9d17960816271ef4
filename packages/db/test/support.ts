import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { DEFAULT_DATABASE_URL } from '../src/service-databases';

/** The database the tests use; the global setup may point DATABASE_URL elsewhere. */
export const databaseUrl = process.env.DATABASE_URL || DEFAULT_DATABASE_URL;

/** A schema name no other test (or test run) uses. */
export function uniqueSchemaName(purpose: string): string {
  return `test_db_${purpose}_${randomBytes(4).toString('hex')}`;
}

/** Runs `fn` with a connected client and always closes it. */
export async function withClient<T>(fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

export async function dropSchemas(...schemas: string[]): Promise<void> {
  await withClient(async (client) => {
    for (const schema of schemas) await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  });
}

export async function schemaExists(schema: string): Promise<boolean> {
  return withClient(async (client) => {
    const { rowCount } = await client.query('SELECT 1 FROM pg_namespace WHERE nspname = $1', [schema]);
    return rowCount === 1;
  });
}

/** A temp migrations folder holding `{ folderName: sql }`; removed by the returned `cleanup`. */
export async function migrationsFixture(migrations: Record<string, string>): Promise<{
  dir: string;
  write: (name: string, sql: string) => Promise<void>;
  cleanup: () => Promise<void>;
}> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'mcms-db-migrations-'));
  const write = async (name: string, sql: string) => {
    await mkdir(path.join(dir, name), { recursive: true });
    await writeFile(path.join(dir, name, 'migration.sql'), sql);
  };
  for (const [name, sql] of Object.entries(migrations)) await write(name, sql);
  return { dir, write, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

/** A scratch dir under packages/db/.tmp (see packages/db/.gitignore). */
export async function packageScratchDir(purpose: string): Promise<string> {
  const root = path.join(__dirname, '..', '.tmp');
  await mkdir(root, { recursive: true });
  return mkdtemp(path.join(root, `${purpose}-`));
}
