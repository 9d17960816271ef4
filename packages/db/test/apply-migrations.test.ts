import { createHash } from 'node:crypto';
import pg from 'pg';
import { applyMigrations, isDbError, pgPoolConfig, servicePrismaPaths } from '../src/index';
import { readMigrationFiles } from '../src/migration-files';
import { diagnoseMigrationHistory } from '../src/schema-engine';
import {
  databaseUrl,
  dropSchemas,
  migrationsFixture,
  schemaExists,
  uniqueSchemaName,
  withClient,
} from './support';

const CREATE_ITEM = 'CREATE TABLE "item" ("id" SERIAL PRIMARY KEY, "name" TEXT NOT NULL);\n';
const ADD_PRICE = 'ALTER TABLE "item" ADD COLUMN "price" INTEGER;\n';
const SEED = `INSERT INTO "item" ("name", "price") VALUES ('first', 1);\n`;

interface HistoryRow {
  id: string;
  checksum: string;
  finished_at: Date | null;
  migration_name: string;
  logs: string | null;
  rolled_back_at: Date | null;
  started_at: Date;
  applied_steps_count: number;
}

function history(schema: string): Promise<HistoryRow[]> {
  return withClient(async (client) => {
    const { rows } = await client.query<HistoryRow>(
      `SELECT * FROM "${schema}"."_prisma_migrations" ORDER BY started_at, migration_name`,
    );
    return rows;
  });
}

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

describe('applyMigrations', () => {
  const schemas: string[] = [];
  const cleanups: (() => Promise<void>)[] = [];

  function schemaFor(purpose: string): string {
    const schema = uniqueSchemaName(purpose);
    schemas.push(schema);
    return schema;
  }

  async function fixture(migrations: Record<string, string>) {
    const made = await migrationsFixture(migrations);
    cleanups.push(made.cleanup);
    return made;
  }

  afterEach(async () => {
    await dropSchemas(...schemas.splice(0));
    await Promise.all(cleanups.splice(0).map((cleanup) => cleanup()));
  });

  it('creates the schema, applies migrations in name order and records them the way Prisma does', async () => {
    const schema = schemaFor('order');
    // Written out of order on purpose: only name order makes the ALTER find its table.
    const { dir } = await fixture({
      '20260102000000_add_price': ADD_PRICE,
      '20260101000000_create_item': CREATE_ITEM,
    });

    const applied = await applyMigrations({ databaseUrl, schema, migrationsDir: dir });

    expect(applied).toEqual(['20260101000000_create_item', '20260102000000_add_price']);
    const rows = await history(schema);
    expect(rows).toEqual([
      expect.objectContaining({
        migration_name: '20260101000000_create_item',
        checksum: sha256(CREATE_ITEM),
        logs: null,
        rolled_back_at: null,
        applied_steps_count: 1,
      }),
      expect.objectContaining({
        migration_name: '20260102000000_add_price',
        checksum: sha256(ADD_PRICE),
        applied_steps_count: 1,
      }),
    ]);
    for (const row of rows) {
      expect(row.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
      expect(row.finished_at!.getTime()).toBeGreaterThanOrEqual(row.started_at.getTime());
    }
    const columns = await withClient(async (client) => {
      const result = await client.query(
        `SELECT column_name, data_type, character_maximum_length, is_nullable, column_default
         FROM information_schema.columns WHERE table_schema = $1 AND table_name = '_prisma_migrations'
         ORDER BY ordinal_position`,
        [schema],
      );
      return result.rows;
    });
    expect(columns).toEqual([
      {
        column_name: 'id',
        data_type: 'character varying',
        character_maximum_length: 36,
        is_nullable: 'NO',
        column_default: null,
      },
      {
        column_name: 'checksum',
        data_type: 'character varying',
        character_maximum_length: 64,
        is_nullable: 'NO',
        column_default: null,
      },
      {
        column_name: 'finished_at',
        data_type: 'timestamp with time zone',
        character_maximum_length: null,
        is_nullable: 'YES',
        column_default: null,
      },
      {
        column_name: 'migration_name',
        data_type: 'character varying',
        character_maximum_length: 255,
        is_nullable: 'NO',
        column_default: null,
      },
      {
        column_name: 'logs',
        data_type: 'text',
        character_maximum_length: null,
        is_nullable: 'YES',
        column_default: null,
      },
      {
        column_name: 'rolled_back_at',
        data_type: 'timestamp with time zone',
        character_maximum_length: null,
        is_nullable: 'YES',
        column_default: null,
      },
      {
        column_name: 'started_at',
        data_type: 'timestamp with time zone',
        character_maximum_length: null,
        is_nullable: 'NO',
        column_default: 'now()',
      },
      {
        column_name: 'applied_steps_count',
        data_type: 'integer',
        character_maximum_length: null,
        is_nullable: 'NO',
        column_default: '0',
      },
    ]);
  });

  it("leaves a history that Prisma's own engine reads as up to date, and as edited after a file changes", async () => {
    const schema = schemaFor('prisma_reads');
    const { dir, write } = await fixture({
      '20260101000000_create_item': CREATE_ITEM,
      '20260102000000_seed': SEED.replace(', "price"', '').replace(', 1)', ')'),
    });
    await applyMigrations({ databaseUrl, schema, migrationsDir: dir });

    const asApplied = await diagnoseMigrationHistory({
      databaseUrl,
      schema,
      migrationsDir: dir,
      migrations: await readMigrationFiles(dir),
    });
    await write('20260102000000_seed', '-- edited\n' + SEED);
    const asEdited = await diagnoseMigrationHistory({
      databaseUrl,
      schema,
      migrationsDir: dir,
      migrations: await readMigrationFiles(dir),
    });

    expect(asApplied).toEqual({
      editedMigrationNames: [],
      failedMigrationNames: [],
      hasMigrationsTable: true,
      history: null,
    });
    expect(asEdited).toEqual({
      editedMigrationNames: ['20260102000000_seed'],
      failedMigrationNames: [],
      hasMigrationsTable: true,
      history: null,
    });
  });

  it('applies nothing on a second run, and only the new migration on a later one', async () => {
    const schema = schemaFor('idempotent');
    const { dir, write } = await fixture({ '20260101000000_create_item': CREATE_ITEM });
    await applyMigrations({ databaseUrl, schema, migrationsDir: dir });

    const second = await applyMigrations({ databaseUrl, schema, migrationsDir: dir });
    await write('20260102000000_add_price', ADD_PRICE);
    const third = await applyMigrations({ databaseUrl, schema, migrationsDir: dir });

    expect(second).toEqual([]);
    expect(third).toEqual(['20260102000000_add_price']);
    expect((await history(schema)).map((row) => row.migration_name)).toEqual([
      '20260101000000_create_item',
      '20260102000000_add_price',
    ]);
  });

  it('refuses to go on when an applied migration file was changed, naming it', async () => {
    const schema = schemaFor('checksum');
    const { dir, write } = await fixture({ '20260101000000_create_item': CREATE_ITEM });
    await applyMigrations({ databaseUrl, schema, migrationsDir: dir });
    await write('20260101000000_create_item', CREATE_ITEM + ADD_PRICE);
    await write('20260102000000_seed', SEED);

    const error = await applyMigrations({ databaseUrl, schema, migrationsDir: dir }).catch(
      (err: unknown) => err,
    );

    expect(isDbError(error, 'MIGRATION_CHECKSUM_MISMATCH')).toBe(true);
    expect((error as Error).message).toContain('20260101000000_create_item');
    expect((await history(schema)).map((row) => row.migration_name)).toEqual(['20260101000000_create_item']);
  });

  it('stops at a broken migration, names it, records it as failed and keeps the earlier ones applied', async () => {
    const schema = schemaFor('broken');
    const { dir } = await fixture({
      '20260101000000_create_item': CREATE_ITEM,
      '20260102000000_broken':
        'ALTER TABLE "item" ADD COLUMN "price" INTEGER;\nALTER TABLE "no_such_table" ADD COLUMN "x" INT;\n',
      '20260103000000_seed': SEED,
    });

    const error = await applyMigrations({ databaseUrl, schema, migrationsDir: dir }).catch(
      (err: unknown) => err,
    );
    const again = await applyMigrations({ databaseUrl, schema, migrationsDir: dir }).catch(
      (err: unknown) => err,
    );

    expect(isDbError(error, 'MIGRATION_FAILED')).toBe(true);
    expect((error as Error).message).toContain('20260102000000_broken');
    expect((error as Error).message).toContain('no_such_table');
    const rows = await history(schema);
    expect(rows).toEqual([
      expect.objectContaining({ migration_name: '20260101000000_create_item', applied_steps_count: 1 }),
      expect.objectContaining({
        migration_name: '20260102000000_broken',
        finished_at: null,
        rolled_back_at: null,
        applied_steps_count: 0,
        logs: expect.stringContaining('relation "no_such_table" does not exist'),
      }),
    ]);
    expect(rows[0]!.finished_at).not.toBeNull();
    // Its own transaction rolled back: the first statement of the broken migration left no column behind.
    const priceColumns = await withClient((client) =>
      client.query(
        `SELECT 1 FROM information_schema.columns WHERE table_schema = $1 AND table_name = 'item' AND column_name = 'price'`,
        [schema],
      ),
    );
    expect(priceColumns.rowCount).toBe(0);
    // Prisma's engine sees the same failure, and the migration after it as pending.
    expect(
      await diagnoseMigrationHistory({
        databaseUrl,
        schema,
        migrationsDir: dir,
        migrations: await readMigrationFiles(dir),
      }),
    ).toEqual({
      editedMigrationNames: [],
      failedMigrationNames: ['20260102000000_broken'],
      hasMigrationsTable: true,
      history: {
        diagnostic: 'databaseIsBehind',
        unappliedMigrationNames: ['20260103000000_seed'],
      },
    });
    // Like Prisma, nothing more is applied until someone resolves the failure.
    expect(isDbError(again, 'MIGRATION_PREVIOUSLY_FAILED')).toBe(true);
    expect((again as Error).message).toContain('20260102000000_broken');
  });

  it('applies each migration once when two runners start together on one schema', async () => {
    const schema = schemaFor('concurrent');
    const { dir } = await fixture({
      '20260101000000_create_item': CREATE_ITEM,
      '20260102000000_add_price': ADD_PRICE,
      '20260103000000_seed': SEED,
    });

    const results = await Promise.all([
      applyMigrations({ databaseUrl, schema, migrationsDir: dir }),
      applyMigrations({ databaseUrl, schema, migrationsDir: dir }),
    ]);

    expect(results.flat().sort()).toEqual([
      '20260101000000_create_item',
      '20260102000000_add_price',
      '20260103000000_seed',
    ]);
    expect(results.map((names) => names.length).sort()).toEqual([0, 3]);
    expect(await history(schema)).toHaveLength(3);
    const items = await withClient((client) => client.query(`SELECT name FROM "${schema}".item`));
    expect(items.rows).toEqual([{ name: 'first' }]);
  });

  it('keeps schemas apart: same table names in two schemas, each pool sees only its own', async () => {
    const [left, right] = [schemaFor('left'), schemaFor('right')];
    const { dir } = await fixture({ '20260101000000_create_item': CREATE_ITEM });
    await applyMigrations({ databaseUrl, schema: left, migrationsDir: dir });
    await applyMigrations({ databaseUrl, schema: right, migrationsDir: dir });
    const leftPool = new pg.Pool(pgPoolConfig({ databaseUrl, schema: left, max: 1 }));
    const rightPool = new pg.Pool(pgPoolConfig({ databaseUrl, schema: right, max: 1 }));

    try {
      await leftPool.query(`INSERT INTO item (name) VALUES ('left only')`);
      const seenLeft = await leftPool.query('SELECT name FROM item');
      const seenRight = await rightPool.query('SELECT name FROM item');

      expect(seenLeft.rows).toEqual([{ name: 'left only' }]);
      expect(seenRight.rows).toEqual([]);
    } finally {
      await Promise.all([leftPool.end(), rightPool.end()]);
    }
  });

  it("creates the outbox trigger function in the service's schema and notifies mcms_outbox_<schema> on insert", async () => {
    const schema = schemaFor('outbox');
    await applyMigrations({
      databaseUrl,
      schema,
      migrationsDir: servicePrismaPaths('addin-gateway').migrationsDir,
    });

    const functionSchema = await withClient(async (client) => {
      const { rows } = await client.query<{ nspname: string }>(
        `SELECT n.nspname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE p.proname = 'outbox_message_notify'
         AND n.nspname = $1`,
        [schema],
      );
      return rows.map((row) => row.nspname);
    });
    expect(functionSchema).toEqual([schema]);

    const listener = new pg.Client({ connectionString: databaseUrl });
    await listener.connect();
    try {
      await listener.query(`LISTEN "mcms_outbox_${schema}"`);
      const notified = new Promise<string>((resolve) =>
        listener.once('notification', (n) => resolve(n.channel)),
      );
      const writer = new pg.Pool(pgPoolConfig({ databaseUrl, schema, max: 1 }));
      try {
        // Two rows, one statement: the trigger is per statement.
        await writer.query(
          `INSERT INTO outbox_message (message_id, exchange, routing_key, envelope)
           VALUES (gen_random_uuid(), 'mcms.events', 'a', '{}'), (gen_random_uuid(), 'mcms.events', 'b', '{}')`,
        );
      } finally {
        await writer.end();
      }
      expect(await notified).toBe(`mcms_outbox_${schema}`);
    } finally {
      await listener.end();
    }
  });

  it('rejects a schema name that is not a plain lower-case identifier before touching the database', async () => {
    const { dir } = await fixture({ '20260101000000_create_item': CREATE_ITEM });

    const error = await applyMigrations({
      databaseUrl,
      schema: 'x"; DROP SCHEMA public; --',
      migrationsDir: dir,
    }).catch((err: unknown) => err);

    expect(isDbError(error, 'INVALID_SCHEMA_NAME')).toBe(true);
    expect(await schemaExists('public')).toBe(true);
  });
});
