import type { NotificationSeverity, NotificationType } from '@mcms/contracts';
import type { Alert, AlertStore, NewAlert } from '../domain/alert';
import type { PrismaClient } from '../generated/prisma/client';

interface Row {
  id: bigint;
  type: string;
  severity: string;
  routingId: string;
  routingCode: string;
  jobId: string;
  message: string;
  createdAt: Date;
}

/** Options of {@link createPrismaAlertStore}. */
export interface PrismaAlertStoreOptions {
  /** Most alerts in one INSERT. Default 100. */
  maxBatch?: number;
}

interface Pending {
  alert: NewAlert;
  resolve: (stored: Alert | undefined) => void;
  reject: (err: unknown) => void;
}

/**
 * Alerts in PostgreSQL (`notification`).
 *
 * Idempotency lives in the table: `event_id` is unique and a second insert of the same event is a
 * no-op (`ON CONFLICT DO NOTHING`), so a redelivered or replayed event stores and emits one alert.
 *
 * Each INSERT takes the table's EXCLUSIVE lock (readers are not blocked) so ids are drawn and
 * committed in the same order. Without it, id 6 could commit before id 5, a reader past 6 would
 * never see 5, and a client would silently miss that alert.
 *
 * One writer per process: appends made while an INSERT runs wait and go together in the next one.
 * Concurrent transactions would only queue on the lock while each held a pooled connection (and
 * Prisma gives up starting a transaction after 2 s); one at a time, a burst costs one commit per
 * batch instead of per alert.
 */
export function createPrismaAlertStore(
  prisma: PrismaClient,
  options: PrismaAlertStoreOptions = {},
): AlertStore {
  const maxBatch = options.maxBatch ?? 100;
  let queue: Pending[] = [];
  let writing = false;

  // The rows the database inserted; events stored before are absent. The rows travel as one array
  // per column, so any batch size is one statement shape.
  async function insert(alerts: NewAlert[]): Promise<Map<string, Alert>> {
    const column = <K extends keyof NewAlert>(key: K) => alerts.map((alert) => alert[key]);
    const [, rows] = await prisma.$transaction([
      prisma.$executeRaw`LOCK TABLE notification IN EXCLUSIVE MODE`,
      prisma.$queryRaw<Array<Row & { eventId: string }>>`
        INSERT INTO notification
          (event_id, type, severity, routing_id, routing_code, job_id, message, created_at)
        SELECT event_id, type, severity, routing_id, routing_code, job_id, message, created_at FROM unnest(
          ${column('eventId')}::uuid[], ${column('type')}::text[], ${column('severity')}::text[],
          ${column('routingId')}::uuid[], ${column('routingCode')}::text[], ${column('jobId')}::uuid[],
          ${column('message')}::text[], ${alerts.map((alert) => alert.createdAt.toISOString())}::timestamptz[])
          WITH ORDINALITY AS alert(event_id, type, severity, routing_id, routing_code, job_id, message, created_at, n)
        ORDER BY n
        ON CONFLICT (event_id) DO NOTHING
        RETURNING id, event_id AS "eventId", type, severity, routing_id AS "routingId",
          routing_code AS "routingCode", job_id AS "jobId", message, created_at AS "createdAt"`,
    ]);
    return new Map(rows.map((row) => [row.eventId, toAlert(row)]));
  }

  async function write(batch: Pending[]): Promise<void> {
    let stored: Map<string, Alert>;
    try {
      stored = await insert(batch.map((pending) => pending.alert));
    } catch (err) {
      if (batch.length === 1) {
        batch[0]!.reject(err);
        return;
      }
      // One alert the database refuses must not fail (and retry, and dead-letter) the others:
      // write each alone, so only its own event fails. If the database is down, all do.
      for (const pending of batch) await write([pending]);
      return;
    }
    // The same event twice in one batch: one row, and only the first caller stored it.
    for (const { alert, resolve } of batch) {
      resolve(stored.get(alert.eventId));
      stored.delete(alert.eventId);
    }
  }

  function pump(): void {
    if (writing || queue.length === 0) return;
    const batch = queue.slice(0, maxBatch);
    queue = queue.slice(batch.length);
    writing = true;
    void write(batch).finally(() => {
      writing = false;
      pump();
    });
  }

  return {
    append(alert) {
      return new Promise<Alert | undefined>((resolve, reject) => {
        queue.push({ alert, resolve, reject });
        pump();
      });
    },

    async listAfter(after, limit) {
      const rows = await prisma.notification.findMany({
        where: after === undefined ? {} : { id: { gt: after } },
        orderBy: { id: 'asc' },
        take: limit,
      });
      return rows.map(toAlert);
    },

    async latestId() {
      const newest = await prisma.notification.findFirst({ orderBy: { id: 'desc' }, select: { id: true } });
      return newest?.id ?? 0n;
    },
  };
}

// The columns are text; only the domain's mapping writes them, so the narrower types hold.
function toAlert(row: Row): Alert {
  return {
    id: BigInt(row.id),
    type: row.type as NotificationType,
    severity: row.severity as NotificationSeverity,
    routingId: row.routingId,
    routingCode: row.routingCode,
    jobId: row.jobId,
    message: row.message,
    createdAt: row.createdAt,
  };
}
