import { CONSUMER_QUEUES } from '@mcms/contracts';
import type { BrokerPolicy } from '@mcms/messaging';
import { mcms } from './support/run-cli';

const queues = Object.values(CONSUMER_QUEUES);

it('prints one rabbitmqctl set_policy per work queue, with the prefix and the delivery limit asked for', async () => {
  const run = await mcms(['broker', 'policies', '--delivery-limit', '7'], {
    MCMS_TOPOLOGY_PREFIX: 'plant1.',
  });

  expect(run.code).toBe(0);
  const lines = run.stdout.trim().split('\n');
  expect(lines).toHaveLength(queues.length);
  for (const queue of queues) {
    const line = lines.find((l) => l.includes(`mcms-poison.plant1.${queue} `));
    expect(line).toBeDefined();
    expect(line).toMatch(/^rabbitmqctl set_policy --apply-to queues --priority 10 /);
    expect(line).toContain(`"dead-letter-routing-key":"plant1.${queue}.dlq"`);
    expect(line).toContain('"delivery-limit":7');
  }
});

it('prints the same policies as JSON with --json', async () => {
  const run = await mcms(['broker', 'policies', '--json'], {});

  expect(run.code).toBe(0);
  const policies = JSON.parse(run.stdout) as BrokerPolicy[];
  expect(policies.map((p) => p.pattern).sort()).toEqual(
    queues.map((q) => `^${q.replace(/[.]/g, '\\.')}$`).sort(),
  );
  expect(policies.every((p) => p.definition['delivery-limit'] === 20)).toBe(true);
});

it('refuses for classic queues, which have no delivery limit, and a limit below 1', async () => {
  const classic = await mcms(['broker', 'policies'], { MCMS_QUEUE_TYPE: 'classic' });
  const zero = await mcms(['broker', 'policies', '--delivery-limit', '0'], {});

  expect(classic.code).toBe(1);
  expect(classic.stderr).toContain('classic');
  expect(zero.code).toBe(2);
});
