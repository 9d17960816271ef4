import { appendFile } from 'node:fs/promises';

/** One audited operator action: who did what to which dead-letter queue, when, and how many messages it moved. */
export interface AuditRecord {
  at: string;
  by: string;
  action: 'dlq.replay' | 'dlq.purge';
  /** The consumer queue (without the prefix) and the real dead-letter queue name. */
  queue: string;
  deadLetterQueue: string;
  [detail: string]: unknown;
}

/**
 * Appends one JSON line to the audit log. The broker only keeps the replay's headers on each copy
 * (`x-mcms-replayed-by`/`-at`); the log also keeps purges, filters and counts, which no message carries.
 */
export async function appendAudit(path: string, record: AuditRecord): Promise<void> {
  await appendFile(path, `${JSON.stringify(record)}\n`, { encoding: 'utf8', mode: 0o640 });
}
