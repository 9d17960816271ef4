import { enqueueOutbox, fromPgClient, withInboxPg, withPgTransaction } from '@mcms/messaging';
import { prepared, sqlParams } from '@mcms/db';
import type { Pool, PoolClient } from 'pg';
import { conflict, validationFailed } from '@mcms/platform';
import type {
  GenerationRecord,
  BatchTransaction,
  ResultContext,
  RoutingStore,
  RoutingTransaction,
} from '../application/ports';
import type { Routing } from '../domain/routing';
import { createOutboxNotificationSink } from './outbox-notification-sink';

// The routing's columns as raw SQL returns them; the enums as text, which is what the domain compares.
const ROUTING_COLUMNS_SQL = `id, routing_code, item_code, revision_code, status::text AS status, cam_revision,
  last_addin_job_id, last_generation_status::text AS last_generation_status, last_generation_message,
  last_generated_at, last_output_digest, generation_progress, created_at, updated_at`;

/** The names {@link ROUTING_COLUMNS_SQL} gives its columns, as columns of a subquery `r`. */
const R_ROUTING_COLUMNS_SQL = ROUTING_COLUMNS_SQL.split(',')
  .map((column) => `r.${column.trim().split(' AS ').at(-1)!}`)
  .join(', ');

/**
 * The routing-worker's tables on node-postgres; outbox and inbox rows share the transactions. Every statement —
 * the HTTP side's reads and changes (create, request approval, approve, reject, regenerate) and the message
 * handlers (every add-in result and progress event) — runs on `pool`: no Prisma client at run time (decision
 * 0015; its interactive transactions and query engine cost more CPU than the statements, and its client ~80 MB
 * of memory). Prisma's schema still defines the tables and authors the migrations.
 */
export function createPgRoutingStore(pool: Pool): RoutingStore {
  const store: RoutingStore = {
    async find(id) {
      const { rows } = await pool.query<RoutingSqlRow>(prepared(FIND_ROUTING_SQL), [id]);
      return rows[0] === undefined ? undefined : fromSqlRow(rows[0]);
    },

    async list({ status, generationStatus, limit, cursor }) {
      const after = cursor === undefined ? undefined : decodeCursor(cursor);
      // Newest first by (created_at, id); each filter has an index that ends in that order. Only the
      // conditions given are in the statement, so each plan fits its query.
      const params = sqlParams();
      const conditions: string[] = [];
      if (status !== undefined) conditions.push(`status = ${params.add(status)}::"RoutingStatus"`);
      if (generationStatus !== undefined) {
        conditions.push(`last_generation_status = ${params.add(generationStatus)}::"GenerationStatus"`);
      }
      if (after !== undefined) {
        conditions.push(
          `(created_at, id) < (${params.add(after.createdAt)}::timestamptz, ${params.add(after.id)}::uuid)`,
        );
      }
      const where = conditions.length === 0 ? '' : `WHERE ${conditions.join(' AND ')} `;
      const { rows } = await pool.query<RoutingSqlRow>(
        `SELECT ${ROUTING_COLUMNS_SQL} FROM routing ${where}ORDER BY created_at DESC, id DESC LIMIT ${params.add(limit + 1)}`,
        params.values,
      );
      const items = rows.slice(0, limit).map(fromSqlRow);
      const last = items.at(-1);
      return { items, nextCursor: rows.length > limit && last ? encodeCursor(last) : null };
    },

    async resultRecorded(jobId) {
      const { rows } = await pool.query<{ recorded: boolean }>(prepared(RESULT_RECORDED_SQL), [jobId]);
      return rows[0]?.recorded === true;
    },

    async handled({ consumer, messageId }) {
      const { rows } = await pool.query<{ handled: boolean }>(prepared(HANDLED_SQL), [consumer, messageId]);
      return rows[0]?.handled === true;
    },

    async resultContext({ consumer, messageId }, routingId, jobId) {
      const [context] = await store.resultContexts(consumer, [{ messageId, routingId, jobId }]);
      return context as ResultContext;
    },

    async resultContexts(consumer, lookups) {
      // One statement for the whole batch instead of three Prisma queries per result command. Sent unnamed, not
      // prepared: planned per batch with the tables' current size (decision 0021).
      const { rows } = await pool.query<ContextSqlRow>(RESULT_CONTEXTS_SQL, [
        consumer,
        lookups.map((lookup) => lookup.messageId),
        lookups.map((lookup) => lookup.routingId),
        lookups.map((lookup) => lookup.jobId),
      ]);
      return rows.map((row) => ({
        handled: row.handled,
        resultRecorded: row.result_recorded,
        routing: row.id === null ? undefined : fromSqlRow(row as RoutingSqlRow),
      }));
    },

    batchTransaction(fn) {
      return withPgTransaction(pool, (client) => fn(pgBatchOf(client)));
    },

    transaction(fn) {
      return withPgTransaction(pool, (client) => fn(pgTransactionOf(client)));
    },

    inboxTransaction(key, fn) {
      return withInboxPg(pool, key, (client) => fn(pgTransactionOf(client)));
    },
  };
  return store;
}

const FIND_ROUTING_SQL = `SELECT ${ROUTING_COLUMNS_SQL} FROM routing WHERE id = $1::uuid`;

// The API's changes (request approval, approve, reject, regenerate) lock one routing and write it back.
const LOCK_ROUTING_SQL = `${FIND_ROUTING_SQL} FOR UPDATE`;

const RESULT_RECORDED_SQL =
  'SELECT EXISTS (SELECT 1 FROM generation_result WHERE job_id = $1::uuid) AS recorded';

const HANDLED_SQL =
  'SELECT EXISTS (SELECT 1 FROM inbox_message WHERE consumer = $1 AND message_id = $2::uuid) AS handled';

const UPDATE_ROUTING_SQL = `
  UPDATE routing SET routing_code = $2, item_code = $3, revision_code = $4, status = $5::"RoutingStatus",
    cam_revision = $6, last_addin_job_id = $7::uuid, last_generation_status = $8::"GenerationStatus",
    last_generation_message = $9, last_generated_at = $10::timestamptz, last_output_digest = $11,
    generation_progress = $12::int, created_at = $13::timestamptz, updated_at = $14::timestamptz
  WHERE id = $1::uuid`;

const INSERT_ROUTING_SQL = `
  INSERT INTO routing (id, routing_code, item_code, revision_code, status, cam_revision, last_addin_job_id,
    last_generation_status, last_generation_message, last_generated_at, last_output_digest, generation_progress,
    created_at, updated_at)
  VALUES ($1::uuid, $2, $3, $4, $5::"RoutingStatus", $6, $7::uuid, $8::"GenerationStatus", $9, $10::timestamptz,
    $11, $12::int, $13::timestamptz, $14::timestamptz)`;

const routingParams = (r: Routing): unknown[] => [
  r.id,
  r.routingCode,
  r.itemCode,
  r.revisionCode,
  r.status,
  r.camRevision,
  r.lastAddinJobId,
  r.lastGenerationStatus,
  r.lastGenerationMessage,
  r.lastGeneratedAt,
  r.lastOutputDigest,
  r.generationProgress,
  r.createdAt,
  r.updatedAt,
];

// Per lookup, in order: is it in the inbox, is its job's result recorded, and its routing (columns null if none).
// Each look is a LATERAL subquery on its key with LIMIT 1, which the planner runs as one index probe per lookup
// (decision 0021). As a join and two EXISTS it hashed the EXISTS: every inbox row of the consumer and every
// recorded result read for each batch, at 2,000 rows and with statistics that knew it.
const RESULT_CONTEXTS_SQL = `
  SELECT inbox.handled IS NOT NULL AS handled, result.recorded IS NOT NULL AS result_recorded,
    ${R_ROUTING_COLUMNS_SQL}
  FROM unnest($2::uuid[], $3::uuid[], $4::uuid[]) WITH ORDINALITY AS v(message_id, routing_id, job_id, n)
  LEFT JOIN LATERAL (SELECT ${ROUTING_COLUMNS_SQL} FROM routing WHERE routing.id = v.routing_id LIMIT 1) r ON true
  LEFT JOIN LATERAL (SELECT true AS handled FROM inbox_message i
    WHERE i.consumer = $1 AND i.message_id = v.message_id LIMIT 1) inbox ON true
  LEFT JOIN LATERAL (SELECT true AS recorded FROM generation_result g WHERE g.job_id = v.job_id LIMIT 1) result
    ON true
  ORDER BY v.n`;

type ContextSqlRow = { handled: boolean; result_recorded: boolean } & (
  RoutingSqlRow | { [K in keyof RoutingSqlRow]: null }
);

// The columns travel as one array each, so every batch size is one statement shape (one plan).
const CLAIM_INBOX_SQL = `
  INSERT INTO inbox_message (consumer, message_id) SELECT $1, unnest($2::uuid[])
  ON CONFLICT DO NOTHING RETURNING message_id`;

// ORDER BY below FOR UPDATE: rows are locked in id order, the same order in every batch.
const LOCK_ROUTINGS_SQL = `
  SELECT ${ROUTING_COLUMNS_SQL} FROM routing WHERE id = ANY($1::uuid[]) ORDER BY id FOR UPDATE`;

// Named columns, not SELECT *, so that it can be a prepared statement (planned once per connection, not per batch).
const RECORD_RESULTS_SQL = `
  INSERT INTO generation_result (job_id, routing_id, result_status, generation_status, message, stale,
    cam_revision_before, cam_revision_after, meta_json_digest, processed_at)
  SELECT job_id, routing_id, result_status, generation_status, message, stale, cam_revision_before,
    cam_revision_after, meta_json_digest, processed_at
  FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::"GenerationStatus"[], $5::text[], $6::boolean[],
    $7::text[], $8::text[], $9::text[], $10::timestamptz[])
    AS v(job_id, routing_id, result_status, generation_status, message, stale, cam_revision_before,
      cam_revision_after, meta_json_digest, processed_at)
  ON CONFLICT (job_id) DO NOTHING RETURNING job_id`;

const UPDATE_ROUTINGS_SQL = `
  UPDATE routing SET routing_code = v.routing_code, item_code = v.item_code, revision_code = v.revision_code,
    status = v.status, cam_revision = v.cam_revision, last_addin_job_id = v.last_addin_job_id,
    last_generation_status = v.last_generation_status, last_generation_message = v.last_generation_message,
    last_generated_at = v.last_generated_at, last_output_digest = v.last_output_digest,
    generation_progress = v.generation_progress, created_at = v.created_at, updated_at = v.updated_at
  FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::"RoutingStatus"[], $6::text[], $7::uuid[],
    $8::"GenerationStatus"[], $9::text[], $10::timestamptz[], $11::text[], $12::int[], $13::timestamptz[],
    $14::timestamptz[])
    AS v(id, routing_code, item_code, revision_code, status, cam_revision, last_addin_job_id,
      last_generation_status, last_generation_message, last_generated_at, last_output_digest,
      generation_progress, created_at, updated_at)
  WHERE routing.id = v.id`;

/** Rows as one array per column (for `unnest`): `columns(rows, [r => r.a, r => r.b])` → `[[a…], [b…]]`. */
function columnsOf<T>(rows: readonly T[], pick: (row: T) => unknown[]): unknown[][] {
  const columns: unknown[][] = [];
  for (const row of rows) {
    pick(row).forEach((value, i) => (columns[i] ??= []).push(value));
  }
  return columns;
}

const recordParams = (g: GenerationRecord): unknown[] => [
  g.jobId,
  g.routingId,
  g.resultStatus,
  g.generationStatus,
  g.message,
  g.stale,
  g.camRevisionBefore,
  g.camRevisionAfter,
  g.metaJsonDigest,
  g.processedAt,
];

/** A {@link BatchTransaction} on a pg client inside `BEGIN`. */
function pgBatchOf(client: PoolClient): BatchTransaction {
  return {
    async claimInbox(consumer, messageIds) {
      const { rows } = await client.query<{ message_id: string }>(prepared(CLAIM_INBOX_SQL), [
        consumer,
        messageIds,
      ]);
      return new Set(rows.map((row) => row.message_id));
    },

    async lockRoutings(ids) {
      if (ids.length === 0) return new Map();
      const { rows } = await client.query<RoutingSqlRow>(prepared(LOCK_ROUTINGS_SQL), [ids]);
      return new Map(rows.map((row) => [row.id, fromSqlRow(row)]));
    },

    async recordResults(records) {
      if (records.length === 0) return new Set();
      const { rows } = await client.query<{ job_id: string }>(
        prepared(RECORD_RESULTS_SQL),
        columnsOf(records, recordParams),
      );
      return new Set(rows.map((row) => row.job_id));
    },

    async updateRoutings(routings) {
      if (routings.length === 0) return;
      await client.query(prepared(UPDATE_ROUTINGS_SQL), columnsOf(routings, routingParams));
    },

    async publish(messages) {
      await enqueueOutbox(fromPgClient(client), messages);
    },

    notifications: createOutboxNotificationSink(fromPgClient(client)),
  };
}

/** A {@link RoutingTransaction} on a pg client inside `BEGIN` (the message handlers' transactions). */
function pgTransactionOf(client: PoolClient): RoutingTransaction {
  const sql = fromPgClient(client);
  return {
    async lock(id) {
      const { rows } = await client.query<RoutingSqlRow>(prepared(LOCK_ROUTING_SQL), [id]);
      return rows[0] === undefined ? undefined : fromSqlRow(rows[0]);
    },

    async insert(routing) {
      try {
        await client.query(INSERT_ROUTING_SQL, routingParams(routing));
      } catch (err) {
        if ((err as { code?: unknown }).code === '23505') {
          throw conflict(
            'routing_exists',
            `routing ${routing.routingCode} already exists for item ${routing.itemCode} revision ${routing.revisionCode}`,
          );
        }
        throw err;
      }
    },

    async update(routing) {
      await client.query(prepared(UPDATE_ROUTING_SQL), routingParams(routing));
    },

    async resultRecorded(jobId) {
      const { rows } = await client.query<{ recorded: boolean }>(prepared(RESULT_RECORDED_SQL), [jobId]);
      return rows[0]?.recorded === true;
    },

    async recordResult(g) {
      await client.query(
        `INSERT INTO generation_result (job_id, routing_id, result_status, generation_status, message, stale,
           cam_revision_before, cam_revision_after, meta_json_digest, processed_at)
         VALUES ($1::uuid, $2::uuid, $3, $4::"GenerationStatus", $5, $6, $7, $8, $9, $10::timestamptz)`,
        recordParams(g),
      );
    },

    async publish(messages) {
      await enqueueOutbox(sql, messages);
    },

    notifications: createOutboxNotificationSink(sql),
  };
}

interface RoutingSqlRow {
  id: string;
  routing_code: string;
  item_code: string;
  revision_code: string;
  status: Routing['status'];
  cam_revision: string;
  last_addin_job_id: string | null;
  last_generation_status: Routing['lastGenerationStatus'];
  last_generation_message: string | null;
  last_generated_at: Date | null;
  last_output_digest: string | null;
  generation_progress: number;
  created_at: Date;
  updated_at: Date;
}

function fromSqlRow(row: RoutingSqlRow): Routing {
  return {
    id: row.id,
    routingCode: row.routing_code,
    itemCode: row.item_code,
    revisionCode: row.revision_code,
    status: row.status,
    camRevision: row.cam_revision,
    lastAddinJobId: row.last_addin_job_id,
    lastGenerationStatus: row.last_generation_status,
    lastGenerationMessage: row.last_generation_message,
    lastGeneratedAt: row.last_generated_at,
    lastOutputDigest: row.last_output_digest,
    generationProgress: row.generation_progress,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

// The cursor is the last item's sort key. Opaque to clients (base64url JSON), so the order can change later.
function encodeCursor(routing: Routing): string {
  return Buffer.from(JSON.stringify([routing.createdAt.toISOString(), routing.id])).toString('base64url');
}

function decodeCursor(cursor: string): { createdAt: Date; id: string } {
  try {
    const [createdAt, id] = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as unknown[];
    const date = new Date(String(createdAt));
    if (
      typeof createdAt === 'string' &&
      !Number.isNaN(date.getTime()) &&
      typeof id === 'string' &&
      UUID.test(id)
    ) {
      return { createdAt: date, id };
    }
  } catch {
    // Reported below like any other malformed cursor.
  }
  throw validationFailed([{ path: 'cursor', message: 'not a cursor returned by this API' }]);
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The statement of {@link RoutingStore.resultContexts}, whose plan a test holds to index probes (decision 0021). */
export const RESULT_CONTEXTS_STATEMENT = RESULT_CONTEXTS_SQL;
