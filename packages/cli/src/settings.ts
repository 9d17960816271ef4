import { CONSUMER_QUEUES, type ConsumerQueueName } from '@mcms/contracts';
import { baseServiceConfig, brokerServiceConfig, isConfigError, loadConfig } from '@mcms/platform';
import { z } from 'zod';
import { UsageError } from './errors';

/** The environment the CLI reads (the same keys, defaults and parsing as the services, plus its own). */
const CliEnv = z.object({
  NODE_ENV: baseServiceConfig.NODE_ENV,
  AMQP_URL: baseServiceConfig.AMQP_URL,
  ...brokerServiceConfig,
  ADDIN_GATEWAY_URL: z.url().default('http://127.0.0.1:8080'),
  MCMS_TOKEN: z.string().optional(),
  MCMS_JWT_SECRET: z.string().optional(),
  MCMS_AUDIT_LOG: z.string().default('mcms-audit.jsonl'),
  MCMS_LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'silent']).default('error'),
});

export interface CliSettings {
  nodeEnv: 'development' | 'test' | 'production';
  amqpUrl: string;
  topologyPrefix: string;
  queueType: 'quorum' | 'classic';
  retryDelaysMs: number[];
  gatewayUrl: string;
  token: string | undefined;
  jwtSecret: string | undefined;
  auditLog: string;
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'silent';
  /** Who runs the CLI when `--by` is not given: `$USER` (or `%USERNAME%`). */
  user: string | undefined;
  /** The whole environment, for the per-service database URLs and schemas of `@mcms/db`. */
  env: Readonly<Record<string, string | undefined>>;
}

export function settingsFrom(env: Readonly<Record<string, string | undefined>>): CliSettings {
  let parsed: z.infer<typeof CliEnv>;
  try {
    parsed = loadConfig(CliEnv, env as NodeJS.ProcessEnv);
  } catch (err) {
    if (isConfigError(err)) throw new UsageError(err.message);
    throw err;
  }
  return {
    nodeEnv: parsed.NODE_ENV,
    amqpUrl: parsed.AMQP_URL,
    topologyPrefix: parsed.MCMS_TOPOLOGY_PREFIX,
    queueType: parsed.MCMS_QUEUE_TYPE,
    retryDelaysMs: parsed.MCMS_RETRY_DELAYS,
    gatewayUrl: parsed.ADDIN_GATEWAY_URL.replace(/\/+$/, ''),
    token: parsed.MCMS_TOKEN,
    jwtSecret: parsed.MCMS_JWT_SECRET,
    auditLog: parsed.MCMS_AUDIT_LOG,
    logLevel: parsed.MCMS_LOG_LEVEL,
    user: env.USER?.trim() || env.USERNAME?.trim() || undefined,
    env,
  };
}

/** Every consumer work queue, as the services name them (without the prefix). */
export const KNOWN_QUEUES: readonly ConsumerQueueName[] = Object.values(CONSUMER_QUEUES);

/** `name` as a known consumer queue, or a usage error listing them. */
export function knownQueue(name: string): ConsumerQueueName {
  const found = KNOWN_QUEUES.find((queue) => queue === name);
  if (found === undefined) {
    throw new UsageError(`unknown queue "${name}"; the consumer queues are: ${KNOWN_QUEUES.join(', ')}`);
  }
  return found;
}
