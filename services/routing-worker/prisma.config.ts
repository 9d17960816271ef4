// For the Prisma CLI on a connected machine (`prisma migrate status|deploy`, `prisma studio`); this repo's
// own tooling is offline and lives in @mcms/db (`node packages/db/dist/cli.js migrate|generate|diff`).
// A plain object rather than `defineConfig` from 'prisma/config': that import only resolves once this service
// depends on `prisma`, while a type-only import is erased and costs nothing at run time.
import type { PrismaConfig } from 'prisma/config';

// Same precedence as @mcms/db databaseUrlFor/databaseSchemaFor; `schema=` tells Prisma's engine which schema
// holds this service's tables and _prisma_migrations. The default only serves commands that never connect.
const url = new URL(
  process.env.ROUTING_DATABASE_URL ||
    process.env.DATABASE_URL ||
    'postgresql://postgres@127.0.0.1:5432/postgres',
);
url.searchParams.set('schema', process.env.ROUTING_DATABASE_SCHEMA || 'routing');

export default {
  schema: 'prisma/schema.prisma',
  migrations: { path: 'prisma/migrations' },
  datasource: { url: url.toString() },
} satisfies PrismaConfig;
