import { AddinJobResultCommand, EXCHANGES } from '@mcms/contracts';
import { conflict } from '@mcms/platform';
import { connectBroker } from '../src/broker';
import { handlerFor } from '../src/consumer';
import { peekDeadLetters, purgeDeadLetters, replayDeadLetters } from '../src/dead-letters';
import { HEADERS } from '../src/headers';
import { defineTopology } from '../src/topology';
import { outgoing } from '../src/types';
import {
  AMQP_URL,
  captureLogger,
  deleteTopology,
  openAdmin,
  resultMessage,
  uniquePrefix,
  waitFor,
  type Admin,
} from './support/broker-harness';

const RESULTS = 'routing-worker.addin-job-results';
const HISTORY = 'history-service.addin-job-results';
const bindings = [{ exchange: EXCHANGES.commands, routingKey: AddinJobResultCommand.routingKey }];

let admin: Admin;
beforeAll(async () => {
  admin = await openAdmin();
});
afterAll(async () => {
  await admin.close();
});

it('peeks, replays to the originating queue only with replayed-by, and purges dead letters', async () => {
  const prefix = uniquePrefix();
  const topology = defineTopology({
    prefix,
    consumers: [
      { queue: RESULTS, bindings, retryDelaysMs: [200] },
      { queue: HISTORY, bindings, retryDelaysMs: [200] },
    ],
  });
  const logs = captureLogger();
  const broker = await connectBroker({
    url: AMQP_URL,
    topology,
    log: logs.log,
    connectionName: `${prefix}dead-letter-test`,
  });
  try {
    const dlq = topology.names.deadLetterQueue(RESULTS);
    let locked = true;
    const results: Array<{ id: string; attempt: number; replayedBy: unknown; replayedAt: unknown }> = [];
    const history: string[] = [];
    broker.consume({
      queue: RESULTS,
      handlers: {
        [AddinJobResultCommand.type]: handlerFor(AddinJobResultCommand, async (message, ctx) => {
          results.push({
            id: message.messageId,
            attempt: ctx.attempt,
            replayedBy: ctx.headers[HEADERS.replayedBy],
            replayedAt: ctx.headers[HEADERS.replayedAt],
          });
          if (locked) throw conflict('routing_locked', `routing ${message.payload.routingId} is locked`);
        }),
      },
    });
    broker.consume({
      queue: HISTORY,
      handlers: {
        [AddinJobResultCommand.type]: handlerFor(AddinJobResultCommand, async (message) => {
          history.push(message.messageId);
        }),
      },
    });
    const sent = [resultMessage(), resultMessage(), resultMessage()];
    for (const message of sent) await broker.publisher.publish(outgoing(AddinJobResultCommand, message));
    await waitFor(async () => (await admin.count(dlq)) === 3, { what: 'three dead letters' });
    await waitFor(() => history.length === 3, { what: 'the other queue to see each message' });

    // Peek: everything an operator needs, and nothing consumed.
    const letters = await peekDeadLetters(broker, RESULTS, { limit: 10 });
    expect(letters.map((letter) => letter.messageId).sort()).toEqual(
      sent.map((message) => message.messageId).sort(),
    );
    const first = letters.find((letter) => letter.messageId === sent[0]?.messageId);
    expect(first).toMatchObject({
      type: AddinJobResultCommand.type,
      correlationId: sent[0]?.correlationId,
      reason: 'routing_locked',
      message: `routing_locked: routing ${sent[0]?.payload.routingId} is locked`,
      queue: topology.names.queue(RESULTS),
      originalRoutingKey: AddinJobResultCommand.routingKey,
      originalExchange: topology.names.exchange(EXCHANGES.commands),
      attempts: 1,
      body: sent[0],
    });
    expect(first?.firstFailureAt).toEqual(expect.any(String));
    expect(first?.lastFailureAt).toEqual(expect.any(String));
    expect(await peekDeadLetters(broker, RESULTS, { limit: 2 })).toHaveLength(2);
    // Nothing was consumed (a quorum queue's count catches up with returns shortly).
    await waitFor(async () => (await admin.count(dlq)) === 3, { what: 'the peeked letters to be back' });

    // Replay two of them once the cause is fixed.
    locked = false;
    const keep = sent[2]?.messageId;
    const outcome = await replayDeadLetters(broker, RESULTS, {
      filter: (letter) => letter.messageId !== keep,
      replayedBy: 'operator@plant',
    });
    expect(outcome).toMatchObject({ replayed: 2, skipped: 1, failed: 0, replayedBy: 'operator@plant' });
    const replayedIds = sent.slice(0, 2).map((message) => message.messageId);
    await waitFor(() => results.filter((r) => r.replayedBy !== undefined).length === 2, {
      what: 'the replays to be handled',
    });
    const replays = results.filter((r) => r.replayedBy !== undefined);
    expect(replays.map((r) => r.id).sort()).toEqual([...replayedIds].sort());
    for (const replay of replays) {
      expect(replay).toMatchObject({
        attempt: 1,
        replayedBy: 'operator@plant',
        replayedAt: outcome.replayedAt,
      });
    }
    expect(logs.messages('dead letters replayed')).toEqual([
      expect.objectContaining({ replayed: 2, skipped: 1, replayedBy: 'operator@plant' }),
    ]);
    // The other queue got nothing from the replay: a sentinel it receives afterwards proves it.
    const sentinel = resultMessage();
    await broker.publisher.publish(outgoing(AddinJobResultCommand, sentinel));
    await waitFor(() => history.includes(sentinel.messageId), { what: 'the sentinel' });
    expect(history.filter((id) => replayedIds.includes(id))).toHaveLength(2);
    // The skipped letter stayed in the dead-letter queue.
    await waitFor(async () => (await admin.count(dlq)) === 1, { what: 'only the skipped letter to remain' });
    expect((await peekDeadLetters(broker, RESULTS)).map((letter) => letter.messageId)).toEqual([keep]);

    expect(await purgeDeadLetters(broker, RESULTS)).toBe(1);
    expect(await admin.count(dlq)).toBe(0);
  } finally {
    await broker.close({ drainTimeoutMs: 2_000 });
    await deleteTopology(topology);
  }
});
