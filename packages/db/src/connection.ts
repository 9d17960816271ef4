import { PrismaPg } from '@prisma/adapter-pg';
import type { PoolConfig } from 'pg';
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

/**
 * Prisma's pg driver adapter for a service schema:
 * `new PrismaClient({ adapter: prismaAdapter({ databaseUrl, schema }) })`.
 * Both the connection `search_path` and the adapter's `{ schema }` are set: the first for raw SQL
 * (`$queryRaw`, `$executeRaw`), the second for the queries Prisma generates.
 */
export function prismaAdapter(options: ServiceConnectionOptions): PrismaPg {
  return new PrismaPg(pgPoolConfig(options), { schema: options.schema });
}
