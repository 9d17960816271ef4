import { PrismaPg } from '@prisma/adapter-pg';
import pg, { type PoolConfig } from 'pg';
import { assertSchemaName } from './identifiers';

/** Options for {@link pgPoolConfig} and {@link prismaAdapter}. */
export interface ServiceConnectionOptions {
  databaseUrl: string;
  /** The service's PostgreSQL schema; every pooled connection resolves unqualified names there. */
  schema: string;
  /** Pool size; pg's default (10) when omitted. */
  max?: number;
  /** Shown in `pg_stat_activity.application_name`, which is how a DBA tells the services apart. */
  applicationName?: string;
}

/**
 * A `pg.PoolConfig` whose connections run with `search_path=<schema>`.
 *
 * Why not `?schema=` in the URL: pg ignores it and Prisma's adapter only uses it to qualify the queries it
 * generates, not raw SQL or DDL — so the search path is set per connection, at connect time, where no
 * query can run before it.
 */
export function pgPoolConfig(options: ServiceConnectionOptions): PoolConfig {
  const schema = assertSchemaName(options.schema);
  // pg lets URL parameters override config fields, so an `options` parameter in the URL would silently drop
  // our search_path; fold it into ours instead.
  const url = new URL(options.databaseUrl);
  const urlOptions = url.searchParams.get('options');
  url.searchParams.delete('options');
  const config: PoolConfig = {
    connectionString: urlOptions === null ? options.databaseUrl : url.toString(),
    options: [urlOptions, `-c search_path="${schema}"`].filter(Boolean).join(' '),
  };
  if (options.max !== undefined) config.max = options.max;
  if (options.applicationName !== undefined) config.application_name = options.applicationName;
  return config;
}

/** Options for {@link createPgPool}. */
export interface PgPoolOptions extends ServiceConnectionOptions {
  /** Told about every connection the database dropped (logged by the caller); the pool replaces it. */
  onConnectionError?: (err: Error) => void;
}

/**
 * A pg Pool for a service schema ({@link pgPoolConfig}) that survives the database dropping its
 * connections. pg-pool listens for errors only on idle connections: a checked-out one that the server
 * terminates between two queries (a restart: `57P01`) emits an `error` event nobody handles, and the
 * process dies — the chaos run (tests/chaos) killed routing-worker that way. Every connection gets a
 * listener of its own; the broken connection is unqueryable, and pg-pool discards it on release.
 */
export function createPgPool(options: PgPoolOptions): pg.Pool {
  const { onConnectionError = () => undefined, ...connection } = options;
  const pool = new pg.Pool(pgPoolConfig(connection));
  pool.on('error', onConnectionError);
  pool.on('connect', (client) => client.on('error', onConnectionError));
  return pool;
}

/**
 * Prisma's pg driver adapter for a service schema:
 * `new PrismaClient({ adapter: prismaAdapter({ databaseUrl, schema }) })`.
 * Both the connection `search_path` and the adapter's `{ schema }` are set: the first for raw SQL
 * (`$queryRaw`, `$executeRaw`), the second for the queries Prisma generates.
 */
export function prismaAdapter(options: PgPoolOptions): PrismaPg {
  // Our pool rather than the adapter's own, for the per-connection error listener; disposed with Prisma.
  return new PrismaPg(createPgPool(options), { schema: options.schema, disposeExternalPool: true });
}
