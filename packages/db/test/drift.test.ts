import { cp, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import {
  checkMigrationsMatchSchema,
  createMigration,
  SERVICE_DATABASES,
  servicePrismaPaths,
  type ServiceName,
} from '../src/index';
import { readMigrationFiles } from '../src/migration-files';
import { diffMigrationsToSchema } from '../src/schema-engine';
import { databaseUrl, schemaExists, uniqueSchemaName } from './support';

const services = Object.keys(SERVICE_DATABASES) as ServiceName[];

describe('committed migrations', () => {
  it.each(services)('of %s produce exactly what its schema.prisma describes', async (service) => {
    const pendingSql = await checkMigrationsMatchSchema({ service, databaseUrl });

    if (pendingSql !== '') {
      throw new Error(
        `services/${service}/prisma/schema.prisma and its migrations disagree. Author the missing migration with\n` +
          `  node packages/db/dist/cli.js diff --service ${service} --name <what_changed>\n` +
          `The migrations still lack:\n\n${pendingSql}`,
      );
    }
  });
});

describe('the drift check', () => {
  let tempDir: string;

  beforeEach(async () => {
    tempDir = await mkdtemp(path.join(os.tmpdir(), 'mcms-db-drift-'));
  });

  afterEach(async () => {
    await rm(tempDir, { recursive: true, force: true });
  });

  it('reports the SQL for a column that schema.prisma has and the migrations lack', async () => {
    const schemaPath = path.join(tempDir, 'schema.prisma');
    const original = await readFile(servicePrismaPaths('addin-gateway').schemaPath, 'utf8');
    await writeFile(
      schemaPath,
      original.replace(
        '  routingKey String   @map("routing_key")',
        '  routingKey String   @map("routing_key")\n  attempts   Int      @default(0)',
      ),
    );

    const pendingSql = await checkMigrationsMatchSchema({
      service: 'addin-gateway',
      databaseUrl,
      schemaPath,
    });

    expect(pendingSql).toBe(
      '-- AlterTable\nALTER TABLE "outbox_message" ADD COLUMN     "attempts" INTEGER NOT NULL DEFAULT 0;\n',
    );
  });

  it('drops its throw-away shadow schema afterwards, also when a migration fails', async () => {
    const { schemaPath, migrationsDir } = servicePrismaPaths('addin-gateway');
    const schemaContent = await readFile(schemaPath, 'utf8');
    const good = uniqueSchemaName('shadow');
    const bad = uniqueSchemaName('shadow');

    await diffMigrationsToSchema({
      databaseUrl,
      migrations: await readMigrationFiles(migrationsDir),
      migrationsDir,
      schemaPath,
      schemaContent,
      shadowSchema: good,
    });
    const failure = await diffMigrationsToSchema({
      databaseUrl,
      migrations: [
        { name: '20260101000000_broken', sql: 'CREATE TABLE "x" ("id" no_such_type);', checksum: '' },
      ],
      migrationsDir,
      schemaPath,
      schemaContent,
      shadowSchema: bad,
    }).catch((err: unknown) => err);

    expect((failure as Error).message).toContain('20260101000000_broken');
    expect(await schemaExists(good)).toBe(false);
    expect(await schemaExists(bad)).toBe(false);
  });
});

describe('createMigration', () => {
  let serviceCopy: string;

  beforeEach(async () => {
    serviceCopy = await mkdtemp(path.join(os.tmpdir(), 'mcms-db-create-'));
    await cp(
      path.dirname(servicePrismaPaths('history-service').schemaPath),
      path.join(serviceCopy, 'prisma'),
      {
        recursive: true,
      },
    );
  });

  afterEach(async () => {
    await rm(serviceCopy, { recursive: true, force: true });
  });

  it('writes nothing when schema.prisma and the migrations agree', async () => {
    const migrationsDir = path.join(serviceCopy, 'prisma', 'migrations');
    const before = await readdir(migrationsDir);

    const created = await createMigration({
      service: 'history-service',
      databaseUrl,
      schemaPath: path.join(serviceCopy, 'prisma', 'schema.prisma'),
      migrationsDir,
      name: 'nothing',
    });

    expect(created).toBeNull();
    expect(await readdir(migrationsDir)).toEqual(before);
  });

  it('writes the pending SQL into a new UTC-timestamped folder that the drift check then accepts', async () => {
    const schemaPath = path.join(serviceCopy, 'prisma', 'schema.prisma');
    const migrationsDir = path.join(serviceCopy, 'prisma', 'migrations');
    await writeFile(
      schemaPath,
      `${await readFile(schemaPath, 'utf8')}
model JobHistory {
  id     String @id @db.Uuid
  status String

  @@index([status])
  @@map("job_history")
}
`,
    );

    const created = await createMigration({
      service: 'history-service',
      databaseUrl,
      schemaPath,
      migrationsDir,
      name: 'job_history',
      now: new Date('2099-01-02T03:04:05.678Z'),
    });

    expect(created?.name).toBe('20990102030405_job_history');
    expect(await readFile(created!.path, 'utf8')).toBe(created!.sql);
    expect(created!.sql).toContain('CREATE TABLE "job_history"');
    expect(created!.sql).toContain('CREATE INDEX "job_history_status_idx" ON "job_history"("status");');
    expect(
      await checkMigrationsMatchSchema({
        service: 'history-service',
        databaseUrl,
        schemaPath,
        migrationsDir,
      }),
    ).toBe('');
  });
});
