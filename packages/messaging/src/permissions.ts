import { createHash, randomBytes } from 'node:crypto';
import { CONSUMER_QUEUES, EXCHANGES, type ExchangeName } from '@mcms/contracts';

/** A service that talks to the broker (each owns the queues of `CONSUMER_QUEUES` named after it). */
export type BrokerService = 'addin-gateway' | 'routing-worker' | 'history-service' | 'notification-service';

/**
 * The exchanges each service publishes to (its outbox relay) and binds its queues to. Its queues come from
 * `CONSUMER_QUEUES`. A service that needs more is refused by the broker (ACCESS_REFUSED) in the
 * least-privilege end-to-end test, so this table cannot silently fall behind the code.
 */
export const SERVICE_BROKER_ACCESS: Readonly<
  Record<BrokerService, { publishesTo: readonly ExchangeName[]; bindsTo: readonly ExchangeName[] }>
> = {
  'addin-gateway': { publishesTo: [EXCHANGES.commands, EXCHANGES.events], bindsTo: [EXCHANGES.commands] },
  'routing-worker': {
    publishesTo: [EXCHANGES.commands, EXCHANGES.events],
    bindsTo: [EXCHANGES.commands, EXCHANGES.events],
  },
  'history-service': { publishesTo: [], bindsTo: [EXCHANGES.events] },
  'notification-service': { publishesTo: [], bindsTo: [EXCHANGES.events] },
};

/** The services in a stable order. */
export const BROKER_SERVICES = Object.keys(SERVICE_BROKER_ACCESS) as BrokerService[];

/** The operator's tool (`mcms`): dead letters and queue depths of every service, nothing else. */
export const OPERATOR_BROKER_USER = 'operator';

/** One user's permissions in a vhost, as `rabbitmqctl set_permissions` and definitions files take them. */
export interface BrokerPermission {
  user: string;
  configure: string;
  write: string;
  read: string;
}

/** The broker user of a service; `userPrefix` tells installations sharing one broker apart. */
export function brokerUserOf(service: BrokerService, userPrefix = 'mcms-'): string {
  return `${userPrefix}${service}`;
}

/** The work queues a service consumes (without the prefix), from `CONSUMER_QUEUES`. */
export function queuesOf(service: BrokerService): string[] {
  return Object.values(CONSUMER_QUEUES).filter((queue) => queue.startsWith(`${service}.`));
}

/**
 * Least-privilege permissions for every service and the operator under a topology `prefix`:
 * - configure (declare): the two exchanges (every service asserts them on connect) and its own queues —
 *   work, retry tiers and dead-letter queue, all named `<prefix><service>.…`;
 * - write: its own queues (bindings), the exchanges it publishes to, and `amq.default` (retries and dead
 *   letters go to its own retry/dead-letter queue through the default exchange);
 * - read: its own queues (consume) and the exchanges it binds them to.
 */
export function brokerPermissions(prefix = '', userPrefix = 'mcms-'): BrokerPermission[] {
  const p = escapeRegex(prefix);
  const exchange = (name: ExchangeName) => `${p}${escapeRegex(name)}`;
  const allExchanges = Object.values(EXCHANGES).map(exchange);
  const services = BROKER_SERVICES.map((service): BrokerPermission => {
    const own = `${p}${escapeRegex(service)}\\..+`;
    const { publishesTo, bindsTo } = SERVICE_BROKER_ACCESS[service];
    return {
      user: brokerUserOf(service, userPrefix),
      configure: anyOf([own, ...allExchanges]),
      write: anyOf([own, ...publishesTo.map(exchange), 'amq\\.default']),
      read: anyOf([own, ...bindsTo.map(exchange)]),
    };
  });
  const everyQueue = `${p}(${BROKER_SERVICES.map(escapeRegex).join('|')})\\..+`;
  return [
    ...services,
    // Replays go back through the default exchange; no exchange of its own, no declaring of anything new.
    {
      user: `${userPrefix}${OPERATOR_BROKER_USER}`,
      configure: anyOf([everyQueue]),
      write: anyOf([everyQueue, 'amq\\.default']),
      read: anyOf([everyQueue]),
    },
  ];
}

function anyOf(patterns: readonly string[]): string {
  return `^(${patterns.join('|')})$`;
}

function escapeRegex(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * RabbitMQ's `rabbit_password_hashing_sha256` hash of `password` (base64 of a 4-byte salt followed by
 * SHA-256(salt ‖ password)): what a definitions file stores instead of the password.
 */
export function rabbitPasswordHash(password: string, salt: Buffer = randomBytes(4)): string {
  const digest = createHash('sha256')
    .update(Buffer.concat([salt, Buffer.from(password, 'utf8')]))
    .digest();
  return Buffer.concat([salt, digest]).toString('base64');
}

/** Options of {@link brokerDefinitions}. */
export interface BrokerDefinitionsOptions {
  prefix?: string;
  /** Default `mcms-`: users `mcms-addin-gateway`, …, `mcms-operator`. */
  userPrefix?: string;
  vhost: string;
  /** Each user's password; a user without one is left out (create it yourself, then import). */
  passwords: Readonly<Record<string, string | undefined>>;
}

/**
 * A RabbitMQ definitions document (`rabbitmqctl import_definitions`, or `load_definitions` at boot) with the
 * vhost, one user per service plus the operator (password hashes only) and their permissions.
 */
export function brokerDefinitions(options: BrokerDefinitionsOptions): Record<string, unknown> {
  const permissions = brokerPermissions(options.prefix, options.userPrefix).filter(
    (p) => options.passwords[p.user],
  );
  return {
    vhosts: [{ name: options.vhost }],
    users: permissions.map((p) => ({
      name: p.user,
      password_hash: rabbitPasswordHash(options.passwords[p.user] as string),
      hashing_algorithm: 'rabbit_password_hashing_sha256',
      tags: [],
    })),
    permissions: permissions.map((p) => ({
      user: p.user,
      vhost: options.vhost,
      configure: p.configure,
      write: p.write,
      read: p.read,
    })),
  };
}
