import { brokerDefinitions, brokerPermissions } from '@mcms/messaging';
import type { CliIo } from './output';
import { table } from './output';
import type { CliSettings } from './settings';

/** Options of {@link showBrokerPermissions}. */
export interface BrokerPermissionsOptions {
  vhost: string;
  userPrefix: string;
  /** `table` (or JSON with --json), `rabbitmqctl` commands, or a RabbitMQ `definitions` document. */
  format: 'table' | 'rabbitmqctl' | 'definitions';
  json: boolean;
}

/** The environment variable holding a broker user's password, e.g. `MCMS_BROKER_PASSWORD_ROUTING_WORKER`. */
export function passwordVariableOf(user: string, userPrefix: string): string {
  return `MCMS_BROKER_PASSWORD_${user.slice(userPrefix.length).replace(/-/g, '_').toUpperCase()}`;
}

/**
 * Prints the least-privilege broker permissions of every service and the operator for this installation's
 * topology prefix: as a table, as `rabbitmqctl set_permissions` commands, or as a definitions document whose
 * users carry RabbitMQ password hashes of `MCMS_BROKER_PASSWORD_<USER>` (never the passwords).
 */
export function showBrokerPermissions(
  ctx: { settings: CliSettings; io: CliIo },
  options: BrokerPermissionsOptions,
): void {
  const { io, settings } = ctx;
  const permissions = brokerPermissions(settings.topologyPrefix, options.userPrefix);
  if (options.format === 'definitions') {
    const passwords = Object.fromEntries(
      permissions.map((p) => [p.user, settings.env[passwordVariableOf(p.user, options.userPrefix)]]),
    );
    for (const p of permissions) {
      if (!passwords[p.user]) {
        io.stderr(
          `mcms: ${passwordVariableOf(p.user, options.userPrefix)} is not set: ${p.user} is left out\n`,
        );
      }
    }
    const definitions = brokerDefinitions({
      prefix: settings.topologyPrefix,
      userPrefix: options.userPrefix,
      vhost: options.vhost,
      passwords,
    });
    io.stdout(`${JSON.stringify(definitions, null, 2)}\n`);
    return;
  }
  if (options.format === 'rabbitmqctl') {
    const quote = (text: string) => `'${text.replace(/'/g, `'\\''`)}'`;
    const lines = permissions.map((p) =>
      [
        'rabbitmqctl set_permissions -p',
        quote(options.vhost),
        quote(p.user),
        quote(p.configure),
        quote(p.write),
        quote(p.read),
      ].join(' '),
    );
    io.stdout(`${lines.join('\n')}\n`);
    return;
  }
  if (options.json) {
    io.stdout(
      `${JSON.stringify(
        permissions.map((p) => ({ ...p, vhost: options.vhost })),
        null,
        2,
      )}\n`,
    );
    return;
  }
  io.stdout(
    table(
      ['USER', 'CONFIGURE', 'WRITE', 'READ'],
      permissions.map((p) => [p.user, p.configure, p.write, p.read]),
    ),
  );
}
