import { randomUUID } from 'node:crypto';
import type { PoolClient } from 'pg';
import { claimInbox, withInbox, withInboxPg } from '../src/inbox';
import {
  enqueueOutbox,
  fromPgClient,
  fromPrismaTx,
  withPgTransaction,
  type PrismaRawExecutor,
} from '../src/outbox';
import { testMessage } from './support/outbox-broker';
import { createTestSchema, eventually, type TestSchema } from './support/pg-schema';
import { pgTransactor } from './support/pg-transactor';

let db: TestSchema;

beforeAll(async () => {
  db = await createTestSchema('CREATE TABLE effect_counter (name TEXT PRIMARY KEY, value INT NOT NULL);');
});

afterAll(async () => {
  await db.drop();
});

beforeEach(async () => {
  await db.pool.query('TRUNCATE inbox_message, outbox_message, effect_counter');
});

const CONSUMER = 'routing-worker.addin-job-result';

// The effect under test: one counter increment per handled message.
async function increment(tx: PrismaRawExecutor, name: string): Promise<number> {
  return tx.$executeRawUnsafe(
    `INSERT INTO effect_counter (name, value) VALUES ($1, 1)
     ON CONFLICT (name) DO UPDATE SET value = effect_counter.value + 1`,
    name,
  );
}

async function counter(name: string): Promise<number | undefined> {
  const { rows } = await db.pool.query<{ value: number }>(
    'SELECT value FROM effect_counter WHERE name = $1',
    [name],
  );
  return rows[0]?.value;
}

async function inboxRows(messageId: string): Promise<string[]> {
  const { rows } = await db.pool.query<{ consumer: string }>(
    'SELECT consumer FROM inbox_message WHERE message_id = $1 ORDER BY consumer',
    [messageId],
  );
  return rows.map((r) => r.consumer);
}

describe('claimInbox', () => {
  it('claims a message once per consumer', async () => {
    const messageId = randomUUID();

    const claims = await withPgTransaction(db.pool, async (client) => {
      const sql = fromPgClient(client);
      return [
        await claimInbox(sql, CONSUMER, messageId),
        await claimInbox(sql, CONSUMER, messageId),
        await claimInbox(sql, 'history-service.job-events', messageId),
      ];
    });

    expect(claims).toEqual([true, false, true]);
    expect(await inboxRows(messageId)).toEqual(['history-service.job-events', CONSUMER]);
  });
});

describe('withInbox', () => {
  it('applies the effect of a message handled twice in a row only once', async () => {
    const key = { consumer: CONSUMER, messageId: randomUUID() };
    const prisma = pgTransactor(db.pool);

    const first = await withInbox(prisma, key, async (tx) => increment(tx, 'job'));
    const second = await withInbox(prisma, key, async (tx) => increment(tx, 'job'));

    expect(first).toEqual({ duplicate: false, result: 1 });
    expect(second).toEqual({ duplicate: true });
    expect(await counter('job')).toBe(1);
  });

  it('makes a concurrent duplicate wait for the first delivery and then skip its effect', async () => {
    const key = { consumer: CONSUMER, messageId: randomUUID() };
    const prisma = pgTransactor(db.pool);
    let releaseFirst!: () => void;
    const firstMayFinish = new Promise<void>((resolve) => (releaseFirst = resolve));

    const first = withInbox(prisma, key, async (tx) => {
      await increment(tx, 'job');
      await firstMayFinish;
      return 'first';
    });
    await eventually(
      async () => ((await counterInProgress()) ? true : undefined),
      'the first delivery to claim',
    );
    const second = withInbox(prisma, key, async (tx) => {
      await increment(tx, 'job');
      return 'second';
    });
    await eventually(
      async () => ((await claimsWaitingOnLock()) === 1 ? true : undefined),
      'the duplicate to wait',
    );
    releaseFirst();

    expect(await Promise.all([first, second])).toEqual([
      { duplicate: false, result: 'first' },
      { duplicate: true },
    ]);
    expect(await counter('job')).toBe(1);
    expect(await inboxRows(key.messageId)).toEqual([CONSUMER]);
  });

  it('lets a concurrent duplicate take over when the first delivery rolls back', async () => {
    const key = { consumer: CONSUMER, messageId: randomUUID() };
    const prisma = pgTransactor(db.pool);
    let failFirst!: () => void;
    const firstFails = new Promise<void>((resolve) => (failFirst = resolve));

    const first = withInbox(prisma, key, async (tx) => {
      await increment(tx, 'job');
      await firstFails;
      throw new Error('the shared drive is down');
    });
    await eventually(
      async () => ((await counterInProgress()) ? true : undefined),
      'the first delivery to claim',
    );
    const second = withInbox(prisma, key, async (tx) => increment(tx, 'job'));
    await eventually(
      async () => ((await claimsWaitingOnLock()) === 1 ? true : undefined),
      'the duplicate to wait',
    );
    failFirst();

    await expect(first).rejects.toThrow('the shared drive is down');
    expect(await second).toEqual({ duplicate: false, result: 1 });
    expect(await counter('job')).toBe(1);
  });

  it('rolls back the inbox row and the outbox rows with an effect that throws, so a retry succeeds', async () => {
    const key = { consumer: CONSUMER, messageId: randomUUID() };
    const prisma = pgTransactor(db.pool);
    const reply = testMessage(1);
    let attempts = 0;
    const effect = async (tx: PrismaRawExecutor) => {
      attempts += 1;
      await increment(tx, 'job');
      await enqueueOutbox(fromPrismaTx(tx), reply);
      if (attempts === 1) throw new Error('the shared drive is down');
      return attempts;
    };

    await expect(withInbox(prisma, key, effect)).rejects.toThrow('the shared drive is down');
    expect(await inboxRows(key.messageId)).toEqual([]);
    expect(await counter('job')).toBeUndefined();
    expect((await db.pool.query('SELECT 1 FROM outbox_message')).rowCount).toBe(0);

    expect(await withInbox(prisma, key, effect)).toEqual({ duplicate: false, result: 2 });
    expect(await inboxRows(key.messageId)).toEqual([CONSUMER]);
    expect(await counter('job')).toBe(1);
    const { rows } = await db.pool.query<{ message_id: string }>('SELECT message_id FROM outbox_message');
    expect(rows).toEqual([{ message_id: reply.envelope.messageId }]);
  });
});

describe('withInboxPg', () => {
  it('applies the effect of a redelivered message once and rolls back with a failing effect', async () => {
    const key = { consumer: CONSUMER, messageId: randomUUID() };
    const effect = async (client: PoolClient) =>
      (
        await client.query(
          "INSERT INTO effect_counter VALUES ('job', 1) ON CONFLICT (name) DO UPDATE SET value = effect_counter.value + 1",
        )
      ).rowCount;

    await expect(
      withInboxPg(db.pool, key, async (client) => {
        await effect(client);
        throw new Error('boom');
      }),
    ).rejects.toThrow('boom');
    const outcomes = [await withInboxPg(db.pool, key, effect), await withInboxPg(db.pool, key, effect)];

    expect(outcomes).toEqual([{ duplicate: false, result: 1 }, { duplicate: true }]);
    expect(await counter('job')).toBe(1);
  });

  it('serialises concurrent duplicates on the inbox key', async () => {
    const key = { consumer: CONSUMER, messageId: randomUUID() };
    const outcomes = await Promise.all(
      Array.from({ length: 8 }, () =>
        withInboxPg(
          db.pool,
          key,
          async (client) =>
            (
              await client.query(
                "INSERT INTO effect_counter VALUES ('job', 1) ON CONFLICT (name) DO UPDATE SET value = effect_counter.value + 1",
              )
            ).rowCount,
        ),
      ),
    );

    expect(outcomes.filter((o) => !o.duplicate)).toHaveLength(1);
    expect(await counter('job')).toBe(1);
  });
});

// The first delivery's uncommitted counter row is invisible to us, but its transaction shows in pg_stat_activity.
async function counterInProgress(): Promise<boolean> {
  const { rows } = await db.pool.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM pg_stat_activity
     WHERE application_name = $1 AND state = 'idle in transaction' AND query LIKE 'INSERT INTO effect_counter%'`,
    [db.schema],
  );
  return (rows[0]?.n ?? 0) === 1;
}

async function claimsWaitingOnLock(): Promise<number> {
  const { rows } = await db.pool.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM pg_stat_activity
     WHERE application_name = $1 AND wait_event_type = 'Lock' AND query LIKE 'INSERT INTO inbox_message%'`,
    [db.schema],
  );
  return rows[0]?.n ?? 0;
}
