import { mcms } from './support/run-cli';

describe('mcms broker permissions', () => {
  it('prints one rabbitmqctl set_permissions per service and the operator, for the topology prefix', async () => {
    const run = await mcms(['broker', 'permissions', '--vhost', 'mcms', '--rabbitmqctl'], {
      MCMS_TOPOLOGY_PREFIX: 'plant-7.',
    });
    expect(run.code).toBe(0);
    const lines = run.stdout.trim().split('\n');
    expect(lines.map((line) => line.split("'")[3])).toEqual([
      'mcms-addin-gateway',
      'mcms-routing-worker',
      'mcms-history-service',
      'mcms-notification-service',
      'mcms-operator',
    ]);
    expect(lines[2]).toContain("'^(plant-7\\.history-service\\..+|amq\\.default)$'");
  });

  it('writes a definitions document with password hashes from the environment, never the passwords', async () => {
    const run = await mcms(['broker', 'permissions', '--vhost', 'mcms', '--definitions'], {
      MCMS_BROKER_PASSWORD_ADDIN_GATEWAY: 'gateway-password-1',
      MCMS_BROKER_PASSWORD_ROUTING_WORKER: 'routing-password-2',
    });
    expect(run.code).toBe(0);
    expect(run.stdout).not.toContain('password-1');
    expect(run.stdout).not.toContain('password-2');
    const definitions = JSON.parse(run.stdout) as {
      users: Array<{ name: string; password_hash: string }>;
      permissions: Array<{ user: string; vhost: string }>;
    };
    expect(definitions.users.map((u) => u.name)).toEqual(['mcms-addin-gateway', 'mcms-routing-worker']);
    expect(definitions.permissions.every((p) => p.vhost === 'mcms')).toBe(true);
    expect(run.stderr).toContain('MCMS_BROKER_PASSWORD_HISTORY_SERVICE is not set');
  });

  it('refuses two output formats at once', async () => {
    const run = await mcms(['broker', 'permissions', '--rabbitmqctl', '--definitions'], {});
    expect(run.code).toBe(2);
  });
});
