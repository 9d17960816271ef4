import { DEFAULT_DELIVERY_LIMIT, poisonPolicies, rabbitmqctlSetPolicyArgs } from '@mcms/messaging';
import { serviceQueues } from './broker';
import { CommandError } from './errors';
import type { CliIo } from './output';
import type { CliSettings } from './settings';

// POSIX shell single quotes: everything literal, a ' closes, escapes and reopens.
function shellQuote(word: string): string {
  return /^[A-Za-z0-9_.:/-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

/**
 * `mcms broker policies`: the delivery-limit policies of every work queue (see `poisonPolicies`), as
 * `rabbitmqctl` commands to run at deploy time, or as JSON for a definitions file, the management API
 * or the Kubernetes messaging-topology operator. Prints only; the CLI never changes the broker's policies.
 */
export function printPoisonPolicies(
  { settings, io, json }: { settings: CliSettings; io: CliIo; json: boolean },
  { deliveryLimit = DEFAULT_DELIVERY_LIMIT }: { deliveryLimit?: number },
): void {
  const policies = poisonPolicies(serviceQueues(settings), { deliveryLimit });
  if (policies.length === 0) {
    throw new CommandError(
      'MCMS_QUEUE_TYPE is classic: classic queues have no delivery limit (production runs quorum queues)',
    );
  }
  if (json) return io.stdout(`${JSON.stringify(policies, null, 2)}\n`);
  io.stdout(
    policies
      .map((policy) => ['rabbitmqctl', ...rabbitmqctlSetPolicyArgs(policy)].map(shellQuote).join(' '))
      .join('\n') + '\n',
  );
}
