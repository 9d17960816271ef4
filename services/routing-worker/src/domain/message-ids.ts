import { createHash } from 'node:crypto';

// Our own UUID namespace for ids derived from others (RFC 9562 §5.5), fixed forever: changing it
// would give a reprocessed result a different event id, and history a second entry.
const NAMESPACE = '3b8f6a52-5d0e-4c47-9a3e-0f6b1f7d2c11';

/** A name-based (version 5) UUID: the same namespace and name always give the same id. */
export function uuidV5(name: string, namespace: string = NAMESPACE): string {
  const hash = createHash('sha1')
    .update(Buffer.from(namespace.replace(/-/g, ''), 'hex'))
    .update(name, 'utf8')
    .digest();
  const bytes = hash.subarray(0, 16);
  bytes[6] = (bytes[6]! & 0x0f) | 0x50;
  bytes[8] = (bytes[8]! & 0x3f) | 0x80;
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/**
 * The messageId of the `routing.generation.completed` / `.failed` event of a job. Derived from the
 * job id, so reprocessing a result yields the same id: the outbox skips it, history (which keys its
 * entries by event id) records it once, and meta.json's `historyId` never changes.
 */
export function generationEventId(jobId: string, outcome: 'completed' | 'failed'): string {
  return uuidV5(`${jobId}:routing.generation.${outcome}`);
}
