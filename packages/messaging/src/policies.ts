import type { Topology } from './topology';

/** A RabbitMQ policy, as `rabbitmqctl set_policy`, the management API and definitions files take it. */
export interface BrokerPolicy {
  name: string;
  /** A regular expression matched against queue names. */
  pattern: string;
  applyTo: 'queues';
  priority: number;
  definition: Readonly<Record<string, string | number>>;
}

/** Options of {@link poisonPolicies}. */
export interface PoisonPolicyOptions {
  /** Deliveries of one message before the broker dead-letters it. Default 20. */
  deliveryLimit?: number;
  /** Above the 0 of an operator's catch-all policies; a queue takes only its highest-priority policy. */
  priority?: number;
}

/** Default of {@link PoisonPolicyOptions.deliveryLimit}: RabbitMQ 4's own default for quorum queues. */
export const DEFAULT_DELIVERY_LIMIT = 20;

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * One policy per work queue of `topology`: after `deliveryLimit` deliveries (a message whose handler
 * crashes the process or the channel before the ack comes back every time) the broker dead-letters
 * the message into that consumer's own dead-letter queue, where `mcms dlq` shows it with reason
 * `delivery_limit`. Our consumer dead-letters everything it can itself; this catches what it cannot.
 *
 * A policy, not queue arguments: arguments can't be changed on an existing queue (redeclaring fails
 * with PRECONDITION_FAILED), a policy applies to existing queues at once and can be tuned or removed.
 * Quorum queues only: classic queues ignore `delivery-limit`, so a classic topology gets none.
 */
export function poisonPolicies(topology: Topology, options: PoisonPolicyOptions = {}): BrokerPolicy[] {
  const deliveryLimit = options.deliveryLimit ?? DEFAULT_DELIVERY_LIMIT;
  if (!Number.isInteger(deliveryLimit) || deliveryLimit < 1) {
    throw new Error(`the delivery limit must be a positive whole number, got ${deliveryLimit}`);
  }
  if (topology.queueType !== 'quorum') return [];
  return topology.queues
    .filter((queue) => queue.role === 'work')
    .map((queue) => ({
      name: `mcms-poison.${queue.name}`,
      pattern: `^${escapeRegExp(queue.name)}$`,
      applyTo: 'queues' as const,
      priority: options.priority ?? 10,
      definition: {
        'delivery-limit': deliveryLimit,
        'dead-letter-exchange': '',
        'dead-letter-routing-key': topology.names.deadLetterQueue(queue.consumerQueue),
        // At-least-once dead-lettering, as the retry queues do: a poison message is never dropped.
        'dead-letter-strategy': 'at-least-once',
        overflow: 'reject-publish',
      },
    }));
}

/** The arguments of `rabbitmqctl` that set `policy` (after `rabbitmqctl`, before any `-p <vhost>`). */
export function rabbitmqctlSetPolicyArgs(policy: BrokerPolicy): string[] {
  return [
    'set_policy',
    '--apply-to',
    policy.applyTo,
    '--priority',
    String(policy.priority),
    policy.name,
    policy.pattern,
    JSON.stringify(policy.definition),
  ];
}
