// @mcms/db: how every service reaches PostgreSQL — its own schema, Prisma over the pg driver adapter, and
// committed Prisma migrations applied without Prisma's (download-dependent) CLI.
export { applyMigrations, PRISMA_ADVISORY_LOCK_KEY, type ApplyMigrationsOptions } from './apply-migrations';
export {
  checkMigrationsMatchSchema,
  createMigration,
  type CheckMigrationsOptions,
  type CreatedMigration,
  type CreateMigrationOptions,
} from './author-migrations';
export {
  createPgPool,
  pgPoolConfig,
  prismaAdapter,
  type PgPoolOptions,
  type ServiceConnectionOptions,
} from './connection';
export { DbError, isDbError, type DbErrorCode } from './errors';
export {
  generatePrismaClient,
  generatePrismaClients,
  type GeneratePrismaClientsOptions,
} from './generate-clients';
export { assertSchemaName } from './identifiers';
export {
  assertServiceName,
  databaseSchemaFor,
  databaseUrlFor,
  DEFAULT_DATABASE_URL,
  isServiceName,
  SERVICE_DATABASES,
  servicePrismaPaths,
  workspaceRoot,
  type ServiceName,
  type ServicePrismaPaths,
} from './service-databases';
export { listenForNotifications, type Listening, type ListenOptions } from './listen';
export { planOf, tableAccesses, type PlanNode } from './plans';
export { prepared } from './prepared';
export { sqlParams } from './sql-params';
