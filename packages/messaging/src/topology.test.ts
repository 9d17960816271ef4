import { EXCHANGES } from '@mcms/contracts';
import { consumerDeclarations, defineTopology } from './topology';

const results = {
  queue: 'routing-worker.addin-job-results',
  bindings: [{ exchange: EXCHANGES.commands, routingKey: 'mcms.addin-job.result' }],
  retryDelaysMs: [1_000, 5_000, 5_000],
};
const history = {
  queue: 'history-service.events',
  bindings: [{ exchange: EXCHANGES.events, routingKey: 'mcms.#' }],
  retryDelaysMs: [1_000],
};

describe('defineTopology', () => {
  it('names the two topic exchanges and every queue with the prefix', () => {
    const topology = defineTopology({ prefix: 't-1.', consumers: [results] });
    expect(topology.exchanges).toEqual([
      { name: 't-1.mcms.commands', type: 'topic', durable: true },
      { name: 't-1.mcms.events', type: 'topic', durable: true },
    ]);
    expect(topology.queues.map((queue) => [queue.role, queue.name])).toEqual([
      ['work', 't-1.routing-worker.addin-job-results'],
      ['retry', 't-1.routing-worker.addin-job-results.retry.1000ms'],
      ['retry', 't-1.routing-worker.addin-job-results.retry.5000ms'],
      ['dead-letter', 't-1.routing-worker.addin-job-results.dlq'],
    ]);
    expect(topology.bindings).toEqual([
      {
        queue: 't-1.routing-worker.addin-job-results',
        exchange: 't-1.mcms.commands',
        routingKey: 'mcms.addin-job.result',
      },
    ]);
    expect(topology.names.exchange(EXCHANGES.events)).toBe('t-1.mcms.events');
    expect(topology.names.deadLetterQueue('x')).toBe('t-1.x.dlq');
  });

  it('uses no prefix by default', () => {
    const topology = defineTopology({ consumers: [results] });
    expect(topology.names.queue(results.queue)).toBe('routing-worker.addin-job-results');
    expect(topology.exchanges[0]?.name).toBe('mcms.commands');
  });

  it('makes every retry queue dead-letter back to its own work queue only, through the default exchange', () => {
    const topology = defineTopology({ prefix: 'p.', consumers: [results, history] });
    const retries = topology.queues.filter((queue) => queue.role === 'retry');
    expect(retries).toHaveLength(3);
    for (const retry of retries) {
      const origin = topology.names.queue(retry.consumerQueue);
      expect(retry.name.startsWith(`${origin}.retry.`)).toBe(true);
      expect(retry.arguments['x-dead-letter-exchange']).toBe('');
      expect(retry.arguments['x-dead-letter-routing-key']).toBe(origin);
      expect(retry.arguments['x-message-ttl']).toBe(Number(/\.retry\.(\d+)ms$/.exec(retry.name)?.[1]));
    }
    // Retry queues are never bound to an exchange: nothing but the consumer's copy reaches them.
    const bound = new Set(topology.bindings.map((binding) => binding.queue));
    for (const retry of retries) expect(bound.has(retry.name)).toBe(false);
  });

  it('declares quorum queues by default, with at-least-once dead-lettering out of retry queues', () => {
    const topology = defineTopology({ consumers: [results] });
    expect(topology.queueType).toBe('quorum');
    for (const queue of topology.queues) expect(queue.arguments['x-queue-type']).toBe('quorum');
    const retry = topology.queues.find((queue) => queue.role === 'retry');
    expect(retry?.arguments).toMatchObject({
      'x-dead-letter-strategy': 'at-least-once',
      'x-overflow': 'reject-publish',
    });
  });

  it('declares classic queues on request, without quorum-only arguments', () => {
    const topology = defineTopology({ queueType: 'classic', consumers: [results] });
    for (const queue of topology.queues) {
      expect(queue.arguments['x-queue-type']).toBeUndefined();
      expect(queue.arguments['x-dead-letter-strategy']).toBeUndefined();
      expect(queue.arguments['x-overflow']).toBeUndefined();
    }
    const retry = topology.queues.find((queue) => queue.role === 'retry');
    expect(retry?.arguments).toEqual({
      'x-message-ttl': 1_000,
      'x-dead-letter-exchange': '',
      'x-dead-letter-routing-key': 'routing-worker.addin-job-results',
    });
  });

  it('refuses a queue defined twice, a bad delay and an unknown exchange', () => {
    expect(() => defineTopology({ consumers: [results, results] })).toThrow(/defined twice/);
    expect(() => defineTopology({ consumers: [{ ...results, retryDelaysMs: [0] }] })).toThrow(
      /positive whole number/,
    );
    expect(() =>
      defineTopology({
        consumers: [{ ...results, bindings: [{ exchange: 'mcms.other' as never, routingKey: '#' }] }],
      }),
    ).toThrow(/unknown exchange/);
  });

  it('selects one consumer’s queues and bindings for re-asserting', () => {
    const topology = defineTopology({ prefix: 'p.', consumers: [results, history] });
    const part = consumerDeclarations(topology, history.queue);
    expect(part.queues.map((queue) => queue.name)).toEqual([
      'p.history-service.events',
      'p.history-service.events.retry.1000ms',
      'p.history-service.events.dlq',
    ]);
    expect(part.bindings).toEqual([
      { queue: 'p.history-service.events', exchange: 'p.mcms.events', routingKey: 'mcms.#' },
    ]);
    expect(part.exchanges).toHaveLength(2);
  });
});
