import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
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

describe('mcms broker policies --script', () => {
  it('is what deploy/rabbitmq/broker-policies.sh holds (regenerate it after a topology change)', async () => {
    const run = await mcms(['broker', 'policies', '--script'], {});
    const committed = readFileSync(
      path.join(__dirname, '..', '..', '..', 'deploy', 'rabbitmq', 'broker-policies.sh'),
      'utf8',
    );
    expect(run.code).toBe(0);
    expect(committed).toBe(run.stdout);
  });

  it('sets every work queue’s policy in the vhost it is given, on the real broker', async () => {
    const vhost = `mcms-policytest-${randomBytes(4).toString('hex')}`;
    const run = await mcms(['broker', 'policies', '--script', '--delivery-limit', '4'], {});
    execFileSync('rabbitmqctl', ['-q', 'add_vhost', vhost]);
    try {
      execFileSync('sh', ['-c', run.stdout], { env: { ...process.env, MCMS_BROKER_VHOST: vhost } });

      const listed = execFileSync(
        'rabbitmqctl',
        ['-q', 'list_policies', '-p', vhost, '--formatter', 'json'],
        {
          encoding: 'utf8',
        },
      );
      const policies = JSON.parse(listed) as { name: string; definition: string | Record<string, unknown> }[];
      expect(policies.map((p) => p.name).sort()).toEqual(queues.map((q) => `mcms-poison.${q}`).sort());
      // rabbitmqctl 3.10 lists a definition as a JSON string, later versions as an object.
      const limits = policies.map((p) => {
        const definition = typeof p.definition === 'string' ? JSON.parse(p.definition) : p.definition;
        return (definition as Record<string, unknown>)['delivery-limit'];
      });
      expect(limits).toEqual(queues.map(() => 4));
    } finally {
      execFileSync('rabbitmqctl', ['-q', 'delete_vhost', vhost]);
    }
  });

  it('refuses --script together with --json', async () => {
    const run = await mcms(['broker', 'policies', '--script', '--json'], {});
    expect(run.code).toBe(2);
  });
});
