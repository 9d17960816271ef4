import { AddinJobExpired, createMessage, RoutingGenerationFailed } from '@mcms/contracts';
import { eventMappings, FINAL_JOB_CHANGE_TYPES, type HistoryEntry, type HistoryStore } from './history-entry';
import { recordEvent } from './record-event';

/** The store's contract in memory: unique by id, and one final entry per job. */
function fakeStore(): HistoryStore & { entries: HistoryEntry[] } {
  const entries: HistoryEntry[] = [];
  const isFinal = (entry: HistoryEntry) => FINAL_JOB_CHANGE_TYPES.includes(entry.changeType);
  return {
    entries,
    async append(entry) {
      const taken = entries.some(
        (kept) => kept.id === entry.id || (isFinal(entry) && isFinal(kept) && kept.jobId === entry.jobId),
      );
      if (!taken) entries.push(entry);
      return !taken;
    },
    async listForRouting(routingId) {
      return entries.filter((entry) => entry.routingId === routingId);
    },
  };
}

const mappingOf = (type: string) => {
  const found = eventMappings.find((m) => m.definition.type === type);
  if (!found) throw new Error(`no mapping for ${type}`);
  return found;
};
const routingId = '5d1c3f0e-8a5b-4b8e-9f65-2a8f0b9c7e11';
const jobId = '9a4f6c2b-1d3e-4f5a-8b7c-0e1d2c3b4a59';

function failure(message: string) {
  return createMessage(
    RoutingGenerationFailed,
    { routingId, routingCode: 'GT1', jobId, message, stale: false, failedAt: new Date().toISOString() },
    { correlationId: 'c' },
  );
}

it('records an event once and reports its redelivery as a duplicate', async () => {
  const store = fakeStore();
  const event = failure('boom');

  const first = await recordEvent(store, mappingOf(event.type), event);
  const again = await recordEvent(store, mappingOf(event.type), event);

  expect([first, again]).toEqual(['recorded', 'duplicate']);
  expect(store.entries).toHaveLength(1);
});

it('ignores an event that has no history entry without touching the store', async () => {
  const store = fakeStore();
  const expired = createMessage(
    AddinJobExpired,
    { routingId, routingCode: 'GT1', jobId, attempt: 5, action: 'failed', reason: 'gone', deviceId: null },
    { correlationId: 'c' },
  );

  expect(await recordEvent(store, mappingOf(expired.type), expired)).toBe('ignored');
  expect(store.entries).toHaveLength(0);
});
