import path from 'node:path';
import { DbError } from './errors';
import { assertSchemaName } from './identifiers';

/**
 * Each service (by its directory under `services/`) and the PostgreSQL schema it owns by default. The order is
 * the order `migrate` runs them in. The upper-cased schema is the service's env prefix (`GATEWAY_DATABASE_URL`).
 */
export const SERVICE_DATABASES = {
  'addin-gateway': 'gateway',
  'routing-worker': 'routing',
  'history-service': 'history',
  'notification-service': 'notification',
} as const;

/** A service directory name under `services/`. */
export type ServiceName = keyof typeof SERVICE_DATABASES;

/** The database every service uses when nothing is configured: the local development PostgreSQL. */
export const DEFAULT_DATABASE_URL = 'postgresql://postgres@127.0.0.1:5432/postgres';

type Env = Readonly<Record<string, string | undefined>>;

/** Narrows a string (a CLI argument, say) to a known service name. */
export function isServiceName(name: string): name is ServiceName {
  return Object.hasOwn(SERVICE_DATABASES, name);
}

/** Returns `name` as a {@link ServiceName}, or throws listing the known services. */
export function assertServiceName(name: string): ServiceName {
  if (!isServiceName(name)) {
    throw new DbError(
      'UNKNOWN_SERVICE',
      `Unknown service ${JSON.stringify(name)}; expected one of ${Object.keys(SERVICE_DATABASES).join(', ')}`,
    );
  }
  return name;
}

function envPrefix(service: ServiceName): string {
  return SERVICE_DATABASES[service].toUpperCase();
}

function envValue(env: Env, key: string): string | undefined {
  const value = env[key]?.trim();
  return value ? value : undefined;
}

/**
 * The service's database URL: `<PREFIX>_DATABASE_URL` (e.g. `GATEWAY_DATABASE_URL`) if set, so one service can
 * live in its own database; else the shared `DATABASE_URL`; else {@link DEFAULT_DATABASE_URL}.
 */
export function databaseUrlFor(service: ServiceName, env: Env): string {
  const prefix = envPrefix(service);
  return envValue(env, `${prefix}_DATABASE_URL`) ?? envValue(env, 'DATABASE_URL') ?? DEFAULT_DATABASE_URL;
}

/** The service's schema: `<PREFIX>_DATABASE_SCHEMA` if set (validated), else its default from the registry. */
export function databaseSchemaFor(service: ServiceName, env: Env): string {
  return assertSchemaName(
    envValue(env, `${envPrefix(service)}_DATABASE_SCHEMA`) ?? SERVICE_DATABASES[service],
  );
}

/** Where a service's Prisma files live, relative to the workspace root. */
export interface ServicePrismaPaths {
  schemaPath: string;
  migrationsDir: string;
}

/**
 * The workspace root, found from this file: `packages/db/src` when run from source (Jest), `packages/db/dist`
 * when compiled — both two levels below `packages/db`.
 */
export function workspaceRoot(): string {
  return path.resolve(__dirname, '..', '..', '..');
}

/** `services/<service>/prisma/schema.prisma` and `.../migrations` under `rootDir`. */
export function servicePrismaPaths(
  service: ServiceName,
  rootDir: string = workspaceRoot(),
): ServicePrismaPaths {
  const prismaDir = path.join(rootDir, 'services', service, 'prisma');
  return {
    schemaPath: path.join(prismaDir, 'schema.prisma'),
    migrationsDir: path.join(prismaDir, 'migrations'),
  };
}
