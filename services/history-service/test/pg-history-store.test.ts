import { randomUUID } from 'node:crypto';
import { createPgHistoryStore } from '../src/adapters/pg-history-store';
import type { HistoryEntry } from '../src/domain/history-entry';
import { createTestDatabase, type TestDatabase } from './support';

let db: TestDatabase;

beforeAll(async () => {
  db = await createTestDatabase();
});

afterAll(async () => {
  await db?.drop();
});

function entry(overrides: Partial<HistoryEntry> = {}): HistoryEntry {
  return {
    id: randomUUID(),
    routingId: randomUUID(),
    changeType: 'RoutingCreated',
    field: 'status',
    previousValue: null,
    currentValue: 'Draft',
    outcome: null,
    jobId: null,
    comment: 'café ✓ — "quoted", {braces}',
    createdBy: 'erin',
    createdAt: new Date('2026-11-28T10:15:30.123Z'),
    ...overrides,
  };
}

it('writes every field as given and reads it back unchanged', async () => {
  const store = createPgHistoryStore(db.pool);
  const written = entry({
    changeType: 'AddinJobFailed',
    field: null,
    currentValue: null,
    outcome: 'Failed',
    jobId: randomUUID(),
    comment: 'line 1\nline 2',
  });

  expect(await store.append(written)).toBe(true);

  expect(await store.listForRouting(written.routingId)).toEqual([written]);
});

it('batches appends made while writes are running, and answers each caller for its own entry', async () => {
  // One write at a time: the first entry goes alone, the rest wait and go together.
  const store = createPgHistoryStore(db.pool, { maxConcurrentWrites: 1 });
  const routingId = randomUUID();
  const jobId = randomUUID();
  const repeated = entry({ routingId });
  const entries = [
    entry({ routingId }),
    repeated,
    repeated,
    entry({ routingId, changeType: 'AddinJobCompleted', outcome: 'Succeeded', jobId }),
    entry({ routingId, changeType: 'AddinJobFailed', outcome: 'Failed', jobId }),
  ];

  const results = await Promise.all(entries.map((e) => store.append(e)));

  expect(results).toEqual([true, true, false, true, false]);
  expect(await store.listForRouting(routingId)).toHaveLength(3);
});

it('writes the entries appended in one tick with one INSERT, however many writes it may run at once', async () => {
  const store = createPgHistoryStore(db.pool);
  const routingId = randomUUID();
  const statements = jest.spyOn(db.pool, 'query');
  try {
    const results = await Promise.all([1, 2, 3, 4, 5].map(() => store.append(entry({ routingId }))));

    expect(results).toEqual([true, true, true, true, true]);
    const inserts = statements.mock.calls.filter(([query]) =>
      String((query as { text?: unknown }).text ?? query).includes('INSERT INTO history_entry'),
    );
    expect(inserts).toHaveLength(1);
  } finally {
    statements.mockRestore();
  }
});

it('fails only the entry the database refuses when it was batched with others', async () => {
  const store = createPgHistoryStore(db.pool, { maxConcurrentWrites: 1 });
  const routingId = randomUUID();
  // PostgreSQL text can't hold NUL: the whole INSERT fails, as for any row the database refuses.
  const refused = entry({ routingId, comment: 'nul \u0000 byte' });
  const others = [entry({ routingId }), entry({ routingId }), entry({ routingId })];

  const results = await Promise.allSettled(
    [others[0]!, refused, others[1]!, others[2]!].map((e) => store.append(e)),
  );

  expect(results.map((result) => result.status)).toEqual(['fulfilled', 'rejected', 'fulfilled', 'fulfilled']);
  const kept = await store.listForRouting(routingId);
  expect(kept.map((e) => e.id).sort()).toEqual(others.map((e) => e.id).sort());
});

it('rejects every append while the table is unavailable, so the consumer retries them', async () => {
  const store = createPgHistoryStore(db.pool);
  await db.prisma.$executeRawUnsafe('ALTER TABLE history_entry RENAME TO history_entry_away');
  try {
    const results = await Promise.allSettled([entry(), entry()].map((e) => store.append(e)));
    expect(results.map((result) => result.status)).toEqual(['rejected', 'rejected']);
  } finally {
    await db.prisma.$executeRawUnsafe('ALTER TABLE history_entry_away RENAME TO history_entry');
  }
});
