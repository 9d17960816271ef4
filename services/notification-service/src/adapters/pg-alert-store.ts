import type { NotificationSeverity, NotificationType } from '@mcms/contracts';
import { prepared } from '@mcms/db';
import { createBatcher, withPgTransaction } from '@mcms/messaging';
import type { Pool } from 'pg';
import type { Alert, AlertStore, NewAlert } from '../domain/alert';

/** A `notification` row as the statements below return it. */
interface Row {
  id: string;
  event_id: string;
  type: string;
  severity: string;
  routing_id: string;
  routing_code: string;
  job_id: string;
  message: string;
  created_at: Date;
}

const COLUMNS = 'id, event_id, type, severity, routing_id, routing_code, job_id, message, created_at';

// The rows travel as one array per column, so any batch size is one statement shape (one prepared plan).
const INSERT_SQL = `
  INSERT INTO notification (event_id, type, severity, routing_id, routing_code, job_id, message, created_at)
  SELECT event_id, type, severity, routing_id, routing_code, job_id, message, created_at FROM unnest(
    $1::uuid[], $2::text[], $3::text[], $4::uuid[], $5::text[], $6::uuid[], $7::text[], $8::timestamptz[])
    WITH ORDINALITY AS alert(event_id, type, severity, routing_id, routing_code, job_id, message, created_at, n)
  ORDER BY n
  ON CONFLICT (event_id) DO NOTHING
  RETURNING ${COLUMNS}`;

const LIST_AFTER_SQL = `SELECT ${COLUMNS} FROM notification WHERE id > $1::bigint ORDER BY id LIMIT $2`;

const LATEST_ID_SQL = 'SELECT coalesce(max(id), 0)::text AS id FROM notification';

/** Options of {@link createPgAlertStore}. */
export interface PgAlertStoreOptions {
  /** Most alerts in one INSERT. Default 100. */
  maxBatch?: number;
}

/** What became of one appended alert: stored, already there (undefined), or refused on its own. */
type Appended = Alert | undefined | { failed: unknown };

/**
 * Alerts in PostgreSQL (`notification`), on plain node-postgres with prepared statements: this is the path
 * of every alert, and Prisma's client cost more CPU than the statements (decision 0014).
 *
 * Idempotency lives in the table: `event_id` is unique and a second insert of the same event is a
 * no-op (`ON CONFLICT DO NOTHING`), so a redelivered or replayed event stores and emits one alert.
 *
 * Each INSERT takes the table's EXCLUSIVE lock (readers are not blocked) so ids are drawn and
 * committed in the same order. Without it, id 6 could commit before id 5, a reader past 6 would
 * never see 5, and a client would silently miss that alert.
 *
 * One writer per process: the appends of one turn of the event loop go together, and appends made
 * while an INSERT runs wait and go together in the next one.
 * Concurrent transactions would only queue on the lock while each held a pooled connection; one at
 * a time, a burst costs one commit per batch instead of per alert.
 */
export function createPgAlertStore(pool: Pool, options: PgAlertStoreOptions = {}): AlertStore {
  // The rows the database inserted; events stored before are absent.
  async function insert(alerts: NewAlert[]): Promise<Map<string, Alert>> {
    const column = <K extends keyof NewAlert>(key: K) => alerts.map((alert) => alert[key]);
    const rows = await withPgTransaction(pool, async (client) => {
      await client.query('LOCK TABLE notification IN EXCLUSIVE MODE');
      const inserted = await client.query<Row>({
        ...prepared(INSERT_SQL),
        values: [
          column('eventId'),
          column('type'),
          column('severity'),
          column('routingId'),
          column('routingCode'),
          column('jobId'),
          column('message'),
          column('createdAt'),
        ],
      });
      return inserted.rows;
    });
    return new Map(rows.map((row) => [row.event_id, toAlert(row)]));
  }

  // One INSERT at a time; the appends of one turn of the event loop go together (a consumer batch's handlers
  // append one after the other within a tick), and so do those made while an INSERT runs.
  const appends = createBatcher<NewAlert, Appended>({
    maxItems: options.maxBatch ?? 100,
    maxWaitMs: 0,
    maxConcurrent: 1,
    run: async (alerts) => {
      let stored: Map<string, Alert>;
      try {
        stored = await insert(alerts);
      } catch (err) {
        if (alerts.length === 1) throw err;
        // One alert the database refuses must not fail (and retry, and dead-letter) the others:
        // write each alone, in order, so only its own event fails. If the database is down, all do.
        const alone: Appended[] = [];
        for (const alert of alerts) {
          alone.push(
            await insert([alert]).then(
              (rows): Appended => rows.get(alert.eventId),
              (failed: unknown): Appended => ({ failed }),
            ),
          );
        }
        return alone;
      }
      // The same event twice in one batch: one row, and only the first caller stored it.
      return alerts.map((alert) => {
        const alertStored = stored.get(alert.eventId);
        stored.delete(alert.eventId);
        return alertStored;
      });
    },
  });

  return {
    async append(alert) {
      const appended = await appends.submit(alert);
      if (appended !== undefined && 'failed' in appended) throw appended.failed;
      return appended;
    },

    async listAfter(after, limit) {
      const { rows } = await pool.query<Row>({
        ...prepared(LIST_AFTER_SQL),
        values: [String(after ?? 0n), limit],
      });
      return rows.map(toAlert);
    },

    async latestId() {
      const { rows } = await pool.query<{ id: string }>(prepared(LATEST_ID_SQL));
      return BigInt(rows[0]?.id ?? 0);
    },
  };
}

// The columns are text; only the domain's mapping writes them, so the narrower types hold.
function toAlert(row: Row): Alert {
  return {
    id: BigInt(row.id),
    type: row.type as NotificationType,
    severity: row.severity as NotificationSeverity,
    routingId: row.routing_id,
    routingCode: row.routing_code,
    jobId: row.job_id,
    message: row.message,
    createdAt: row.created_at,
  };
}
