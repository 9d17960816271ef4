import { databaseSchemaFor, databaseUrlFor } from '@mcms/db';
import { DEFAULT_RETRY_DELAYS_MS } from '@mcms/messaging';
import {
  baseServiceConfig,
  ConfigError,
  envPort,
  jwtSecretFrom,
  loadConfig,
  parseDurationMs,
} from '@mcms/platform';
import { z } from 'zod';

/** `1s,5s,30s,2m`: the waits between attempts (attempts = delays + 1). */
function envDurationList(defaultMs: readonly number[]) {
  return z
    .string()
    .transform((text, ctx) => {
      const delays = text.split(',').map((part) => parseDurationMs(part));
      if (delays.every((ms): ms is number => ms !== undefined && ms > 0)) return delays;
      ctx.issues.push({
        code: 'custom',
        input: text,
        message: 'expected comma-separated positive durations like 1s,5s,30s,2m',
      });
      return z.NEVER;
    })
    .default([...defaultMs]);
}

/** The environment of the history-service; the keys every service shares come first. */
export const historyServiceEnv = z.object({
  ...baseServiceConfig,
  PORT: envPort(8082),
  /** Put in front of every exchange and queue name: tests and the benchmark isolate themselves by it. */
  MCMS_TOPOLOGY_PREFIX: z.string().max(100).default(''),
  MCMS_QUEUE_TYPE: z.enum(['quorum', 'classic'], { error: 'expected quorum or classic' }).default('quorum'),
  MCMS_RETRY_DELAYS: envDurationList(DEFAULT_RETRY_DELAYS_MS),
});

/** The typed configuration `main.ts` builds the service from. */
export interface HistoryServiceConfig {
  port: number;
  nodeEnv: 'development' | 'test' | 'production';
  logLevel: z.output<typeof historyServiceEnv>['LOG_LEVEL'];
  amqpUrl: string;
  /** `HISTORY_DATABASE_URL`, else `DATABASE_URL` (see @mcms/db `databaseUrlFor`). */
  databaseUrl: string;
  /** `HISTORY_DATABASE_SCHEMA`, else `history`. */
  databaseSchema: string;
  jwtSecret: string;
  topologyPrefix: string;
  queueType: 'quorum' | 'classic';
  retryDelaysMs: number[];
}

/**
 * Reads and validates `env` (throws one ConfigError naming every bad key). The only caller is
 * `main.ts`; everything else receives the result.
 */
export function loadHistoryServiceConfig(env: NodeJS.ProcessEnv): HistoryServiceConfig {
  const parsed = loadConfig(historyServiceEnv, env);
  return {
    port: parsed.PORT,
    nodeEnv: parsed.NODE_ENV,
    logLevel: parsed.LOG_LEVEL,
    amqpUrl: parsed.AMQP_URL,
    databaseUrl: databaseUrlFor('history-service', { ...env, DATABASE_URL: parsed.DATABASE_URL }),
    databaseSchema: schemaFrom(env),
    jwtSecret: jwtSecretFrom(env),
    topologyPrefix: parsed.MCMS_TOPOLOGY_PREFIX,
    queueType: parsed.MCMS_QUEUE_TYPE,
    retryDelaysMs: parsed.MCMS_RETRY_DELAYS,
  };
}

// An invalid schema name is a configuration mistake like any other: report it the same way.
function schemaFrom(env: NodeJS.ProcessEnv): string {
  try {
    return databaseSchemaFor('history-service', env);
  } catch (err) {
    throw new ConfigError([{ key: 'HISTORY_DATABASE_SCHEMA', message: (err as Error).message }]);
  }
}
