// A message whose handler kills the consumer before its ack returns to the queue every time; the
// delivery-limit policy (poisonPolicies) ends that loop in the consumer's dead-letter queue.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { AddinJobResultCommand, EXCHANGES } from '@mcms/contracts';
import { connect, type Channel } from 'amqplib';
import { connectBroker } from '../src/broker';
import { handlerFor } from '../src/consumer';
import { peekDeadLetters, replayDeadLetters } from '../src/dead-letters';
import { poisonPolicies, rabbitmqctlSetPolicyArgs } from '../src/policies';
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

const run = promisify(execFile);
const RESULTS = 'routing-worker.addin-job-results';
const bindings = [{ exchange: EXCHANGES.commands, routingKey: AddinJobResultCommand.routingKey }];
const DELIVERY_LIMIT = 3;

let admin: Admin;
beforeAll(async () => {
  admin = await openAdmin();
});
afterAll(async () => {
  await admin.close();
});

it('dead-letters a message that crashes its consumer before every ack once the delivery limit is reached, and replays it', async () => {
  const prefix = uniquePrefix();
  const topology = defineTopology({
    prefix,
    consumers: [{ queue: RESULTS, bindings, retryDelaysMs: [200] }],
  });
  const broker = await connectBroker({
    url: AMQP_URL,
    topology,
    log: captureLogger().log,
    connectionName: `${prefix}poison-test`,
  });
  const policies = poisonPolicies(topology, { deliveryLimit: DELIVERY_LIMIT });
  const crashing = await connect(AMQP_URL, { clientProperties: { connection_name: `${prefix}crashing` } });
  crashing.on('error', () => undefined);
  let stopped = false;
  try {
    for (const policy of policies) await run('rabbitmqctl', [...rabbitmqctlSetPolicyArgs(policy), '-q']);
    const poison = resultMessage();
    await broker.publisher.publish(outgoing(AddinJobResultCommand, poison));

    // Like a process that dies inside the handler: the channel goes away with the message unacked,
    // the broker returns it to the queue, and the next consumer gets it again.
    let deliveries = 0;
    const consumeUntilCrash = async (): Promise<void> => {
      if (stopped) return;
      const channel: Channel = await crashing.createChannel();
      channel.on('error', () => undefined);
      await channel.prefetch(1);
      await channel.consume(topology.names.queue(RESULTS), (msg) => {
        if (msg === null) return;
        deliveries += 1;
        void channel
          .close()
          .catch(() => undefined)
          .then(consumeUntilCrash);
      });
    };
    await consumeUntilCrash();

    const dlq = topology.names.deadLetterQueue(RESULTS);
    await waitFor(async () => (await admin.count(dlq)) === 1, { what: 'the poison message in the DLQ' });
    stopped = true;
    expect(deliveries).toBeGreaterThanOrEqual(DELIVERY_LIMIT);
    expect(deliveries).toBeLessThanOrEqual(DELIVERY_LIMIT + 1);
    expect(await admin.count(topology.names.queue(RESULTS))).toBe(0);

    const [letter] = await peekDeadLetters(broker, RESULTS);
    expect(letter).toMatchObject({
      messageId: poison.messageId,
      reason: 'delivery_limit',
      queue: topology.names.queue(RESULTS),
      message: expect.stringContaining('delivery limit'),
    });

    // Fixed (here: a handler that no longer crashes), the operator replays it like any dead letter.
    await crashing.close();
    const handled: string[] = [];
    broker.consume({
      queue: RESULTS,
      handlers: {
        [AddinJobResultCommand.type]: handlerFor(AddinJobResultCommand, async (message) => {
          handled.push(message.messageId);
        }),
      },
    });
    const replay = await replayDeadLetters(broker, RESULTS, { replayedBy: 'poison-test' });
    expect(replay.replayed).toBe(1);
    await waitFor(() => handled.includes(poison.messageId), { what: 'the replayed message to be handled' });
  } finally {
    stopped = true;
    await crashing.close().catch(() => undefined);
    for (const policy of policies)
      await run('rabbitmqctl', ['clear_policy', policy.name, '-q']).catch(() => undefined);
    await broker.close();
    await deleteTopology(topology);
  }
});
