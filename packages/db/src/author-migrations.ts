import { access, mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { DbError } from './errors';
import { MIGRATION_LOCK_CONTENT, MIGRATION_LOCK_FILE, readMigrationFiles } from './migration-files';
import { diffMigrationsToSchema } from './schema-engine';
import { databaseUrlFor, servicePrismaPaths, type ServiceName } from './service-databases';

/** Options for {@link checkMigrationsMatchSchema}. */
export interface CheckMigrationsOptions {
  service: ServiceName;
  /** Hosts the throw-away shadow schema; by default the service's database (see `databaseUrlFor`). */
  databaseUrl?: string;
  /** Overrides, e.g. a copy of the schema in a temp dir; default the service's own files. */
  schemaPath?: string;
  migrationsDir?: string;
  rootDir?: string;
}

/**
 * Applies the service's committed migrations to a throw-away schema and diffs the result against its
 * schema.prisma. Returns the SQL still missing from the migrations — empty when they are in sync.
 */
export async function checkMigrationsMatchSchema(options: CheckMigrationsOptions): Promise<string> {
  const paths = servicePrismaPaths(options.service, options.rootDir);
  const schemaPath = options.schemaPath ?? paths.schemaPath;
  const migrationsDir = options.migrationsDir ?? paths.migrationsDir;
  return diffMigrationsToSchema({
    databaseUrl: options.databaseUrl ?? databaseUrlFor(options.service, process.env),
    migrations: await readMigrationFiles(migrationsDir),
    migrationsDir,
    schemaPath,
    schemaContent: await readFile(schemaPath, 'utf8'),
  });
}

/** Options for {@link createMigration}. */
export interface CreateMigrationOptions extends CheckMigrationsOptions {
  /** Becomes `<UTC yyyymmddHHMMSS>_<name>`; lower-case letters, digits and `_`, like Prisma's names. */
  name: string;
  /** The clock, for tests. */
  now?: Date;
}

/** What {@link createMigration} wrote. */
export interface CreatedMigration {
  name: string;
  path: string;
  sql: string;
}

const MIGRATION_NAME = /^[a-z0-9_]{1,200}$/;

/**
 * Authors a migration: writes the SQL from "all committed migrations applied" to schema.prisma into a new
 * `<timestamp>_<name>/migration.sql` (and `migration_lock.toml` if missing). Returns `null`, writing nothing,
 * when there are no changes. Hand-written SQL (triggers, functions) can be appended to the file afterwards.
 */
export async function createMigration(options: CreateMigrationOptions): Promise<CreatedMigration | null> {
  if (!MIGRATION_NAME.test(options.name)) {
    throw new DbError(
      'MIGRATIONS_DIR_INVALID',
      `Invalid migration name ${JSON.stringify(options.name)}: use lower-case letters, digits and _`,
    );
  }
  const migrationsDir =
    options.migrationsDir ?? servicePrismaPaths(options.service, options.rootDir).migrationsDir;
  const sql = await checkMigrationsMatchSchema({ ...options, migrationsDir });
  if (sql === '') return null;

  const name = `${utcTimestamp(options.now ?? new Date())}_${options.name}`;
  const existing = await readMigrationFiles(migrationsDir);
  const last = existing.at(-1)?.name;
  // Prisma applies in name order; a folder sorting before an applied one would run out of order elsewhere.
  if (last !== undefined && name <= last) {
    throw new DbError(
      'MIGRATIONS_DIR_INVALID',
      `New migration ${name} would sort before or equal to the latest one, ${last}; check the clock`,
      { migrationName: name },
    );
  }
  const dir = path.join(migrationsDir, name);
  await mkdir(dir, { recursive: true });
  const file = path.join(dir, 'migration.sql');
  await writeFile(file, sql);
  const lockFile = path.join(migrationsDir, MIGRATION_LOCK_FILE);
  if (!(await exists(lockFile))) await writeFile(lockFile, MIGRATION_LOCK_CONTENT);
  return { name, path: file, sql };
}

function utcTimestamp(date: Date): string {
  return date.toISOString().replace(/[-:T]/g, '').slice(0, 14);
}

async function exists(file: string): Promise<boolean> {
  return access(file).then(
    () => true,
    () => false,
  );
}
