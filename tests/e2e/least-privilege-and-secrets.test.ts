// The system as it should run in a plant: each service with a broker user of its own, limited to its own
// queues (permissions generated from the topology, imported as a RabbitMQ definitions file), and passwords in
// the AMQP and database URLs. The flow still works end to end; what a service may not do, the broker refuses;
// and no key, token or password shows up in any log line or in the gateway's tables.
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { writeJobOutputs } from '@mcms/addin-client';
import { CONSUMER_QUEUES, CreatedKey, EXCHANGES } from '@mcms/contracts';
import { brokerDefinitions, brokerPermissions, brokerUserOf, type BrokerService } from '@mcms/messaging';
import { DEV_JWT_SECRET } from '@mcms/platform';
import { connect, type ChannelModel } from 'amqplib';
import { mcms } from '../support/flows';
import { ALL_SERVICES, tokenFor, useSystem, waitFor, type System } from '../support/system';

const run = promisify(execFile);
const id = randomBytes(4).toString('hex');
const vhost = `mcms-e2e-lp-${id}`;
const userPrefix = `mcms-e2e-lp-${id}-`;
const prefix = 'plant-7.';
const adminUser = `${userPrefix}admin`;
// A letter first: base64url may begin with '-', and rabbitmqctl reads an argument that does as an option (1 run
// in ~60 failed that way).
const secret = () => `s${randomBytes(18).toString('base64url')}`;
const passwords: Record<string, string> = Object.fromEntries(
  brokerPermissions(prefix, userPrefix).map((p) => [p.user, secret()]),
);
const adminPassword = secret();
const databasePassword = secret();
const amqpUrlOf = (user: string, password: string) =>
  `amqp://${encodeURIComponent(user)}:${encodeURIComponent(password)}@127.0.0.1:5672/${encodeURIComponent(vhost)}`;
const userOf = (service: BrokerService) => brokerUserOf(service, userPrefix);

/** Runs rabbitmqctl; `.done` resolves with its output. */
function rabbitmqctl(...args: string[]) {
  return { done: run('rabbitmqctl', ['-q', ...args], { timeout: 60_000 }) };
}

// The vhost and users exist before the system starts (useSystem's beforeAll runs after this one).
beforeAll(async () => {
  // Readable by all: Debian's rabbitmqctl runs as the rabbitmq user. It holds password hashes only.
  const dir = await mkdtemp(path.join(os.tmpdir(), 'mcms-lp-'));
  try {
    const file = path.join(dir, 'definitions.json');
    await writeFile(file, JSON.stringify(brokerDefinitions({ prefix, userPrefix, vhost, passwords })));
    await chmod(dir, 0o755);
    await chmod(file, 0o644);
    await rabbitmqctl('import_definitions', file).done;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  // The import runs asynchronously: wait until the broker lists every user's permissions in the vhost.
  await waitFor(
    async () => {
      const { stdout } = await rabbitmqctl('list_permissions', '-p', vhost, '--formatter', 'json').done;
      const listed = (JSON.parse(stdout) as Array<{ user: string }>).map((p) => p.user);
      return Object.keys(passwords).every((user) => listed.includes(user));
    },
    { timeoutMs: 60_000, intervalMs: 500, what: `the definitions imported into ${vhost}` },
  );
  // The test's own view (taps, cleanup): everything in this vhost only.
  await rabbitmqctl('add_user', adminUser, adminPassword).done;
  await rabbitmqctl('set_permissions', '-p', vhost, adminUser, '.*', '.*', '.*').done;
}, 120_000);

afterAll(async () => {
  // The system's own cleanup first (idempotent): it still needs the admin user to delete its queues.
  await systemOf()
    ?.cleanup()
    .catch(() => undefined);
  await rabbitmqctl('delete_vhost', vhost).done.catch(() => undefined);
  for (const user of [adminUser, ...Object.keys(passwords)]) {
    await rabbitmqctl('delete_user', user).done.catch(() => undefined);
  }
}, 120_000);

const e2e = useSystem({
  name: 'e2e-lp',
  amqpUrl: amqpUrlOf(adminUser, adminPassword),
  databaseUrl: `postgresql://postgres:${databasePassword}@127.0.0.1:5432/postgres`,
  env: { MCMS_TOPOLOGY_PREFIX: prefix, JOB_LEASE: '60s' },
  serviceEnv: Object.fromEntries(
    ALL_SERVICES.map((service) => [
      service,
      { AMQP_URL: amqpUrlOf(userOf(service), passwords[userOf(service)]!) },
    ]),
  ),
});

function systemOf(): System | undefined {
  try {
    return e2e.system;
  } catch {
    return undefined; // it never started
  }
}

/** What the broker answers when `user` tries `action`: 'ok', or the AMQP reply code and text. */
async function attempt(
  service: BrokerService,
  action: (channel: Awaited<ReturnType<ChannelModel['createConfirmChannel']>>) => Promise<unknown>,
): Promise<string> {
  const connection = await connect(amqpUrlOf(userOf(service), passwords[userOf(service)]!));
  connection.on('error', () => undefined);
  try {
    const channel = await connection.createConfirmChannel();
    const closed = new Promise<string>((resolve) =>
      channel.once('error', (err: Error) => resolve(err.message)),
    );
    try {
      await action(channel);
      await channel.waitForConfirms();
      await channel.close();
      return 'ok';
    } catch (err) {
      const onClose = await Promise.race([closed, Promise.resolve(undefined)]);
      return onClose ?? (err instanceof Error ? err.message : String(err));
    }
  } finally {
    await connection.close().catch(() => undefined);
  }
}

const queue = (name: string) => `${prefix}${name}`;
const exchange = (name: string) => `${prefix}${name}`;

describe('one broker user per service', () => {
  e2e.it(
    'still runs the whole flow: approval, job, completion, routing, history and alert',
    async (system) => {
      const api = mcms(system);
      const feed = await system.alerts();
      const approved = await api.approved();
      const client = system.addinClient('E2E-LP-WS');
      const job = await client.next({ waitSeconds: 10 });
      expect(job?.jobId).toBe(approved.lastAddinJobId);
      const outputs = await writeJobOutputs(system.sharedDriveRoot, job!);
      await client.complete(job!.jobId, { resultStatus: 'completed', outputs });
      await api.waitForRouting(approved.id, (r) => r.lastGenerationStatus === 'Completed', 'Completed');
      await api.waitForHistory(approved.id, ['AddinJobCompleted']);
      await feed.waitFor((alert) => alert.jobId === job!.jobId, { what: 'the completion alert' });
      // Every service connected as its own user: the broker says who is connected to this vhost.
      const { stdout } = await rabbitmqctl('list_connections', '-p', vhost, 'user', '--formatter', 'json')
        .done;
      const users = new Set((JSON.parse(stdout) as Array<{ user: string }>).map((c) => c.user));
      for (const service of ALL_SERVICES) expect(users).toContain(userOf(service));
    },
    90_000,
  );

  e2e.it('refuses what a service has no business doing (ACCESS_REFUSED)', async () => {
    const refused = expect.stringMatching(/ACCESS_REFUSED|403/);
    // history-service consuming routing-worker's results, or reading its dead letters
    expect(
      await attempt('history-service', (ch) =>
        ch.consume(queue(CONSUMER_QUEUES.routingJobResults), () => {}),
      ),
    ).toEqual(refused);
    expect(
      await attempt('history-service', (ch) => ch.get(queue(`${CONSUMER_QUEUES.routingJobResults}.dlq`))),
    ).toEqual(refused);
    // history-service and notification-service publishing commands or events (they emit nothing)
    expect(
      await attempt('history-service', async (ch) =>
        ch.publish(exchange(EXCHANGES.commands), 'mcms.addin-job.result', Buffer.from('{}')),
      ),
    ).toEqual(refused);
    expect(
      await attempt('notification-service', async (ch) =>
        ch.publish(exchange(EXCHANGES.events), 'routing.generation.failed', Buffer.from('{}')),
      ),
    ).toEqual(refused);
    // notification-service declaring another service's queue, or binding its own to the commands
    expect(
      await attempt('notification-service', (ch) =>
        ch.assertQueue(queue('routing-worker.sneaky'), { durable: true }),
      ),
    ).toEqual(refused);
    expect(
      await attempt('notification-service', (ch) =>
        ch.bindQueue(queue(CONSUMER_QUEUES.notificationAlerts), exchange(EXCHANGES.commands), '#'),
      ),
    ).toEqual(refused);
    // ... while its own queue is its to read.
    expect(
      await attempt('notification-service', (ch) => ch.checkQueue(queue(CONSUMER_QUEUES.notificationAlerts))),
    ).toBe('ok');
  });
});

describe('secrets', () => {
  const sha256 = (text: string) => createHash('sha256').update(text, 'utf8').digest('hex');

  async function gatewayRowsAsText(system: System): Promise<string> {
    const tables = await system.sql<{ table_name: string }>(
      'addin-gateway',
      `SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()`,
    );
    expect(tables.map((t) => t.table_name)).toContain('addin_key');
    const dumps = await Promise.all(
      tables.map(async ({ table_name }) =>
        JSON.stringify(await system.sql('addin-gateway', `SELECT * FROM "${table_name}"`)),
      ),
    );
    return dumps.join('\n');
  }

  e2e.it(
    'are stored only as hashes, and appear in no log line of any service',
    async (system) => {
      const gateway = system.api('addin-gateway');
      const adminToken = tokenFor('admin', { sub: 'e2e-secrets-admin' });
      const created = await gateway.post('/api/addin/keys', { name: 'E2E secrets' }, { token: adminToken });
      expect(created.status).toBe(201);
      const { key, keyId } = CreatedKey.parse(created.body);

      // Calls with good and bad credentials of every kind.
      const client = system.addinClient('E2E-SECRETS-WS', { key });
      expect(await client.next()).toBeNull();
      const wrongKey = `mcms_ak_${secret()}`;
      expect((await gateway.get('/api/addin/jobs/next', { addin: { key: wrongKey } })).status).toBe(401);
      const viewerToken = tokenFor('viewer', { sub: 'e2e-secrets-viewer' });
      const forged = `${tokenFor('admin')}x`;
      for (const service of ALL_SERVICES) {
        const path = service === 'addin-gateway' ? '/api/addin/jobs' : '/openapi.json';
        expect((await system.api(service).get(path, { token: viewerToken })).status).toBe(200);
        expect((await system.api(service).get('/api/notifications', { token: forged })).status).not.toBe(200);
      }
      expect((await gateway.delete(`/api/addin/keys/${keyId}`, { token: adminToken })).status).toBe(204);
      expect((await gateway.get('/api/addin/jobs/next', { addin: { key } })).status).toBe(401);

      // At rest: the key's hash, never the key (nor the bootstrap key), in any table of the gateway.
      const rows = await gatewayRowsAsText(system);
      expect(rows).toContain(sha256(key));
      expect(rows).toContain(sha256(system.addinKey));
      expect(rows).not.toContain(key);
      expect(rows).not.toContain(system.addinKey);

      // In the logs: the services did log this test's work (so the capture works) ...
      const lines = system.logLines();
      const text = lines.map((l) => l.line).join('\n');
      expect(text).toContain(keyId);
      expect(text).toContain('connecting to the broker');
      // ... and no secret of any kind.
      const secrets: Record<string, string> = {
        'a created add-in key': key,
        'the bootstrap add-in key': system.addinKey,
        'a wrong add-in key': wrongKey,
        'an admin JWT': adminToken,
        'a viewer JWT': viewerToken,
        'a forged JWT': forged,
        'the JWT secret': DEV_JWT_SECRET,
        'the database password': databasePassword,
        ...Object.fromEntries(
          Object.entries(passwords).map(([user, pw]) => [`${user}'s broker password`, pw]),
        ),
      };
      const leaked = Object.entries(secrets)
        .filter(([, value]) => text.includes(value))
        .map(([what]) => `${what} (${lines.find((l) => l.line.includes(secrets[what]!))?.service})`);
      expect(leaked).toEqual([]);
    },
    90_000,
  );
});
