import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { AddinJobResultCommand, CONSUMER_QUEUES, EXCHANGES, type MessageOf } from '@mcms/contracts';
import { connectBroker, defineTopology, handlerFor, HEADERS, outgoing, type Broker } from '@mcms/messaging';
import { conflict } from '@mcms/platform';
import {
  AMQP_URL,
  captureLogger,
  deleteTopology,
  openAdmin,
  resultMessage,
  uniquePrefix,
  waitFor,
  type Admin,
} from '../../messaging/test/support/broker-harness';
import { mcms } from './support/run-cli';

// Two real consumer queues that both receive AddinJobResultCommand: a replay must reach only the first.
const RESULTS = CONSUMER_QUEUES.routingJobResults;
const HISTORY = CONSUMER_QUEUES.historyEvents;
const bindings = [{ exchange: EXCHANGES.commands, routingKey: AddinJobResultCommand.routingKey }];
const prefix = uniquePrefix();
const topology = defineTopology({
  prefix,
  queueType: 'classic',
  consumers: [
    { queue: RESULTS, bindings, retryDelaysMs: [50] },
    { queue: HISTORY, bindings, retryDelaysMs: [50] },
  ],
});
const dlq = topology.names.deadLetterQueue(RESULTS);

let admin: Admin;
let broker: Broker;
let auditDir: string;
let env: Record<string, string>;
/** routingId → the (non-retryable) error code the results consumer fails it with; absent = handled. */
const failing = new Map<string, string>();
const handled: Array<{ id: string; replayedBy: unknown }> = [];
const seenByHistory: string[] = [];

beforeAll(async () => {
  admin = await openAdmin();
  broker = await connectBroker({
    url: AMQP_URL,
    topology,
    log: captureLogger().log,
    connectionName: `${prefix}cli-test`,
  });
  broker.consume({
    queue: RESULTS,
    handlers: {
      [AddinJobResultCommand.type]: handlerFor(AddinJobResultCommand, async (message, ctx) => {
        const code = failing.get(message.payload.routingId);
        if (code !== undefined) throw conflict(code, `routing ${message.payload.routingId} refused`);
        handled.push({ id: message.messageId, replayedBy: ctx.headers[HEADERS.replayedBy] });
      }),
    },
  });
  broker.consume({
    queue: HISTORY,
    handlers: {
      [AddinJobResultCommand.type]: handlerFor(AddinJobResultCommand, async (message) => {
        seenByHistory.push(message.messageId);
      }),
    },
  });
  auditDir = mkdtempSync(path.join(tmpdir(), 'mcms-cli-'));
});

beforeEach(() => {
  env = {
    AMQP_URL,
    MCMS_TOPOLOGY_PREFIX: prefix,
    MCMS_QUEUE_TYPE: 'classic',
    MCMS_AUDIT_LOG: path.join(auditDir, `audit-${Math.random().toString(36).slice(2)}.jsonl`),
    USER: 'op-shell-user',
  };
});

afterEach(async () => {
  await admin.channel.purgeQueue(dlq);
});

afterAll(async () => {
  await broker?.close({ drainTimeoutMs: 2_000 });
  await deleteTopology(topology);
  await admin?.close();
  rmSync(auditDir, { recursive: true, force: true });
});

/** Publishes results the results queue dead-letters with `reason`; waits until they are all parked. */
async function deadLetter(reasons: string[]): Promise<Array<MessageOf<typeof AddinJobResultCommand>>> {
  const before = await admin.count(dlq);
  const sent = reasons.map((reason) => {
    const message = resultMessage();
    failing.set(message.payload.routingId, reason);
    return message;
  });
  for (const message of sent) await broker.publisher.publish(outgoing(AddinJobResultCommand, message));
  await waitFor(async () => (await admin.count(dlq)) === before + sent.length, { what: 'the dead letters' });
  await waitFor(() => sent.every((m) => seenByHistory.includes(m.messageId)), { what: 'the history copies' });
  return sent;
}

/** Lets the results consumer handle these from now on (the cause is fixed). */
function fix(messages: Array<MessageOf<typeof AddinJobResultCommand>>): void {
  for (const message of messages) failing.delete(message.payload.routingId);
}

/** Proves the history queue got nothing more than the originals: a sentinel it receives afterwards. */
async function expectHistoryUntouchedBy(ids: string[]): Promise<void> {
  const sentinel = resultMessage();
  await broker.publisher.publish(outgoing(AddinJobResultCommand, sentinel));
  await waitFor(() => seenByHistory.includes(sentinel.messageId), { what: 'the history sentinel' });
  for (const id of ids) expect(seenByHistory.filter((seen) => seen === id)).toHaveLength(1);
}

function auditLines(): Array<Record<string, unknown>> {
  return readFileSync(env.MCMS_AUDIT_LOG!, 'utf8')
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

describe('mcms dlq', () => {
  it('lists every queue with its dead-letter depth, and one queue’s letters with reason, type and attempts', async () => {
    const sent = await deadLetter(['routing_locked', 'routing_locked']);

    const overview = await mcms(['dlq', 'list'], env);
    expect(overview.code).toBe(0);
    expect(overview.stdout).toMatch(new RegExp(`${RESULTS.replace(/\./g, '\\.')}\\s+2\\s`));
    expect(overview.stdout).toMatch(
      new RegExp(`${CONSUMER_QUEUES.espritGeneration.replace(/\./g, '\\.')}\\s+missing`),
    );

    const table = await mcms(['dlq', 'list', '--queue', RESULTS], env);
    expect(table.code).toBe(0);
    expect(table.stdout).toContain('REASON');
    expect(table.stdout).toContain(sent[0]!.messageId);
    expect(table.stdout).toContain('routing_locked');

    const json = await mcms(['dlq', 'list', '--queue', RESULTS, '--json'], env);
    const letters = JSON.parse(json.stdout) as Array<Record<string, unknown>>;
    expect(letters.map((letter) => letter.messageId).sort()).toEqual(sent.map((m) => m.messageId).sort());
    expect(letters[0]).toMatchObject({
      type: AddinJobResultCommand.type,
      reason: 'routing_locked',
      attempts: 1,
      queue: topology.names.queue(RESULTS),
      firstFailureAt: expect.any(String),
      lastFailureAt: expect.any(String),
    });
    // Listing consumed nothing.
    await waitFor(async () => (await admin.count(dlq)) === 2, { what: 'the peeked letters to be back' });
  });

  it('replays one dead letter by message id to the originating queue only, and audits who, when and how many', async () => {
    const sent = await deadLetter(['routing_locked', 'routing_locked']);
    fix(sent);
    const target = sent[0]!.messageId;

    const run = await mcms(
      ['dlq', 'replay', '--queue', RESULTS, '--message-id', target, '--by', 'alice@plant'],
      env,
    );

    expect(run.code).toBe(0);
    expect(run.stdout).toContain('replayed 1 dead letter(s)');
    await waitFor(() => handled.some((h) => h.id === target), { what: 'the replayed copy to be handled' });
    expect(handled.find((h) => h.id === target)).toEqual({ id: target, replayedBy: 'alice@plant' });
    expect(handled.some((h) => h.id === sent[1]!.messageId)).toBe(false);
    await waitFor(async () => (await admin.count(dlq)) === 1, { what: 'the other letter to stay parked' });
    await expectHistoryUntouchedBy([target]);
    expect(auditLines()).toEqual([
      expect.objectContaining({
        action: 'dlq.replay',
        by: 'alice@plant',
        at: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
        queue: RESULTS,
        deadLetterQueue: dlq,
        replayed: 1,
        skipped: 1,
        failed: 0,
        messageIds: [target],
      }),
    ]);
  });

  it('replays by reason, then all the rest, as $USER when --by is not given', async () => {
    const locked = await deadLetter(['routing_locked', 'routing_locked']);
    const missing = await deadLetter(['routing_missing']);
    fix([...locked, ...missing]);

    const byReason = await mcms(
      ['dlq', 'replay', '--queue', RESULTS, '--reason', 'routing_missing', '--json'],
      env,
    );
    expect(byReason.code).toBe(0);
    expect(JSON.parse(byReason.stdout)).toMatchObject({
      replayed: 1,
      skipped: 2,
      replayedBy: 'op-shell-user',
    });
    await waitFor(() => handled.some((h) => h.id === missing[0]!.messageId), { what: 'the reason replay' });
    expect(handled.some((h) => locked.some((m) => m.messageId === h.id))).toBe(false);

    const all = await mcms(['dlq', 'replay', '--queue', RESULTS, '--all'], env);
    expect(all.code).toBe(0);
    expect(all.stdout).toContain('replayed 2 dead letter(s)');
    await waitFor(() => locked.every((m) => handled.some((h) => h.id === m.messageId)), { what: 'the rest' });
    await waitFor(async () => (await admin.count(dlq)) === 0, { what: 'an empty dead-letter queue' });
    await expectHistoryUntouchedBy([...locked, ...missing].map((m) => m.messageId));
    expect(auditLines().map((line) => [line.by, line.replayed])).toEqual([
      ['op-shell-user', 1],
      ['op-shell-user', 2],
    ]);
  });

  it('fails when a filter matches nothing, leaving every letter in place', async () => {
    await deadLetter(['routing_locked']);

    const run = await mcms(['dlq', 'replay', '--queue', RESULTS, '--reason', 'no_such_reason'], env);

    expect(run.code).toBe(1);
    expect(run.stderr).toContain('no dead letter matched');
    await waitFor(async () => (await admin.count(dlq)) === 1, { what: 'the letter to stay' });
  });

  it('purges with --yes, refuses without it when stdin is not a terminal, and asks on a terminal', async () => {
    await deadLetter(['routing_locked', 'routing_locked', 'routing_locked']);

    const refused = await mcms(['dlq', 'purge', '--queue', RESULTS], env);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('--yes');
    const declined = await mcms(['dlq', 'purge', '--queue', RESULTS], env, {
      stdinIsTTY: true,
      answer: 'no',
    });
    expect(declined.code).toBe(1);
    expect(declined.stderr).toContain(`Delete every dead letter in ${dlq}?`);
    expect(await admin.count(dlq)).toBe(3);

    const purged = await mcms(['dlq', 'purge', '--queue', RESULTS, '--yes', '--by', 'bob'], env);

    expect(purged.code).toBe(0);
    expect(purged.stdout).toContain('purged 3 dead letter(s)');
    expect(await admin.count(dlq)).toBe(0);
    expect(auditLines()).toEqual([
      expect.objectContaining({ action: 'dlq.purge', by: 'bob', deadLetterQueue: dlq, purged: 3 }),
    ]);
  });

  it('shows the depth of every work, retry and dead-letter queue in status', async () => {
    await deadLetter(['routing_locked']);

    const run = await mcms(['status', '--json'], { ...env, MCMS_RETRY_DELAYS: '50ms' });

    // The other services' queues don't exist under this test's prefix: status says so and fails.
    expect(run.code).toBe(1);
    const { queues } = JSON.parse(run.stdout) as { queues: Array<Record<string, unknown>> };
    expect(queues.filter((q) => q.queue === RESULTS)).toEqual([
      expect.objectContaining({
        role: 'work',
        name: topology.names.queue(RESULTS),
        messages: 0,
        consumers: 1,
      }),
      expect.objectContaining({ role: 'retry', name: topology.names.retryQueue(RESULTS, 50), messages: 0 }),
      expect.objectContaining({ role: 'dead-letter', name: dlq, messages: 1 }),
    ]);
    expect(queues.find((q) => q.queue === CONSUMER_QUEUES.espritGeneration)).toMatchObject({
      messages: null,
    });
  });

  it.each([
    [['frobnicate'], 'unknown command'],
    [['dlq', 'replay', '--all'], '--queue is required'],
    [['dlq', 'replay', '--queue', 'nope.queue', '--all'], 'unknown queue "nope.queue"'],
    [['dlq', 'replay', '--queue', RESULTS], 'choose what to replay'],
    [['dlq', 'replay', '--queue', RESULTS, '--all', '--reason', 'x'], 'choose what to replay'],
    [['dlq', 'list', '--limit', 'ten'], '--limit must be a whole number'],
    [['dlq', 'list', '--bogus'], 'bogus'],
    [['jobs', 'list', '--status', 'Done'], '--status must be one of'],
  ])('exits 2 with the usage for %j', async (args, message) => {
    const run = await mcms(args, env);

    expect(run.code).toBe(2);
    expect(run.stderr).toContain(message);
    expect(run.stderr).toContain('mcms dlq replay');
  });
});
