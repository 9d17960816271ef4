import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { mcms } from './support/run-cli';

const exec = promisify(execFile);

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

describe('mcms broker permissions --script', () => {
  it('is what deploy/rabbitmq/broker-users.sh holds (regenerate it after a topology change)', async () => {
    const run = await mcms(['broker', 'permissions', '--script'], {});
    const committed = readFileSync(
      path.join(__dirname, '..', '..', '..', 'deploy', 'rabbitmq', 'broker-users.sh'),
      'utf8',
    );
    expect(committed).toBe(run.stdout);
  });

  it('creates users that log in with the passwords of the environment and get exactly their permissions', async () => {
    const id = randomBytes(4).toString('hex');
    const userPrefix = `mcms-clitest-${id}-`;
    const vhost = `mcms-clitest-${id}`;
    const run = await mcms(['broker', 'permissions', '--script', '--user-prefix', userPrefix], {});
    const users = ['addin-gateway', 'routing-worker', 'history-service', 'notification-service', 'operator'];
    const passwords = Object.fromEntries(
      users.map((u) => [
        `MCMS_BROKER_PASSWORD_${u.replace(/-/g, '_').toUpperCase()}`,
        randomBytes(12).toString('hex'),
      ]),
    );
    try {
      await exec('sh', ['-c', run.stdout], {
        env: { PATH: process.env.PATH, MCMS_BROKER_VHOST: vhost, ...passwords },
        timeout: 120_000,
      });
      await exec('rabbitmqctl', [
        '-q',
        'authenticate_user',
        `${userPrefix}history-service`,
        passwords.MCMS_BROKER_PASSWORD_HISTORY_SERVICE!,
      ]);
      const { stdout } = await exec('rabbitmqctl', [
        '-q',
        'list_permissions',
        '-p',
        vhost,
        '--formatter',
        'json',
      ]);
      const listed = JSON.parse(stdout) as Array<{ user: string; read: string }>;
      expect(listed.map((p) => p.user).sort()).toEqual(users.map((u) => `${userPrefix}${u}`).sort());
      expect(listed.find((p) => p.user === `${userPrefix}history-service`)?.read).toBe(
        '^(history-service\\..+|mcms\\.events)$',
      );
    } finally {
      await exec('rabbitmqctl', ['-q', 'delete_vhost', vhost]).catch(() => undefined);
      for (const u of users)
        await exec('rabbitmqctl', ['-q', 'delete_user', `${userPrefix}${u}`]).catch(() => undefined);
    }
  }, 180_000);
});
