import type { MessageEnvelope } from '@mcms/contracts';
import type { EventMapping, HistoryStore } from './history-entry';

/** What became of one event: a new entry, a duplicate of one already kept, or nothing to record. */
export type RecordOutcome = 'recorded' | 'duplicate' | 'ignored';

/**
 * Records the history entry of one validated event. Idempotent: the store refuses a second entry
 * for the same event id, and a second final entry for the same job, so a redelivery or a replay
 * comes back `duplicate` and changes nothing.
 */
export async function recordEvent(
  store: HistoryStore,
  mapping: EventMapping,
  event: MessageEnvelope,
): Promise<RecordOutcome> {
  const entry = mapping.toEntry(event);
  if (entry === null) return 'ignored';
  return (await store.append(entry)) ? 'recorded' : 'duplicate';
}
