import { randomBytes } from 'node:crypto';
import { listenForNotifications, type Listening } from '../src/listen';
import { databaseUrl, withClient } from './support';

const quietLog = { warn: () => undefined, info: () => undefined };

function signal() {
  let resolve!: () => void;
  const promise = new Promise<void>((done) => (resolve = done));
  return { promise, resolve };
}

describe('listenForNotifications', () => {
  let listening: Listening | undefined;
  afterEach(async () => {
    await listening?.stop();
    listening = undefined;
  });

  it('delivers each NOTIFY payload on the channel, after telling the caller it listens', async () => {
    const channel = `test_listen_${randomBytes(4).toString('hex')}`;
    const payloads: string[] = [];
    const ready = signal();
    const got = signal();
    listening = await listenForNotifications({
      clientConfig: { connectionString: databaseUrl },
      channel,
      onNotify: (payload) => {
        payloads.push(payload);
        if (payloads.length === 2) got.resolve();
      },
      onListening: ready.resolve,
      log: quietLog,
      what: 'test',
    });
    await ready.promise;
    await withClient(async (client) => {
      await client.query(`SELECT pg_notify($1, 'one'), pg_notify($1, '')`, [channel]);
    });
    await got.promise;
    expect(payloads).toEqual(['one', '']);
  });

  it('listens again after its connection is killed, and says so, so the caller can catch up', async () => {
    const channel = `test_listen_${randomBytes(4).toString('hex')}`;
    let listenings = 0;
    let again = signal();
    const notified = signal();
    listening = await listenForNotifications({
      clientConfig: { connectionString: databaseUrl, application_name: channel },
      channel,
      onNotify: notified.resolve,
      onListening: () => {
        listenings += 1;
        again.resolve();
      },
      log: quietLog,
      what: 'test',
      initialDelayMs: 10,
    });
    await again.promise;
    again = signal();
    await withClient((client) =>
      client.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1', [
        channel,
      ]),
    );
    await again.promise;
    expect(listenings).toBe(2);
    await withClient((client) => client.query(`SELECT pg_notify($1, 'after')`, [channel]));
    await notified.promise;
  });

  it('refuses a channel name PostgreSQL would truncate', async () => {
    await expect(
      listenForNotifications({
        clientConfig: { connectionString: databaseUrl },
        channel: 'x'.repeat(64),
        onNotify: () => undefined,
        onListening: () => undefined,
        log: quietLog,
        what: 'test',
      }),
    ).rejects.toThrow(/too long/);
  });
});
