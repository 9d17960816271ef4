import { parseArgs, type ParseArgsConfig } from 'node:util';
import { AddinJobStatus } from '@mcms/contracts';
import { cliLogger } from './broker';
import { showBrokerPermissions } from './broker-permissions';
import { listDeadLetterDepths, purge, replay, showDeadLetters } from './dlq';
import { CommandError, UsageError } from './errors';
import { createKey, listJobs, listKeys, revokeKey } from './gateway';
import type { CliIo } from './output';
import { knownQueue, settingsFrom, type CliSettings } from './settings';
import { printPoisonPolicies } from './policies';
import { status } from './status';

export const USAGE = `mcms: the MCMS operator's tool

  mcms status                                   queue depths (work, retry, dead-letter) and outbox lag per service
  mcms dlq list [--queue <q>] [--limit <n>]     dead-letter depth per queue, or one queue's dead letters
  mcms dlq replay --queue <q> (--message-id <id> | --reason <code> | --type <type> | --all)
                  [--limit <n>] [--by <who>]    back to the originating queue; audited
  mcms dlq purge --queue <q> [--yes] [--by <who>]   delete one queue's dead letters; audited
  mcms jobs list [--status Pending|InProgress|Completed|Failed] [--limit <n>]
  mcms keys create [--name <name>] [--days <n>] issue an add-in key (shown once)
  mcms keys list
  mcms keys revoke <keyId>
  mcms broker permissions [--vhost <v>] [--user-prefix <p>] [--rabbitmqctl | --definitions | --script]
                                                one broker user per service (and the operator) with
                                                least-privilege regexes for MCMS_TOPOLOGY_PREFIX;
                                                --definitions: users with password hashes of
                                                MCMS_BROKER_PASSWORD_<USER> (e.g. _ROUTING_WORKER);
                                                --script: a shell script creating them
  mcms broker policies [--delivery-limit <n>]   the delivery-limit (poison message) policies to apply, as
                                                rabbitmqctl commands (or --json, or --script: the shell
                                                script deploy/rabbitmq/broker-policies.sh); prints only

Every command takes --json (machine-readable output on stdout) and --help.
<q> is a consumer queue without the prefix, e.g. routing-worker.addin-job-results.
Environment: AMQP_URL, MCMS_TOPOLOGY_PREFIX, MCMS_QUEUE_TYPE, MCMS_RETRY_DELAYS, DATABASE_URL (and the
per-service <SCHEMA>_DATABASE_URL / _SCHEMA), ADDIN_GATEWAY_URL, MCMS_TOKEN (or MCMS_JWT_SECRET outside
production), MCMS_AUDIT_LOG (default ./mcms-audit.jsonl), MCMS_LOG_LEVEL (default error).
Exit codes: 0 done, 1 failed, 2 usage or configuration error.
`;

/** What a run needs from the outside world. */
export interface CliContext {
  env: Readonly<Record<string, string | undefined>>;
  io: CliIo;
  now?: () => Date;
}

const common = {
  json: { type: 'boolean', default: false },
  help: { type: 'boolean', short: 'h', default: false },
} as const satisfies ParseArgsConfig['options'];

function parse<O extends NonNullable<ParseArgsConfig['options']>>(
  args: string[],
  options: O,
  positionals = 0,
) {
  const parsed = parseArgs({
    args,
    options: { ...common, ...options },
    allowPositionals: positionals > 0,
    strict: true,
  });
  if (parsed.positionals.length > positionals) {
    throw new UsageError(`unexpected argument "${parsed.positionals[positionals]}"`);
  }
  return parsed;
}

function positiveInt(name: string, value: string | undefined, fallback?: number): number | undefined {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < 1) throw new UsageError(`--${name} must be a whole number above 0`);
  return n;
}

function required(name: string, value: string | undefined): string {
  if (value === undefined || value === '') throw new UsageError(`--${name} is required`);
  return value;
}

function operator(by: string | undefined, settings: CliSettings): string {
  const who = by?.trim() || settings.user;
  if (!who) throw new UsageError('say who you are with --by (no $USER here): the audit trail records it');
  return who;
}

/**
 * Runs one command line; resolves with the exit code (0 done, 1 failed, 2 usage). Never exits the process,
 * so tests run it in-process against the real broker and gateway.
 */
export async function runCli(argv: readonly string[], context: CliContext): Promise<number> {
  const { io } = context;
  const now = context.now ?? (() => new Date());
  try {
    await dispatch([...argv], context.env, io, now);
    return 0;
  } catch (err) {
    if (err instanceof UsageError || (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      io.stderr(`mcms: ${(err as Error).message}\n\n${USAGE}`);
      return 2;
    }
    if (err instanceof CommandError) {
      io.stderr(`mcms: ${err.message}\n`);
      return 1;
    }
    io.stderr(`mcms: failed: ${(err as Error).stack ?? String(err)}\n`);
    return 1;
  }
}

async function dispatch(argv: string[], env: CliContext['env'], io: CliIo, now: () => Date): Promise<void> {
  const [group, ...rest] = argv;
  if (group === undefined || group === 'help' || group === '--help' || group === '-h') {
    io.stdout(USAGE);
    return;
  }
  const command = group === 'status' ? 'status' : `${group} ${rest.shift() ?? ''}`.trim();
  // --help anywhere answers without needing any configuration.
  if (rest.includes('--help') || rest.includes('-h')) {
    io.stdout(USAGE);
    return;
  }
  const settings = settingsFrom(env);
  const log = cliLogger(settings, io);

  switch (command) {
    case 'status': {
      const { values } = parse(rest, {});
      if (!(await status({ settings, io, log, json: values.json }))) {
        throw new CommandError('some queues or outboxes could not be read (see above)');
      }
      return;
    }
    case 'dlq list': {
      const { values } = parse(rest, { queue: { type: 'string' }, limit: { type: 'string' } });
      const ctx = { settings, io, log, json: values.json, now };
      const limit = positiveInt('limit', values.limit, 50)!;
      if (values.queue === undefined) return listDeadLetterDepths(ctx);
      return showDeadLetters(ctx, knownQueue(values.queue), limit);
    }
    case 'dlq replay': {
      const { values } = parse(rest, {
        queue: { type: 'string' },
        'message-id': { type: 'string' },
        reason: { type: 'string' },
        type: { type: 'string' },
        all: { type: 'boolean', default: false },
        limit: { type: 'string' },
        by: { type: 'string' },
      });
      const queue = knownQueue(required('queue', values.queue));
      const limit = positiveInt('limit', values.limit);
      return replay(
        { settings, io, log, json: values.json, now },
        {
          queue,
          selection: {
            ...(values['message-id'] !== undefined ? { messageId: values['message-id'] } : {}),
            ...(values.reason !== undefined ? { reason: values.reason } : {}),
            ...(values.type !== undefined ? { type: values.type } : {}),
            all: values.all,
          },
          ...(limit !== undefined ? { limit } : {}),
          by: operator(values.by, settings),
        },
      );
    }
    case 'dlq purge': {
      const { values } = parse(rest, {
        queue: { type: 'string' },
        yes: { type: 'boolean', short: 'y', default: false },
        by: { type: 'string' },
      });
      const queue = knownQueue(required('queue', values.queue));
      return purge(
        { settings, io, log, json: values.json, now },
        { queue, yes: values.yes, by: operator(values.by, settings) },
      );
    }
    case 'broker policies': {
      const { values } = parse(rest, {
        'delivery-limit': { type: 'string' },
        script: { type: 'boolean', default: false },
      });
      const deliveryLimit = positiveInt('delivery-limit', values['delivery-limit']);
      if (values.script && values.json) throw new UsageError('choose one of --script and --json');
      return printPoisonPolicies(
        { settings, io, json: values.json },
        { script: values.script, ...(deliveryLimit === undefined ? {} : { deliveryLimit }) },
      );
    }
    case 'jobs list': {
      const { values } = parse(rest, { status: { type: 'string' }, limit: { type: 'string' } });
      if (values.status !== undefined && !AddinJobStatus.safeParse(values.status).success) {
        throw new UsageError(`--status must be one of ${AddinJobStatus.options.join(', ')}`);
      }
      return listJobs(
        { settings, io, json: values.json, by: undefined },
        {
          ...(values.status !== undefined ? { status: values.status } : {}),
          limit: positiveInt('limit', values.limit, 50)!,
        },
      );
    }
    case 'keys create': {
      const { values } = parse(rest, {
        name: { type: 'string' },
        days: { type: 'string' },
        by: { type: 'string' },
      });
      const days = positiveInt('days', values.days);
      return createKey(
        { settings, io, json: values.json, by: values.by },
        {
          ...(values.name !== undefined ? { name: values.name } : {}),
          ...(days !== undefined ? { days } : {}),
        },
      );
    }
    case 'keys list': {
      const { values } = parse(rest, { by: { type: 'string' } });
      return listKeys({ settings, io, json: values.json, by: values.by });
    }
    case 'keys revoke': {
      const { values, positionals } = parse(rest, { by: { type: 'string' } }, 1);
      const keyId = positionals[0];
      if (keyId === undefined) throw new UsageError('keys revoke needs the key id: mcms keys revoke <keyId>');
      return revokeKey({ settings, io, json: values.json, by: values.by }, keyId);
    }
    case 'broker permissions': {
      const { values } = parse(rest, {
        vhost: { type: 'string', default: '/' },
        'user-prefix': { type: 'string', default: 'mcms-' },
        rabbitmqctl: { type: 'boolean', default: false },
        definitions: { type: 'boolean', default: false },
        script: { type: 'boolean', default: false },
      });
      const formats = (['rabbitmqctl', 'definitions', 'script'] as const).filter((f) => values[f]);
      if (formats.length > 1) throw new UsageError('choose one of --rabbitmqctl, --definitions and --script');
      showBrokerPermissions(
        { settings, io },
        {
          vhost: values.vhost,
          userPrefix: values['user-prefix'],
          format: formats[0] ?? 'table',
          json: values.json,
        },
      );
      return;
    }
    default:
      throw new UsageError(`unknown command "${command}"`);
  }
}
