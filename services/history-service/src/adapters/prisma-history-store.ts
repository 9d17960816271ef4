import type { ChangeType } from '@mcms/contracts';
import type { HistoryEntry, HistoryOutcome, HistoryStore } from '../domain/history-entry';
import type { PrismaClient } from '../generated/prisma/client';

type Row = Awaited<ReturnType<PrismaClient['historyEntry']['findMany']>>[number];

/** Options of {@link createPrismaHistoryStore}. */
export interface PrismaHistoryStoreOptions {
  /** Most entries in one INSERT. Default 100. */
  maxBatch?: number;
  /** Most INSERTs running at once; entries appended meanwhile wait for the next one. Default 4. */
  maxConcurrentWrites?: number;
}

interface Pending {
  entry: HistoryEntry;
  resolve: (written: boolean) => void;
  reject: (err: unknown) => void;
}

/**
 * The history in PostgreSQL (`history_entry`).
 *
 * Idempotency lives in the table, not in an inbox: an entry's id is its event's id, and a partial
 * unique index allows one AddinJobCompleted/Failed per job. `ON CONFLICT DO NOTHING` without a
 * conflict target covers both, and turns a redelivery or a replayed result into a no-op instead
 * of an error. An inbox row would repeat the primary
 * key's work in a second table and a transaction around both.
 *
 * Appends are batched: while `maxConcurrentWrites` INSERTs run, new entries wait and go together
 * in the next one. An idle store writes an entry at once; a busy one pays one commit (one WAL
 * flush) per batch instead of per entry, which is what bounds a single-row writer.
 */
export function createPrismaHistoryStore(
  prisma: PrismaClient,
  options: PrismaHistoryStoreOptions = {},
): HistoryStore {
  const maxBatch = options.maxBatch ?? 100;
  const maxConcurrentWrites = options.maxConcurrentWrites ?? 4;
  let queue: Pending[] = [];
  let writing = 0;

  // The ids the database inserted; rows skipped as duplicates are absent. Raw SQL because Prisma's
  // createMany costs ~0.3 ms of CPU per row, five times this statement's, and CPU is what bounds the
  // consumer. One statement shape for any batch size: the rows travel as one array per column.
  async function insert(entries: HistoryEntry[]): Promise<Set<string>> {
    const column = <K extends keyof HistoryEntry>(key: K) => entries.map((entry) => entry[key]);
    const inserted = await prisma.$queryRaw<Array<{ id: string }>>`
      INSERT INTO history_entry
        (id, routing_id, change_type, field, previous_value, current_value, outcome, job_id, comment, created_by, created_at)
      SELECT * FROM unnest(
        ${column('id')}::uuid[], ${column('routingId')}::uuid[], ${column('changeType')}::text[],
        ${column('field')}::text[], ${column('previousValue')}::text[], ${column('currentValue')}::text[],
        ${column('outcome')}::text[], ${column('jobId')}::uuid[], ${column('comment')}::text[],
        ${column('createdBy')}::text[], ${entries.map((entry) => entry.createdAt.toISOString())}::timestamptz[])
      ON CONFLICT DO NOTHING
      RETURNING id`;
    return new Set(inserted.map((row) => row.id));
  }

  async function write(batch: Pending[]): Promise<void> {
    let inserted: Set<string>;
    try {
      inserted = await insert(batch.map((pending) => pending.entry));
    } catch (err) {
      if (batch.length === 1) {
        batch[0]!.reject(err);
        return;
      }
      // One entry the database refuses must not fail (and retry, and finally dead-letter) the
      // others: write each alone, so only its own event fails. If the database is down, all do.
      await Promise.all(batch.map((pending) => write([pending])));
      return;
    }
    // The same event twice in one batch: one row, and only the first caller wrote it.
    const claimed = new Set<string>();
    for (const { entry, resolve } of batch) {
      const written = inserted.has(entry.id) && !claimed.has(entry.id);
      claimed.add(entry.id);
      resolve(written);
    }
  }

  function pump(): void {
    while (writing < maxConcurrentWrites && queue.length > 0) {
      const batch = queue.slice(0, maxBatch);
      queue = queue.slice(batch.length);
      writing++;
      void write(batch).finally(() => {
        writing--;
        pump();
      });
    }
  }

  return {
    append(entry) {
      return new Promise<boolean>((resolve, reject) => {
        queue.push({ entry, resolve, reject });
        pump();
      });
    },

    async listForRouting(routingId) {
      const rows = await prisma.historyEntry.findMany({
        where: { routingId },
        orderBy: [{ createdAt: 'asc' }, { id: 'asc' }],
      });
      return rows.map(toEntry);
    },
  };
}

// The columns are text; the domain's narrower types hold because only the domain's mappings write them.
function toEntry({ recordedAt: _recordedAt, ...row }: Row): HistoryEntry {
  return {
    ...row,
    changeType: row.changeType as ChangeType,
    outcome: row.outcome as HistoryOutcome | null,
  };
}
