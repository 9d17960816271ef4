import type { ChangeType } from '@mcms/contracts';
import { prepared } from '@mcms/db';
import { createBatcher } from '@mcms/messaging';
import type { Pool } from 'pg';
import type { HistoryEntry, HistoryOutcome, HistoryStore } from '../domain/history-entry';

/** A `history_entry` row as {@link LIST_SQL} returns it. */
interface Row {
  id: string;
  routing_id: string;
  change_type: string;
  field: string | null;
  previous_value: string | null;
  current_value: string | null;
  outcome: string | null;
  job_id: string | null;
  comment: string | null;
  created_by: string;
  created_at: Date;
}

// The rows travel as one array per column, so any batch size is one statement shape (one prepared plan).
const INSERT_SQL = `
  INSERT INTO history_entry
    (id, routing_id, change_type, field, previous_value, current_value, outcome, job_id, comment, created_by, created_at)
  SELECT id, routing_id, change_type, field, previous_value, current_value, outcome, job_id, comment, created_by,
    created_at
  FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::uuid[],
    $9::text[], $10::text[], $11::timestamptz[])
    AS entry(id, routing_id, change_type, field, previous_value, current_value, outcome, job_id, comment,
      created_by, created_at)
  ON CONFLICT DO NOTHING
  RETURNING id`;

// Served by the (routing_id, created_at, id) index.
const LIST_SQL = `
  SELECT id, routing_id, change_type, field, previous_value, current_value, outcome, job_id, comment, created_by,
    created_at
  FROM history_entry WHERE routing_id = $1::uuid ORDER BY created_at, id`;

/** Options of {@link createPgHistoryStore}. */
export interface PgHistoryStoreOptions {
  /** Most entries in one INSERT. Default 100. */
  maxBatch?: number;
  /** Most INSERTs running at once; entries appended meanwhile wait for the next one. Default 4. */
  maxConcurrentWrites?: number;
}

/** What became of one appended entry: written, skipped as a duplicate, or refused on its own. */
type Appended = boolean | { failed: unknown };

/**
 * The history in PostgreSQL (`history_entry`), on plain node-postgres with prepared statements: every event
 * passes here, and Prisma's client cost more CPU than the statement (decision 0014).
 *
 * Idempotency lives in the table, not in an inbox: an entry's id is its event's id, and a partial
 * unique index allows one AddinJobCompleted/Failed per job. `ON CONFLICT DO NOTHING` without a
 * conflict target covers both, and turns a redelivery or a replayed result into a no-op instead
 * of an error. An inbox row would repeat the primary
 * key's work in a second table and a transaction around both.
 *
 * Appends are batched: the entries appended in one turn of the event loop go together, and while
 * `maxConcurrentWrites` INSERTs run, new entries wait and go together in the next one. A busy store
 * pays one commit (one WAL flush) per batch instead of per entry, which is what bounds a single-row
 * writer.
 */
export function createPgHistoryStore(pool: Pool, options: PgHistoryStoreOptions = {}): HistoryStore {
  // The ids the database inserted; rows skipped as duplicates are absent.
  async function insert(entries: HistoryEntry[]): Promise<Set<string>> {
    const column = <K extends keyof HistoryEntry>(key: K) => entries.map((entry) => entry[key]);
    const { rows } = await pool.query<{ id: string }>({
      ...prepared(INSERT_SQL),
      values: [
        column('id'),
        column('routingId'),
        column('changeType'),
        column('field'),
        column('previousValue'),
        column('currentValue'),
        column('outcome'),
        column('jobId'),
        column('comment'),
        column('createdBy'),
        column('createdAt'),
      ],
    });
    return new Set(rows.map((row) => row.id));
  }

  // The appends of one turn of the event loop go together (a consumer batch's handlers append one after the
  // other within a tick), and so do those made while `maxConcurrentWrites` INSERTs run.
  const appends = createBatcher<HistoryEntry, Appended>({
    maxItems: options.maxBatch ?? 100,
    maxWaitMs: 0,
    maxConcurrent: options.maxConcurrentWrites ?? 4,
    run: async (entries) => {
      let inserted: Set<string>;
      try {
        inserted = await insert(entries);
      } catch (err) {
        if (entries.length === 1) throw err;
        // One entry the database refuses must not fail (and retry, and finally dead-letter) the
        // others: write each alone, so only its own event fails. If the database is down, all do.
        return Promise.all(
          entries.map((entry) =>
            insert([entry]).then(
              (ids): Appended => ids.has(entry.id),
              (failed: unknown): Appended => ({ failed }),
            ),
          ),
        );
      }
      // The same event twice in one batch: one row, and only the first caller wrote it.
      const claimed = new Set<string>();
      return entries.map((entry) => {
        const written = inserted.has(entry.id) && !claimed.has(entry.id);
        claimed.add(entry.id);
        return written;
      });
    },
  });

  return {
    async append(entry) {
      const appended = await appends.submit(entry);
      if (typeof appended !== 'boolean') throw appended.failed;
      return appended;
    },

    async listForRouting(routingId) {
      const { rows } = await pool.query<Row>({ ...prepared(LIST_SQL), values: [routingId] });
      return rows.map(toEntry);
    },
  };
}

// The columns are text; the domain's narrower types hold because only the domain's mappings write them.
function toEntry(row: Row): HistoryEntry {
  return {
    id: row.id,
    routingId: row.routing_id,
    changeType: row.change_type as ChangeType,
    field: row.field,
    previousValue: row.previous_value,
    currentValue: row.current_value,
    outcome: row.outcome as HistoryOutcome | null,
    jobId: row.job_id,
    comment: row.comment,
    createdBy: row.created_by,
    createdAt: row.created_at,
  };
}
