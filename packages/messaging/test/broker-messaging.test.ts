import { randomUUID } from 'node:crypto';
import { AddinJobResultCommand, EXCHANGES, type MessageOf } from '@mcms/contracts';
import { conflict, createMetrics, isAppError, unavailable, type Metrics } from '@mcms/platform';
import { connect, type GetMessage } from 'amqplib';
import { connectBroker, type Broker } from '../src/broker';
import { handlerFor, type HandlerContext } from '../src/consumer';
import { HEADERS } from '../src/headers';
import { createConfirmPublisher } from '../src/publisher';
import { defineTopology, type QueueType, type Topology } from '../src/topology';
import { outgoing } from '../src/types';
import {
  AMQP_URL,
  captureLogger,
  deferred,
  deleteTopology,
  openAdmin,
  resultMessage,
  uniquePrefix,
  waitFor,
  type Admin,
} from './support/broker-harness';

type Result = MessageOf<typeof AddinJobResultCommand>;

const RESULTS = 'routing-worker.addin-job-results';
const OTHER = 'history-service.addin-job-results';
const bindings = [{ exchange: EXCHANGES.commands, routingKey: AddinJobResultCommand.routingKey }];

let admin: Admin;
const cleanups: Array<() => Promise<void>> = [];

beforeAll(async () => {
  admin = await openAdmin();
});
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});
afterAll(async () => {
  await admin.close();
});

/** A broker of its own (own prefix, own queues) for one test, removed after it. */
async function startBroker(
  options: { retryDelaysMs?: number[]; queueType?: QueueType; otherQueue?: boolean; metrics?: Metrics } = {},
) {
  const prefix = uniquePrefix();
  const retryDelaysMs = options.retryDelaysMs ?? [200, 400];
  const topology: Topology = defineTopology({
    prefix,
    ...(options.queueType ? { queueType: options.queueType } : {}),
    consumers: [
      { queue: RESULTS, bindings, retryDelaysMs },
      ...(options.otherQueue ? [{ queue: OTHER, bindings, retryDelaysMs: [200] }] : []),
    ],
  });
  const logs = captureLogger();
  const broker: Broker = await connectBroker({
    url: AMQP_URL,
    topology,
    log: logs.log,
    connectionName: `${prefix}messaging-test`,
    ...(options.metrics ? { metrics: options.metrics } : {}),
  });
  cleanups.push(async () => {
    await broker.close({ drainTimeoutMs: 2_000 });
    await deleteTopology(topology);
  });
  return { broker, topology, logs, names: topology.names };
}

function headersOf(message: GetMessage): Record<string, unknown> {
  return message.properties.headers ?? {};
}

/** `count` messages waiting in the queue, and a spy on every channel's `ack`. */
async function queued(broker: Broker, names: Topology['names'], count: number) {
  const sent = Array.from({ length: count }, () => resultMessage());
  for (const message of sent) await broker.publisher.publish(outgoing(AddinJobResultCommand, message));
  await waitFor(async () => (await admin.count(names.queue(RESULTS))) === count, {
    what: 'every message queued',
  });
  const channelPrototype = Object.getPrototypeOf(admin.channel) as { ack: (...args: unknown[]) => void };
  return { sent, ack: jest.spyOn(channelPrototype, 'ack') };
}

describe('broker publish and consume', () => {
  it('delivers a typed AddinJobResultCommand to its handler and acks it', async () => {
    const metrics = createMetrics({ service: 'messaging-test', defaultMetrics: false });
    const { broker, names } = await startBroker({ metrics });
    const received = deferred<{ message: Result; ctx: HandlerContext }>();
    const consumer = broker.consume({
      queue: RESULTS,
      handlers: {
        [AddinJobResultCommand.type]: handlerFor(AddinJobResultCommand, async (message, ctx) => {
          received.resolve({ message, ctx });
        }),
      },
    });
    await consumer.ready;

    const sent = resultMessage();
    await broker.publisher.publish(outgoing(AddinJobResultCommand, sent));
    const { message, ctx } = await received.promise;

    expect(message).toEqual(sent);
    expect(message.payload.resultStatus).toBe('completed');
    expect(ctx).toMatchObject({ attempt: 1, redelivered: false, queue: RESULTS });
    expect(ctx.headers[HEADERS.attempt]).toBe(1);
    const consumed = metrics.registry.getSingleMetric('mcms_messages_consumed_total');
    await waitFor(
      async () => (await consumed?.get())?.values.find((v) => v.labels.outcome === 'ack')?.value === 1,
      {
        what: 'the ack to be counted',
      },
    );
    const published = await metrics.registry.getSingleMetric('mcms_messages_published_total')?.get();
    expect(published?.values).toEqual([
      expect.objectContaining({ labels: { exchange: EXCHANGES.commands }, value: 1 }),
    ]);
    // Acked, not merely received: nothing is left in the queue (an unacked message would show up here after close).
    await broker.close();
    expect(await admin.count(names.queue(RESULTS))).toBe(0);
  });

  it('rejects an unroutable publish with a non-retryable unroutable error while routable ones succeed', async () => {
    const { broker } = await startBroker();
    const routable = resultMessage();
    const unroutable = resultMessage();
    const outcomes = await Promise.allSettled([
      broker.publisher.publish(outgoing(AddinJobResultCommand, routable)),
      broker.publisher.publish({
        exchange: EXCHANGES.events,
        routingKey: 'nobody.listens.here',
        envelope: unroutable,
      }),
      broker.publisher.publish(outgoing(AddinJobResultCommand, resultMessage())),
    ]);

    expect(outcomes.map((outcome) => outcome.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    const reason = (outcomes[1] as PromiseRejectedResult).reason as unknown;
    expect(isAppError(reason)).toBe(true);
    expect(reason).toMatchObject({ code: 'unroutable', retryable: false });
  });

  it('retries a retryable failure through the delay queues and succeeds on attempt 3', async () => {
    const { broker, logs } = await startBroker({ retryDelaysMs: [200, 400] });
    const attempts: Array<{ attempt: number; at: number; headers: Readonly<Record<string, unknown>> }> = [];
    const done = deferred();
    broker.consume({
      queue: RESULTS,
      handlers: {
        [AddinJobResultCommand.type]: handlerFor(AddinJobResultCommand, async (_message, ctx) => {
          attempts.push({ attempt: ctx.attempt, at: performance.now(), headers: ctx.headers });
          if (ctx.attempt < 3) throw unavailable('the shared drive is unreachable');
          done.resolve();
        }),
      },
    });

    await broker.publisher.publish(outgoing(AddinJobResultCommand, resultMessage()));
    await done.promise;

    expect(attempts.map((a) => a.attempt)).toEqual([1, 2, 3]);
    const [first, second, third] = attempts as [
      (typeof attempts)[0],
      (typeof attempts)[0],
      (typeof attempts)[0],
    ];
    const gaps = [second.at - first.at, third.at - second.at];
    expect(gaps[0]).toBeGreaterThanOrEqual(200);
    expect(gaps[1]).toBeGreaterThanOrEqual(400);
    expect(third.headers[HEADERS.firstFailureAt]).toBe(second.headers[HEADERS.firstFailureAt]);
    expect(third.headers[HEADERS.lastError]).toMatch(/^dependency_unavailable: the shared drive/);
    expect(logs.messages('message failed; retrying later').map((line) => line.delayMs)).toEqual([200, 400]);
    console.log(
      `retry gaps measured: ${gaps.map((gap) => Math.round(gap)).join(' ms, ')} ms (configured 200, 400)`,
    );
  });

  it('dead-letters a message whose retries are exhausted, with every header an operator needs', async () => {
    const { broker, names, logs } = await startBroker({ retryDelaysMs: [200, 400] });
    let calls = 0;
    broker.consume({
      queue: RESULTS,
      handlers: {
        [AddinJobResultCommand.type]: handlerFor(AddinJobResultCommand, async () => {
          calls++;
          throw new Error('drive W: unreachable');
        }),
      },
    });
    const sent = resultMessage();
    await broker.publisher.publish(outgoing(AddinJobResultCommand, sent));

    const dead = await admin.take(names.deadLetterQueue(RESULTS));
    const headers = headersOf(dead);
    expect(calls).toBe(3);
    expect(JSON.parse(dead.content.toString())).toEqual(sent);
    expect(dead.properties).toMatchObject({
      messageId: sent.messageId,
      type: sent.type,
      correlationId: sent.correlationId,
    });
    expect(headers).toMatchObject({
      [HEADERS.deadLetterReason]: 'retries-exhausted',
      [HEADERS.originalExchange]: names.exchange(EXCHANGES.commands),
      [HEADERS.originalRoutingKey]: AddinJobResultCommand.routingKey,
      [HEADERS.queue]: names.queue(RESULTS),
      [HEADERS.attempts]: 3,
    });
    expect(headers[HEADERS.deadLetterMessage]).toBe('Error: drive W: unreachable');
    const first = Date.parse(String(headers[HEADERS.firstFailureAt]));
    const last = Date.parse(String(headers[HEADERS.lastFailureAt]));
    expect(Number.isNaN(first) || Number.isNaN(last)).toBe(false);
    expect(last - first).toBeGreaterThanOrEqual(600 - 5);
    expect(headers['x-death']).toBeUndefined();
    expect(logs.messages('message dead-lettered')).toEqual([
      expect.objectContaining({
        level: 'error',
        messageId: sent.messageId,
        reason: 'retries-exhausted',
        attempts: 3,
      }),
    ]);
  });

  it('dead-letters a non-retryable failure at once under its code', async () => {
    const { broker, names } = await startBroker();
    let calls = 0;
    broker.consume({
      queue: RESULTS,
      handlers: {
        [AddinJobResultCommand.type]: handlerFor(AddinJobResultCommand, async () => {
          calls++;
          throw conflict('job_already_completed', 'job 7 is already completed');
        }),
      },
    });
    await broker.publisher.publish(outgoing(AddinJobResultCommand, resultMessage()));

    const dead = await admin.take(names.deadLetterQueue(RESULTS));
    expect(calls).toBe(1);
    expect(headersOf(dead)).toMatchObject({
      [HEADERS.deadLetterReason]: 'job_already_completed',
      [HEADERS.deadLetterMessage]: 'job_already_completed: job 7 is already completed',
      [HEADERS.attempts]: 1,
    });
  });

  it('dead-letters an invalid payload at once, without calling the handler or retrying', async () => {
    const metrics = createMetrics({ service: 'messaging-test', defaultMetrics: false });
    const { broker, names } = await startBroker({ metrics });
    let calls = 0;
    broker.consume({
      queue: RESULTS,
      handlers: {
        [AddinJobResultCommand.type]: handlerFor(AddinJobResultCommand, async () => {
          calls++;
        }),
      },
    });
    const valid = resultMessage();
    const invalid = {
      ...valid,
      payload: { ...valid.payload, jobId: 'not-a-uuid', outputs: [{ path: '../escape.nc' }] },
    };
    await broker.publisher.publish({
      exchange: EXCHANGES.commands,
      routingKey: AddinJobResultCommand.routingKey,
      envelope: invalid,
    });

    const dead = await admin.take(names.deadLetterQueue(RESULTS));
    const headers = headersOf(dead);
    expect(headers[HEADERS.deadLetterReason]).toBe('invalid-message');
    expect(headers[HEADERS.deadLetterMessage]).toMatch(/payload\.jobId/);
    expect(headers[HEADERS.deadLetterMessage]).toMatch(/payload\.outputs\.0\.path/);
    expect(headers[HEADERS.attempts]).toBe(1);
    expect(headers[HEADERS.firstFailureAt]).toBe(headers[HEADERS.lastFailureAt]);
    expect(calls).toBe(0);
    const consumed = await metrics.registry.getSingleMetric('mcms_messages_consumed_total')?.get();
    expect(consumed?.values.map((v) => [v.labels.outcome, v.value])).toEqual([['dead_letter', 1]]);
    for (const delay of [200, 400]) expect(await admin.count(names.retryQueue(RESULTS, delay))).toBe(0);
  });

  it('dead-letters a body that is not JSON, and an unknown message type', async () => {
    const { broker, names } = await startBroker();
    broker.consume({
      queue: RESULTS,
      handlers: { [AddinJobResultCommand.type]: handlerFor(AddinJobResultCommand, async () => {}) },
    });
    await broker.publisher.publishToQueue(names.queue(RESULTS), Buffer.from('{not json'), {
      messageId: 'garbage-1',
    });
    const unknown = { ...resultMessage(), type: 'mcms.addin-job.cancelled' };
    await broker.publisher.publish({
      exchange: EXCHANGES.commands,
      routingKey: AddinJobResultCommand.routingKey,
      envelope: unknown,
    });

    const first = await admin.take(names.deadLetterQueue(RESULTS));
    const second = await admin.take(names.deadLetterQueue(RESULTS));
    const byId = new Map([first, second].map((m) => [m.properties.messageId as string, headersOf(m)]));
    expect(byId.get('garbage-1')).toMatchObject({
      [HEADERS.deadLetterReason]: 'invalid-message',
      [HEADERS.deadLetterMessage]: 'the body is not JSON',
    });
    expect(byId.get(unknown.messageId)).toMatchObject({
      [HEADERS.deadLetterReason]: 'unknown-message-type',
      [HEADERS.deadLetterMessage]: expect.stringContaining('mcms.addin-job.cancelled'),
    });
  });

  it('dead-letters a valid envelope whose content type is not JSON, or whose type property is not its body type', async () => {
    const { broker, names } = await startBroker();
    let calls = 0;
    broker.consume({
      queue: RESULTS,
      handlers: {
        [AddinJobResultCommand.type]: handlerFor(AddinJobResultCommand, async () => {
          calls++;
        }),
      },
    });
    const textPlain = resultMessage();
    const mislabelled = resultMessage();
    await broker.publisher.publishToQueue(names.queue(RESULTS), Buffer.from(JSON.stringify(textPlain)), {
      messageId: textPlain.messageId,
      contentType: 'text/plain',
      type: textPlain.type,
    });
    await broker.publisher.publishToQueue(names.queue(RESULTS), Buffer.from(JSON.stringify(mislabelled)), {
      messageId: mislabelled.messageId,
      contentType: 'application/json',
      type: 'mcms.addin-job.cancelled',
    });

    const first = await admin.take(names.deadLetterQueue(RESULTS));
    const second = await admin.take(names.deadLetterQueue(RESULTS));
    const byId = new Map([first, second].map((m) => [m.properties.messageId as string, headersOf(m)]));
    expect(byId.get(textPlain.messageId)).toMatchObject({
      [HEADERS.deadLetterReason]: 'invalid-message',
      [HEADERS.deadLetterMessage]: 'content-type text/plain is not application/json',
    });
    expect(byId.get(mislabelled.messageId)).toMatchObject({
      [HEADERS.deadLetterReason]: 'invalid-message',
      [HEADERS.deadLetterMessage]: expect.stringContaining('mcms.addin-job.cancelled'),
    });
    expect(calls).toBe(0);
  });

  it('returns a retry to the originating queue only, even when another queue is bound to the same key', async () => {
    const { broker } = await startBroker({ otherQueue: true, retryDelaysMs: [200] });
    const seenByResults: Array<{ id: string; attempt: number }> = [];
    const seenByOther: string[] = [];
    broker.consume({
      queue: RESULTS,
      handlers: {
        [AddinJobResultCommand.type]: handlerFor(AddinJobResultCommand, async (message, ctx) => {
          seenByResults.push({ id: message.messageId, attempt: ctx.attempt });
          if (ctx.attempt === 1 && message.payload.resultStatus === 'failed') throw unavailable('try later');
        }),
      },
    });
    broker.consume({
      queue: OTHER,
      handlers: {
        [AddinJobResultCommand.type]: handlerFor(AddinJobResultCommand, async (message) => {
          seenByOther.push(message.messageId);
        }),
      },
    });
    const retried = resultMessage();
    retried.payload.resultStatus = 'failed';
    await broker.publisher.publish(outgoing(AddinJobResultCommand, retried));
    await waitFor(() => seenByResults.some((seen) => seen.id === retried.messageId && seen.attempt === 2), {
      what: 'the retry to come back',
    });
    // A sentinel published after the retry came back: once the other queue has it, anything a
    // fanned-out retry had put there before it has been handled too (one queue is FIFO).
    const sentinel = resultMessage();
    await broker.publisher.publish(outgoing(AddinJobResultCommand, sentinel));
    await waitFor(() => seenByOther.includes(sentinel.messageId), { what: 'the sentinel' });

    expect(seenByOther.filter((id) => id === retried.messageId)).toHaveLength(1);
    expect(seenByResults.filter((seen) => seen.id === retried.messageId).map((seen) => seen.attempt)).toEqual(
      [1, 2],
    );
  });

  it('retries and dead-letters the same way with classic queues', async () => {
    const { broker, names, topology } = await startBroker({ queueType: 'classic', retryDelaysMs: [200] });
    expect(topology.queueType).toBe('classic');
    const attempts: number[] = [];
    broker.consume({
      queue: RESULTS,
      handlers: {
        [AddinJobResultCommand.type]: handlerFor(AddinJobResultCommand, async (_message, ctx) => {
          attempts.push(ctx.attempt);
          throw unavailable('still down');
        }),
      },
    });
    await broker.publisher.publish(outgoing(AddinJobResultCommand, resultMessage()));

    const dead = await admin.take(names.deadLetterQueue(RESULTS));
    expect(attempts).toEqual([1, 2]);
    expect(headersOf(dead)).toMatchObject({
      [HEADERS.deadLetterReason]: 'retries-exhausted',
      [HEADERS.attempts]: 2,
    });
  });

  it('refuses a retry policy whose delays have no retry queue', async () => {
    const { broker } = await startBroker({ retryDelaysMs: [200] });
    expect(() =>
      broker.consume({
        queue: RESULTS,
        policy: { delaysMs: [200, 999] },
        handlers: { [AddinJobResultCommand.type]: handlerFor(AddinJobResultCommand, async () => {}) },
      }),
    ).toThrow(/999 ms .* has no retry queue/);
    expect(() => broker.consume({ queue: `unknown-${randomUUID()}`, handlers: {} })).toThrow(
      /is not in the topology/,
    );
  });

  it('keeps at most maxInFlight messages unconfirmed and sends the rest as confirms arrive', async () => {
    const { topology, names } = await startBroker();
    const connection = await connect(AMQP_URL);
    cleanups.push(() => connection.close().catch(() => {}));
    const publisher = createConfirmPublisher({
      names: topology.names,
      log: captureLogger().log,
      appId: 'window-test',
      options: { maxInFlight: 4 },
      onChannelLost: () => {},
    });
    cleanups.push(async () => publisher.close());
    await publisher.attach(connection);

    const sent = Array.from({ length: 200 }, () => resultMessage());
    let highest = 0;
    const publishes = sent.map((message) => {
      const confirmed = publisher.publish(outgoing(AddinJobResultCommand, message));
      highest = Math.max(highest, publisher.inFlight());
      return confirmed.then(() => {
        highest = Math.max(highest, publisher.inFlight());
      });
    });
    expect(publisher.inFlight()).toBe(4);
    await Promise.all(publishes);

    expect(highest).toBe(4);
    expect(publisher.inFlight()).toBe(0);
    expect(await admin.count(names.queue(RESULTS))).toBe(200);
  });

  it('reopens its publisher channel after the broker closes it, re-creating a deleted exchange', async () => {
    const { broker, names, logs } = await startBroker();
    const received: string[] = [];
    broker.consume({
      queue: RESULTS,
      handlers: {
        [AddinJobResultCommand.type]: handlerFor(AddinJobResultCommand, async (message) => {
          received.push(message.messageId);
        }),
      },
    });
    await admin.channel.deleteExchange(names.exchange(EXCHANGES.commands));

    // Publishing to the missing exchange makes the broker close the channel (404): retryable.
    await expect(
      broker.publisher.publish(outgoing(AddinJobResultCommand, resultMessage())),
    ).rejects.toMatchObject({
      code: 'broker_unavailable',
      retryable: true,
      message: expect.stringContaining('NOT_FOUND'),
    });
    await waitFor(() => logs.messages('publisher channel closed by the broker').length === 1, {
      what: 'the channel error',
    });
    // The next publish waits for the reopened channel and the re-created exchange and binding.
    const after = resultMessage();
    await broker.publisher.publish(outgoing(AddinJobResultCommand, after));
    await waitFor(() => received.includes(after.messageId), { what: 'the message published after recovery' });
    expect(broker.health().connected).toBe(true);
  });

  it('stops one consumer on request while the broker keeps publishing', async () => {
    const { broker, names } = await startBroker();
    const received: string[] = [];
    const consumer = broker.consume({
      queue: RESULTS,
      handlers: {
        [AddinJobResultCommand.type]: handlerFor(AddinJobResultCommand, async (message) => {
          received.push(message.messageId);
        }),
      },
    });
    await consumer.ready;
    await consumer.stop();

    expect(broker.health()).toEqual({ connected: true, consumers: [] });
    await broker.publisher.publish(outgoing(AddinJobResultCommand, resultMessage()));
    await waitFor(async () => (await admin.count(names.queue(RESULTS))) === 1, {
      what: 'the message to wait in the queue',
    });
    expect(received).toEqual([]);
  });
});

describe('acks of one-at-a-time handlers', () => {
  afterEach(() => {
    jest.restoreAllMocks();
  });

  it('acks the messages whose handlers end in the same turn with one multiple frame', async () => {
    const { broker, names } = await startBroker();
    const { ack } = await queued(broker, names, 8);
    const gate = deferred();
    let started = 0;
    const consumer = broker.consume({
      queue: RESULTS,
      prefetch: 8,
      handlers: {
        [AddinJobResultCommand.type]: handlerFor(AddinJobResultCommand, async () => {
          started++;
          await gate.promise;
        }),
      },
    });
    await consumer.ready;
    await waitFor(async () => started === 8, { what: 'all eight handlers running' });
    gate.resolve();

    await waitFor(async () => ack.mock.calls.length > 0, { what: 'the ack' });
    expect(ack.mock.calls).toEqual([[expect.objectContaining({ fields: expect.anything() }), true]]);
    await broker.close();
    expect(await admin.count(names.queue(RESULTS))).toBe(0);
  });

  it('never acks an older delivery whose handler is still running: it returns to the queue on close', async () => {
    const { broker, names } = await startBroker();
    const { sent, ack } = await queued(broker, names, 3);
    const gate = deferred();
    const handled: string[] = [];
    const consumer = broker.consume({
      queue: RESULTS,
      prefetch: 3,
      handlers: {
        [AddinJobResultCommand.type]: handlerFor(AddinJobResultCommand, async (message) => {
          // The first delivery holds on; the two after it end at once.
          if (message.messageId === sent[0]!.messageId) await gate.promise;
          handled.push(message.messageId);
        }),
      },
    });
    await consumer.ready;
    await waitFor(async () => handled.length === 2 && ack.mock.calls.length > 0, {
      what: 'the two later messages acked',
    });

    // Each alone: a multiple ack of the third tag would have acked the first with it.
    expect(ack.mock.calls.map((call) => call[1] === true)).toEqual([false, false]);
    await broker.close({ drainTimeoutMs: 100 });
    // The broker requeues it once the channel's close reaches it.
    await waitFor(async () => (await admin.count(names.queue(RESULTS))) > 0, {
      what: 'a message back in the queue',
    });
    expect(await admin.count(names.queue(RESULTS))).toBe(1);
    gate.resolve();
  });
});

describe('batched consumption', () => {
  afterEach(() => {
    jest.restoreAllMocks();
  });

  it('hands a batch of N validated messages to the batch handler at once and acks them with one frame', async () => {
    const { broker, names } = await startBroker();
    const { sent, ack } = await queued(broker, names, 8);
    const batches: string[][] = [];
    let single = 0;
    const consumer = broker.consume({
      queue: RESULTS,
      prefetch: 8,
      handlers: {
        [AddinJobResultCommand.type]: handlerFor(AddinJobResultCommand, async () => {
          single++;
        }),
      },
      batch: {
        maxMessages: 8,
        maxWaitMs: 5_000,
        handle: async (items) => {
          batches.push(items.map((item) => item.message.messageId));
        },
      },
    });
    await consumer.ready;

    await waitFor(async () => batches.length === 1, { what: 'one batch' });
    expect(batches[0]).toEqual(sent.map((message) => message.messageId));
    expect(single).toBe(0);
    await waitFor(async () => ack.mock.calls.length > 0, { what: 'the ack' });
    expect(ack.mock.calls).toEqual([[expect.objectContaining({ fields: expect.anything() }), true]]);
    await broker.close();
    expect(await admin.count(names.queue(RESULTS))).toBe(0);
  });

  it('after a batch handler throws, handles each message alone: the poison one is dead-lettered, the others handled once', async () => {
    const { broker, names, logs } = await startBroker({ retryDelaysMs: [200] });
    const sent = Array.from({ length: 5 }, () => resultMessage());
    const poison = sent[2] as Result;
    const invalid = { ...resultMessage(), payload: { ...resultMessage().payload, jobId: 'not-a-uuid' } };
    for (const message of sent) await broker.publisher.publish(outgoing(AddinJobResultCommand, message));
    await broker.publisher.publish({
      exchange: EXCHANGES.commands,
      routingKey: AddinJobResultCommand.routingKey,
      envelope: invalid,
    });
    await waitFor(async () => (await admin.count(names.queue(RESULTS))) === 6, {
      what: 'every message queued',
    });
    const handledAlone: string[] = [];
    const batchSizes: number[] = [];
    broker.consume({
      queue: RESULTS,
      prefetch: 10,
      handlers: {
        [AddinJobResultCommand.type]: handlerFor(AddinJobResultCommand, async (message) => {
          if (message.messageId === poison.messageId)
            throw conflict('poison', 'this one can never be applied');
          handledAlone.push(message.messageId);
        }),
      },
      batch: {
        maxMessages: 10,
        maxWaitMs: 1_000, // generous: the five must share one batch even on a loaded machine
        handle: async (items) => {
          batchSizes.push(items.length);
          if (items.some((item) => item.message.messageId === poison.messageId)) {
            throw new Error('one of the batch is poison');
          }
        },
      },
    });

    const dead = [
      await admin.take(names.deadLetterQueue(RESULTS)),
      await admin.take(names.deadLetterQueue(RESULTS)),
    ];
    const reasons = new Map(dead.map((m) => [m.properties.messageId as string, headersOf(m)]));
    expect(reasons.get(poison.messageId)).toMatchObject({ [HEADERS.deadLetterReason]: 'poison' });
    expect(reasons.get(invalid.messageId)).toMatchObject({ [HEADERS.deadLetterReason]: 'invalid-message' });
    await waitFor(async () => handledAlone.length === 4, { what: 'the four good messages handled' });
    expect(handledAlone.sort()).toEqual(
      sent
        .filter((m) => m !== poison)
        .map((m) => m.messageId)
        .sort(),
    );
    // The invalid message never reached the batch; the valid five did, together.
    expect(batchSizes).toEqual([5]);
    expect(logs.messages('batch handler failed; handling its messages one at a time')).toHaveLength(1);
    await broker.close();
    expect(await admin.count(names.queue(RESULTS))).toBe(0);
    expect(await admin.count(names.retryQueue(RESULTS, 200))).toBe(0);
    expect(await admin.count(names.deadLetterQueue(RESULTS))).toBe(0);
  });

  it('retries through the tiers only the message a batch handler left for its own handler', async () => {
    const { broker, names } = await startBroker({ retryDelaysMs: [200] });
    const sent = Array.from({ length: 4 }, () => resultMessage());
    const flaky = sent[1] as Result;
    for (const message of sent) await broker.publisher.publish(outgoing(AddinJobResultCommand, message));
    await waitFor(async () => (await admin.count(names.queue(RESULTS))) === 4, {
      what: 'every message queued',
    });
    const inBatch: string[] = [];
    const alone: Array<{ id: string; attempt: number }> = [];
    broker.consume({
      queue: RESULTS,
      prefetch: 4,
      handlers: {
        [AddinJobResultCommand.type]: handlerFor(AddinJobResultCommand, async (message, ctx) => {
          alone.push({ id: message.messageId, attempt: ctx.attempt });
          if (ctx.attempt === 1) throw unavailable('the shared drive is unreachable');
        }),
      },
      batch: {
        maxMessages: 4,
        maxWaitMs: 200,
        handle: async (items) => {
          // The retried copy arrives alone, a batch of one, and is handled there.
          const left =
            items.length === 1 ? [] : items.filter((item) => item.message.messageId === flaky.messageId);
          for (const item of items) if (!left.includes(item)) inBatch.push(item.message.messageId);
          return left;
        },
      },
    });

    await waitFor(async () => inBatch.length === 4, { what: 'every message handled once by a batch' });
    expect(inBatch.slice(0, 3).sort()).toEqual(
      sent
        .filter((m) => m !== flaky)
        .map((m) => m.messageId)
        .sort(),
    );
    expect(inBatch[3]).toBe(flaky.messageId);
    expect(alone).toEqual([{ id: flaky.messageId, attempt: 1 }]);
    await broker.close();
    expect(await admin.count(names.queue(RESULTS))).toBe(0);
    expect(await admin.count(names.deadLetterQueue(RESULTS))).toBe(0);
  });

  it('refuses a batch larger than the prefetch, which could never fill', async () => {
    const { broker } = await startBroker();
    expect(() =>
      broker.consume({
        queue: RESULTS,
        prefetch: 4,
        handlers: { [AddinJobResultCommand.type]: handlerFor(AddinJobResultCommand, async () => {}) },
        batch: { maxMessages: 8, maxWaitMs: 5, handle: async () => {} },
      }),
    ).toThrow('exceeds its prefetch');
  });
});
