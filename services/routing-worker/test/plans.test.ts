import { createHash, randomBytes } from 'node:crypto';
import path from 'node:path';
import { applyMigrations, pgPoolConfig, planOf, tableAccesses } from '@mcms/db';
import { Client, escapeIdentifier } from 'pg';
import { RESULT_CONTEXTS_STATEMENT } from '../src/adapters/pg-routing-store';
import { RESULTS_QUEUE } from '../src/adapters/topology';

const DATABASE_URL = process.env.DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres';
const MIGRATIONS_DIR = path.resolve(__dirname, '../prisma/migrations');
const TABLES = ['routing', 'inbox_message', 'generation_result'];

/** PostgreSQL's `md5(text)::uuid`. */
const md5Uuid = (text: string) =>
  createHash('md5')
    .update(text)
    .digest('hex')
    .replace(/^(.{8})(.{4})(.{4})(.{4})(.{12})$/, '$1-$2-$3-$4-$5');

/** Routings `from`..`to`, each with a recorded result and its result command in the inbox. */
async function seed(client: Client, from: number, to: number): Promise<void> {
  const range = [from, to];
  await client.query(
    `INSERT INTO routing (id, routing_code, item_code, revision_code, status, cam_revision, created_at, updated_at)
     SELECT md5('r' || i)::uuid, 'R-' || i, 'I-' || i, 'A', 'Approved', '1.1.0', now(), now()
     FROM generate_series($1::int, $2::int) AS i`,
    range,
  );
  await client.query(
    `INSERT INTO generation_result (job_id, routing_id, result_status, generation_status, stale,
       cam_revision_before, cam_revision_after, processed_at)
     SELECT md5('j' || i)::uuid, md5('r' || i)::uuid, 'completed', 'Completed', false, '1.0.0', '1.1.0', now()
     FROM generate_series($1::int, $2::int) AS i`,
    range,
  );
  await client.query(
    `INSERT INTO inbox_message (consumer, message_id)
     SELECT $3, md5('m' || i)::uuid FROM generate_series($1::int, $2::int) AS i`,
    [...range, RESULTS_QUEUE],
  );
}

/** A batch of 15 result commands as the consumer looks them up: half of them handled before, half new. */
function batchOf15(): unknown[] {
  const seeded = Array.from({ length: 15 }, (_, k) => 1 + ((k * 131) % 2000));
  const known = (k: number) => k % 2 === 0;
  return [
    RESULTS_QUEUE,
    seeded.map((i, k) => md5Uuid(known(k) ? `m${i}` : `new-message-${i}`)),
    seeded.map((i) => md5Uuid(`r${i}`)),
    seeded.map((i, k) => md5Uuid(known(k) ? `j${i}` : `new-job-${i}`)),
  ];
}

// How the routing-worker's batch lookups read their tables (decision 0021): one index probe per lookup, at the
// size a plant's tables reach in its first days, and with statistics from when they were a fortieth of it.
describe('plans of the batch lookups', () => {
  const schema = `t_rw_plans_${randomBytes(5).toString('hex')}`;
  let client: Client;

  beforeAll(async () => {
    await applyMigrations({ databaseUrl: DATABASE_URL, schema, migrationsDir: MIGRATIONS_DIR });
    client = new Client(pgPoolConfig({ databaseUrl: DATABASE_URL, schema }));
    await client.connect();
    // No autovacuum in between: the statistics stay those of the first 50 rows.
    for (const table of TABLES) await client.query(`ALTER TABLE ${table} SET (autovacuum_enabled = off)`);
    await seed(client, 1, 50);
    await client.query('ANALYZE');
    await seed(client, 51, 2000);
  });

  afterAll(async () => {
    await client?.query(`DROP SCHEMA IF EXISTS ${escapeIdentifier(schema)} CASCADE`);
    await client?.end();
  });

  // An Index Only Scan where the visibility map allows it is the same probe of the same index.
  const accessesOf = async () =>
    tableAccesses(await planOf(client, RESULT_CONTEXTS_STATEMENT, batchOf15()), TABLES).map((access) =>
      access.replace('Index Only Scan', 'Index Scan'),
    );
  const PROBES = [
    'routing: Index Scan (routing_pkey)',
    'inbox_message: Index Scan (inbox_message_pkey)',
    'generation_result: Index Scan (generation_result_pkey)',
  ];

  it('reads a batch’s routings, inbox rows and results by primary key, planned with statistics of a smaller table', async () => {
    // Not every routing hash-joined, nor every inbox row of the consumer and every result hashed, per batch.
    expect(await accessesOf()).toEqual(PROBES);
  });

  it('does so with statistics that know the tables’ size too', async () => {
    await client.query('ANALYZE');
    expect(await accessesOf()).toEqual(PROBES);
  });

  it('answers each lookup: handled, result recorded, and its routing', async () => {
    const values = batchOf15();
    const { rows } = await client.query<{ handled: boolean; result_recorded: boolean; id: string }>(
      RESULT_CONTEXTS_STATEMENT,
      values,
    );
    expect(rows.map((row) => [row.handled, row.result_recorded, row.id])).toEqual(
      (values[2] as string[]).map((routingId, k) => [k % 2 === 0, k % 2 === 0, routingId]),
    );
  });
});
