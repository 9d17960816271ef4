import { randomUUID } from 'node:crypto';
import { createPgPool } from '@mcms/db';
import type { Pool } from 'pg';
import { createPgAlertStore } from '../src/adapters/pg-alert-store';
import type { NewAlert } from '../src/domain/alert';
import { createSharedInfrastructure, DATABASE_URL, type SharedInfrastructure } from './support';

let shared: SharedInfrastructure;
let writers: Pool[] = [];

beforeAll(async () => {
  shared = await createSharedInfrastructure();
  // Several clients, like several replicas: concurrent inserts on separate connections.
  writers = [0, 1, 2, 3, 4, 5].map(() =>
    createPgPool({ databaseUrl: DATABASE_URL, schema: shared.schema, max: 2 }),
  );
});

afterAll(async () => {
  for (const writer of writers) await writer.end();
  await shared?.destroy();
});

function newAlert(eventId = randomUUID()): NewAlert {
  return {
    eventId,
    type: 'generation.failed',
    severity: 'error',
    routingId: randomUUID(),
    routingCode: 'GT1',
    jobId: randomUUID(),
    message: 'failed',
    createdAt: new Date(),
  };
}

it('stores an event once: the second append of the same event answers undefined', async () => {
  const store = createPgAlertStore(writers[0]!);
  const alert = newAlert();

  const first = await store.append(alert);
  const second = await store.append(alert);

  expect(first).toMatchObject({ type: 'generation.failed', jobId: alert.jobId });
  expect(second).toBeUndefined();
  expect((await store.listAfter(first!.id - 1n, 10)).map((a) => a.jobId)).toEqual([alert.jobId]);
});

it('stores one alert when the same event is appended twice at once (one batch)', async () => {
  const store = createPgAlertStore(writers[0]!);
  const alert = newAlert();
  const other = newAlert();

  const results = await Promise.all([store.append(other), store.append(alert), store.append(alert)]);

  expect(results.map((stored) => stored?.jobId)).toEqual([other.jobId, alert.jobId, undefined]);
  expect(results[1]!.id).toBeGreaterThan(results[0]!.id);
});

it('stores the alerts appended in one tick in one transaction', async () => {
  const store = createPgAlertStore(writers[1]!);
  const transactions = jest.spyOn(writers[1]!, 'connect');
  try {
    const stored = await Promise.all(
      [newAlert(), newAlert(), newAlert()].map((alert) => store.append(alert)),
    );

    expect(stored.every((alert) => alert !== undefined)).toBe(true);
    expect(transactions).toHaveBeenCalledTimes(1);
  } finally {
    transactions.mockRestore();
  }
});

it('fails only the alert the database refuses when it was batched with others', async () => {
  const store = createPgAlertStore(writers[2]!);
  // PostgreSQL text can't hold NUL: the whole INSERT fails, as for any row the database refuses.
  const alerts = [newAlert(), { ...newAlert(), message: 'nul \u0000 byte' }, newAlert()];

  const results = await Promise.allSettled(alerts.map((alert) => store.append(alert)));

  expect(results.map((result) => result.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
  const stored = results.flatMap((result) => (result.status === 'fulfilled' ? [result.value?.jobId] : []));
  expect(stored).toEqual([alerts[0]!.jobId, alerts[2]!.jobId]);
});

it('makes alerts visible in id order under concurrent appends, so a reader following its cursor misses none', async () => {
  const stores = writers.map((writer) => createPgAlertStore(writer, { maxBatch: 5 }));
  const reader = stores[0]!;
  const COUNT = 300;
  // A race: several rounds make a reordered commit (a gap for the reader) all but certain to show.
  for (let round = 0; round < 4; round++) {
    const start = await reader.latestId();

    let writing = true;
    const seen: bigint[] = [];
    const reading = (async () => {
      let cursor = start;
      // Reads as the live feed does, as fast as it can, until the writers are done and it caught up.
      for (;;) {
        const done = !writing;
        const page = await reader.listAfter(cursor, 1_000);
        for (const alert of page) seen.push(alert.id);
        if (page.length > 0) cursor = page[page.length - 1]!.id;
        if (done && page.length === 0) return;
      }
    })();
    try {
      await Promise.all(
        Array.from({ length: COUNT }, (_, i) => stores[i % stores.length]!.append(newAlert())),
      );
    } finally {
      writing = false;
      await reading;
    }

    const stored = (await reader.listAfter(start, COUNT + 1)).map((alert) => alert.id);
    expect(stored).toHaveLength(COUNT);
    expect(seen).toEqual(stored);
  }
});

it('reads back every field it stored, and knows the newest id', async () => {
  const store = createPgAlertStore(writers[0]!);
  const alert = { ...newAlert(), type: 'job.requeued' as const, severity: 'warning' as const };

  const stored = await store.append(alert);
  const [read] = await store.listAfter(stored!.id - 1n, 10);

  const { eventId: _eventId, ...fields } = alert;
  expect(read).toEqual({ id: stored!.id, ...fields });
  expect(stored).toEqual(read);
  expect(await store.latestId()).toBe(stored!.id);
});
