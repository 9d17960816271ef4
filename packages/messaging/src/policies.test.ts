import { defineTopology } from './topology';
import { poisonPolicies, rabbitmqctlSetPolicyArgs } from './policies';

const consumers = [
  { queue: 'routing-worker.addin-job-results', bindings: [], retryDelaysMs: [1000] },
  { queue: 'history-service.events', bindings: [], retryDelaysMs: [] },
];

it('gives each work queue, and only work queues, a delivery limit that dead-letters into its own DLQ', () => {
  const topology = defineTopology({ prefix: 'p1.', consumers });

  const policies = poisonPolicies(topology, { deliveryLimit: 5 });

  expect(policies).toEqual([
    {
      name: 'mcms-poison.p1.routing-worker.addin-job-results',
      pattern: '^p1\\.routing-worker\\.addin-job-results$',
      applyTo: 'queues',
      priority: 10,
      definition: {
        'delivery-limit': 5,
        'dead-letter-exchange': '',
        'dead-letter-routing-key': 'p1.routing-worker.addin-job-results.dlq',
        'dead-letter-strategy': 'at-least-once',
        overflow: 'reject-publish',
      },
    },
    expect.objectContaining({
      pattern: '^p1\\.history-service\\.events$',
      definition: expect.objectContaining({ 'dead-letter-routing-key': 'p1.history-service.events.dlq' }),
    }),
  ]);
  const pattern = new RegExp(policies[0]!.pattern);
  expect(pattern.test('p1.routing-worker.addin-job-results')).toBe(true);
  expect(pattern.test('p1.routing-worker.addin-job-results.dlq')).toBe(false);
  expect(pattern.test('p1xrouting-worker.addin-job-results')).toBe(false);
});

it('sets none on classic queues, which ignore delivery limits, and refuses a limit below 1', () => {
  expect(poisonPolicies(defineTopology({ queueType: 'classic', consumers }))).toEqual([]);
  expect(() => poisonPolicies(defineTopology({ consumers }), { deliveryLimit: 0 })).toThrow(/positive/);
});

it('renders a policy as rabbitmqctl set_policy arguments', () => {
  const [policy] = poisonPolicies(defineTopology({ consumers }), { deliveryLimit: 3 });

  expect(rabbitmqctlSetPolicyArgs(policy!)).toEqual([
    'set_policy',
    '--apply-to',
    'queues',
    '--priority',
    '10',
    'mcms-poison.routing-worker.addin-job-results',
    '^routing-worker\\.addin-job-results$',
    JSON.stringify(policy!.definition),
  ]);
});
