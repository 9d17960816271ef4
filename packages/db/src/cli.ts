#!/usr/bin/env node
// `node packages/db/dist/cli.js <command>`: the offline stand-in for `prisma migrate deploy`, `prisma generate`
// and `prisma migrate dev --create-only`. Thin: parse arguments, call the package's functions, print.
import path from 'node:path';
import { parseArgs } from 'node:util';
import { applyMigrations } from './apply-migrations';
import { createMigration } from './author-migrations';
import { isDbError } from './errors';
import { generatePrismaClients } from './generate-clients';
import {
  assertServiceName,
  databaseSchemaFor,
  databaseUrlFor,
  SERVICE_DATABASES,
  servicePrismaPaths,
  type ServiceName,
} from './service-databases';

const USAGE = `Usage: node packages/db/dist/cli.js <command>

  migrate [--service <dir>]...      apply committed migrations (default: every service, in order)
    [--migrations-dir <dir>]        ...from <dir> instead of services/<dir>/prisma/migrations; needs one
                                    --service (a production bundle, which has no workspace around it)
  generate [--service <dir>]...     generate Prisma clients into services/<dir>/src/generated/prisma
  diff --service <dir> --name <n>   write services/<dir>/prisma/migrations/<UTC timestamp>_<n>/migration.sql
                                    with the SQL from the committed migrations to schema.prisma

Services: ${Object.keys(SERVICE_DATABASES).join(', ')}
Environment: <PREFIX>_DATABASE_URL, else DATABASE_URL; <PREFIX>_DATABASE_SCHEMA overrides the schema
  (PREFIX: ${Object.values(SERVICE_DATABASES)
    .map((schema) => schema.toUpperCase())
    .join(', ')})`;

/** Where the CLI writes; tests pass their own. */
export interface CliIo {
  env: Readonly<Record<string, string | undefined>>;
  out: (line: string) => void;
  err: (line: string) => void;
  rootDir?: string;
}

/** Runs one CLI invocation and resolves to its exit code; never throws. */
export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  try {
    const { positionals, values } = parseArgs({
      args: [...argv],
      allowPositionals: true,
      options: {
        service: { type: 'string', multiple: true },
        name: { type: 'string' },
        'migrations-dir': { type: 'string' },
        help: { type: 'boolean' },
      },
    });
    const [command, ...extra] = positionals;
    if (values.help || command === undefined) {
      io.out(USAGE);
      return values.help ? 0 : 2;
    }
    if (extra.length > 0) throw new UsageError(`unexpected argument ${extra[0]}`);
    const services = (values.service ?? Object.keys(SERVICE_DATABASES)).map(assertServiceName);
    const migrationsDir = values['migrations-dir'];
    if (migrationsDir !== undefined && (command !== 'migrate' || values.service?.length !== 1))
      throw new UsageError('--migrations-dir goes with migrate and one --service');
    switch (command) {
      case 'migrate':
        await migrate(services, io, migrationsDir);
        return 0;
      case 'generate': {
        const started = Date.now();
        const schemaPaths = await generatePrismaClients({ services, rootDir: io.rootDir });
        io.out(`generated ${schemaPaths.length} Prisma client(s) in ${Date.now() - started} ms`);
        return 0;
      }
      case 'diff':
        await diff(values.service, values.name, io);
        return 0;
      default:
        throw new UsageError(`unknown command ${command}`);
    }
  } catch (err) {
    if (err instanceof UsageError || (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      io.err(`${(err as Error).message}\n\n${USAGE}`);
      return 2;
    }
    io.err(`error: ${describe(err)}`);
    return 1;
  }
}

class UsageError extends Error {}

async function migrate(services: ServiceName[], io: CliIo, migrationsDir?: string): Promise<void> {
  for (const service of services) {
    const schema = databaseSchemaFor(service, io.env);
    const databaseUrl = databaseUrlFor(service, io.env);
    let applied: string[];
    try {
      applied = await applyMigrations({
        databaseUrl,
        schema,
        migrationsDir:
          migrationsDir === undefined
            ? servicePrismaPaths(service, io.rootDir).migrationsDir
            : path.resolve(migrationsDir),
      });
    } catch (err) {
      // Which service, schema and database: the first questions whoever reads a failed deploy asks.
      throw new ContextError(`${service} (schema ${schema} at ${withoutPassword(databaseUrl)})`, err);
    }
    io.out(
      applied.length === 0
        ? `${service} (schema ${schema}): up to date`
        : `${service} (schema ${schema}): applied ${applied.join(', ')}`,
    );
  }
}

class ContextError extends Error {
  constructor(context: string, cause: unknown) {
    super(`${context}: ${describe(cause)}`, { cause });
  }
}

function describe(err: unknown): string {
  if (err instanceof ContextError) return err.message;
  if (isDbError(err)) return `[${err.code}] ${err.message}`;
  return err instanceof Error ? err.message : String(err);
}

function withoutPassword(databaseUrl: string): string {
  try {
    const url = new URL(databaseUrl);
    if (url.password) url.password = '***';
    return url.toString();
  } catch {
    return '<unparsable database URL>';
  }
}

async function diff(services: string[] | undefined, name: string | undefined, io: CliIo): Promise<void> {
  if (services?.length !== 1 || name === undefined)
    throw new UsageError('diff needs one --service and a --name');
  const service = assertServiceName(services[0]!);
  const created = await createMigration({
    service,
    name,
    databaseUrl: databaseUrlFor(service, io.env),
    rootDir: io.rootDir,
  });
  io.out(created === null ? `${service}: no changes` : `${service}: wrote ${created.path}\n\n${created.sql}`);
}

if (require.main === module) {
  void runCli(process.argv.slice(2), {
    env: process.env,
    out: (line) => console.log(line),
    err: (line) => console.error(line),
  }).then((code) => {
    process.exitCode = code;
  });
}
