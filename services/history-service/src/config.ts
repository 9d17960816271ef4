import { databaseSchemaFor, databaseUrlFor } from '@mcms/db';
import {
  baseServiceConfig,
  brokerServiceConfig,
  ConfigError,
  envPort,
  httpSecurityConfig,
  httpSecurityFrom,
  type HttpSecurityOptions,
  jwtSecretFrom,
  loadConfig,
} from '@mcms/platform';
import { z } from 'zod';

/** The environment of the history-service; the keys every service shares come first. */
export const historyServiceEnv = z.object({
  ...baseServiceConfig,
  PORT: envPort(8082),
  ...brokerServiceConfig,
  ...httpSecurityConfig,
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
  httpSecurity: HttpSecurityOptions;
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
    httpSecurity: httpSecurityFrom(parsed),
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
