import { once } from 'node:events';
import { Client, escapeIdentifier, type Notification } from 'pg';
import { enqueueOutbox, fromPgClient, withPgTransaction, type SqlExecutor } from '../src/outbox';
import { testMessage } from './support/outbox-broker';
import { createTestSchema, TEST_DATABASE_URL, type TestSchema } from './support/pg-schema';

let db: TestSchema;

beforeAll(async () => {
  db = await createTestSchema();
});

afterAll(async () => {
  await db.drop();
});

beforeEach(async () => {
  await db.pool.query('TRUNCATE outbox_message');
});

function counting(sql: SqlExecutor): SqlExecutor & { statements: number } {
  const wrapper = {
    statements: 0,
    execute(text: string, params: unknown[]) {
      wrapper.statements += 1;
      return sql.execute(text, params);
    },
  };
  return wrapper;
}

describe('enqueueOutbox', () => {
  it('writes a batch of messages in one statement, in order, each with its whole envelope', async () => {
    const messages = [testMessage(1), testMessage(2), testMessage(3, 'test.other')];

    const inserted = await withPgTransaction(db.pool, async (client) => {
      const sql = counting(fromPgClient(client));
      const n = await enqueueOutbox(sql, messages);
      expect(sql.statements).toBe(1);
      return n;
    });

    expect(inserted).toBe(3);
    const { rows } = await db.pool.query(
      'SELECT message_id, exchange, routing_key, envelope FROM outbox_message ORDER BY id',
    );
    expect(rows).toEqual(
      messages.map((m) => ({
        message_id: m.envelope.messageId,
        exchange: 'mcms.events',
        routing_key: m.routingKey,
        envelope: m.envelope,
      })),
    );
  });

  it('skips a message already in the outbox, so re-running a use-case enqueues nothing new', async () => {
    const first = testMessage(1);
    const second = testMessage(2);
    await withPgTransaction(db.pool, (client) => enqueueOutbox(fromPgClient(client), first));

    const again = await withPgTransaction(db.pool, (client) =>
      enqueueOutbox(fromPgClient(client), [first, second, second]),
    );

    expect(again).toBe(1);
    const { rows } = await db.pool.query<{ message_id: string }>(
      'SELECT message_id FROM outbox_message ORDER BY id',
    );
    expect(rows.map((r) => r.message_id)).toEqual([first.envelope.messageId, second.envelope.messageId]);
  });

  it('leaves no row when the state change rolls back', async () => {
    await expect(
      withPgTransaction(db.pool, async (client) => {
        await enqueueOutbox(fromPgClient(client), [testMessage(1), testMessage(2)]);
        throw new Error('the state change failed');
      }),
    ).rejects.toThrow('the state change failed');

    const { rows } = await db.pool.query('SELECT count(*)::int AS n FROM outbox_message');
    expect(rows[0].n).toBe(0);
  });

  it('notifies the schema channel when the transaction commits, not before', async () => {
    const listener = new Client({ connectionString: TEST_DATABASE_URL });
    await listener.connect();
    try {
      const notifications: Notification[] = [];
      listener.on('notification', (n) => notifications.push(n));
      await listener.query(`LISTEN ${escapeIdentifier(`mcms_outbox_${db.schema}`)}`);
      const client = await db.pool.connect();
      try {
        await client.query('BEGIN');
        await enqueueOutbox(fromPgClient(client), [testMessage(1), testMessage(2)]);
        await listener.query('SELECT 1'); // a round trip: anything already sent has arrived
        expect(notifications).toHaveLength(0);

        const notified = once(listener, 'notification');
        await client.query('COMMIT');
        const [notification] = (await notified) as [Notification];
        expect(notification.channel).toBe(`mcms_outbox_${db.schema}`);
      } finally {
        client.release();
      }
    } finally {
      await listener.end();
    }
  });

  it('rejects a message with headers rather than publishing it without them', async () => {
    const message = { ...testMessage(1), headers: { tenant: 'a' } };

    await expect(
      withPgTransaction(db.pool, (client) => enqueueOutbox(fromPgClient(client), message)),
    ).rejects.toMatchObject({ code: 'outbox_headers_unsupported' });
  });

  it('writes nothing for an empty list', async () => {
    const sql = counting(fromPgClient(db.pool));

    await expect(enqueueOutbox(sql, [])).resolves.toBe(0);
    expect(sql.statements).toBe(0);
  });
});
