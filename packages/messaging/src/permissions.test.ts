import { createHash } from 'node:crypto';
import { CONSUMER_QUEUES } from '@mcms/contracts';
import { brokerDefinitions, brokerPermissions, queuesOf, rabbitPasswordHash } from './permissions';
import { defineTopology } from './topology';

const permissionsOf = (prefix: string, user: string) => {
  const found = brokerPermissions(prefix).find((p) => p.user === user);
  if (!found) throw new Error(`no permissions for ${user}`);
  return {
    configure: new RegExp(found.configure),
    write: new RegExp(found.write),
    read: new RegExp(found.read),
  };
};

describe('brokerPermissions', () => {
  it('gives every consumer queue to exactly one service', () => {
    const owned = brokerPermissions('').flatMap((p) =>
      p.user === 'mcms-operator' ? [] : queuesOf(p.user.replace(/^mcms-/, '') as never),
    );
    expect(owned.sort()).toEqual(Object.values(CONSUMER_QUEUES).sort());
  });

  it("lets history-service declare and read its own queues, retry tiers and dead letters, and nobody else's", () => {
    const prefix = 'plant-7.';
    const history = permissionsOf(prefix, 'mcms-history-service');
    const topology = defineTopology({
      prefix,
      consumers: [{ queue: CONSUMER_QUEUES.historyEvents, bindings: [], retryDelaysMs: [1000, 5000] }],
    });
    for (const queue of topology.queues) {
      expect(queue.name).toMatch(history.configure);
      expect(queue.name).toMatch(history.read);
    }
    expect('plant-7.routing-worker.addin-job-results').not.toMatch(history.read);
    expect('plant-7.routing-worker.addin-job-results').not.toMatch(history.configure);
    // Another topology prefix is another installation.
    expect('history-service.events').not.toMatch(history.read);
    expect('plant-7Xhistory-service.events').not.toMatch(history.read);
    expect('plant-7.mcms.events').toMatch(history.read);
    expect('plant-7.mcms.commands').not.toMatch(history.read);
    expect('plant-7.mcms.commands').not.toMatch(history.write);
    expect('plant-7.mcms.events').not.toMatch(history.write);
    expect('amq.default').toMatch(history.write);
  });

  it('lets the producers publish where their outboxes send messages', () => {
    const gateway = permissionsOf('', 'mcms-addin-gateway');
    expect('mcms.commands').toMatch(gateway.write);
    expect('mcms.events').toMatch(gateway.write);
    expect('mcms.events').not.toMatch(gateway.read);
  });
});

describe('brokerDefinitions', () => {
  it('stores RabbitMQ password hashes, never the passwords, and leaves out users without one', () => {
    const definitions = brokerDefinitions({
      vhost: 'mcms',
      passwords: { 'mcms-routing-worker': 's3cret-routing', 'mcms-history-service': 's3cret-history' },
    });
    const text = JSON.stringify(definitions);
    expect(text).not.toContain('s3cret');
    expect((definitions.users as Array<{ name: string }>).map((u) => u.name)).toEqual([
      'mcms-routing-worker',
      'mcms-history-service',
    ]);
    expect(definitions.permissions).toHaveLength(2);
  });

  it("hashes like RabbitMQ's rabbit_password_hashing_sha256: base64(salt ‖ sha256(salt ‖ password))", () => {
    const salt = Buffer.from([1, 2, 3, 4]);
    const expected = Buffer.concat([
      salt,
      createHash('sha256')
        .update(Buffer.concat([salt, Buffer.from('pw')]))
        .digest(),
    ]).toString('base64');
    expect(rabbitPasswordHash('pw', salt)).toBe(expected);
  });
});
