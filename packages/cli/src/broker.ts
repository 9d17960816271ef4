import { connectBroker, defineTopology, type Broker, type Topology } from '@mcms/messaging';
import { createLogger, type Logger } from '@mcms/platform';
import { CommandError } from './errors';
import type { CliIo } from './output';
import { KNOWN_QUEUES, type CliSettings } from './settings';

/**
 * The names of every queue of every service (work, retry tiers, dead-letter), computed the way the services
 * compute them. Only ever used for names: the CLI never declares these queues, so a CLI run with a different
 * MCMS_QUEUE_TYPE or MCMS_RETRY_DELAYS can't clash with (or create) the services' queues.
 */
export function serviceQueues(settings: CliSettings): Topology {
  return defineTopology({
    prefix: settings.topologyPrefix,
    queueType: settings.queueType,
    consumers: KNOWN_QUEUES.map((queue) => ({ queue, bindings: [], retryDelaysMs: settings.retryDelaysMs })),
  });
}

/** The CLI's logger: pino lines on stderr (so stdout stays clean for --json), quiet unless MCMS_LOG_LEVEL says. */
export function cliLogger(settings: CliSettings, io: CliIo): Logger {
  return createLogger({
    service: 'mcms-cli',
    level: settings.logLevel,
    destination: { write: (line: string) => io.stderr(line) },
  });
}

/** Runs `fn` with a broker connection that declares no queue (only the two exchanges), then closes it. */
export async function withBroker<T>(
  settings: CliSettings,
  log: Logger,
  fn: (broker: Broker) => Promise<T>,
): Promise<T> {
  let broker: Broker;
  try {
    broker = await connectBroker({
      url: settings.amqpUrl,
      topology: defineTopology({ prefix: settings.topologyPrefix, consumers: [] }),
      log,
      connectionName: `mcms-cli@${settings.user ?? 'unknown'}`,
    });
  } catch (err) {
    throw new CommandError(`cannot reach the broker: ${(err as Error).message}`);
  }
  try {
    return await fn(broker);
  } finally {
    await broker.close({ drainTimeoutMs: 5_000 });
  }
}

/** Ready messages and consumers of `queue` (a real name), or undefined when it does not exist. */
export async function queueDepth(
  broker: Broker,
  queue: string,
): Promise<{ messages: number; consumers: number } | undefined> {
  try {
    // A missing queue makes the broker close the channel: each check gets its own.
    const { messageCount, consumerCount } = await broker.withChannel((channel) => channel.checkQueue(queue));
    return { messages: messageCount, consumers: consumerCount };
  } catch (err) {
    if (/NOT_FOUND|404/.test((err as Error).message)) return undefined;
    throw err;
  }
}
