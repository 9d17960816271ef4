import { databaseSchemaFor, databaseUrlFor } from '@mcms/db';
import {
  baseServiceConfig,
  brokerServiceConfig,
  ConfigError,
  envDurationMs,
  envInt,
  envPort,
  envUrl,
  httpSecurityConfig,
  httpSecurityFrom,
  type HttpSecurityOptions,
  jwtSecretFrom,
  loadConfig,
} from '@mcms/platform';
import type { SocketLimits } from './adapters/notification-socket';
import { z } from 'zod';

/** The environment of notification-service; the keys every service shares come first. */
export const notificationServiceEnv = z.object({
  ...baseServiceConfig,
  PORT: envPort(8083),
  ...brokerServiceConfig,
  ...httpSecurityConfig,
  /** Where the operator page's proxy finds the routings. */
  ROUTING_WORKER_URL: envUrl({ protocols: ['http', 'https'] }).default('http://127.0.0.1:8081'),
  /** Where the operator page's proxy finds a routing's history. */
  HISTORY_SERVICE_URL: envUrl({ protocols: ['http', 'https'] }).default('http://127.0.0.1:8082'),
  /** socket.io: largest client message (handshake, subscribe), bytes. */
  SOCKET_MAX_MESSAGE_BYTES: envInt({ min: 1024, max: 1024 * 1024, default: 16 * 1024 }),
  /** socket.io: time to complete the handshake. */
  SOCKET_CONNECT_TIMEOUT: envDurationMs('10s'),
  /** socket.io: open connections per user on one replica. */
  SOCKET_MAX_CONNECTIONS_PER_USER: envInt({ min: 1, max: 100_000, default: 200 }),
});

/** The typed configuration `main.ts` builds the service from. */
export interface NotificationServiceConfig {
  port: number;
  nodeEnv: 'development' | 'test' | 'production';
  logLevel: z.output<typeof notificationServiceEnv>['LOG_LEVEL'];
  amqpUrl: string;
  /** `NOTIFICATION_DATABASE_URL`, else `DATABASE_URL` (see @mcms/db `databaseUrlFor`). */
  databaseUrl: string;
  /** `NOTIFICATION_DATABASE_SCHEMA`, else `notification`. */
  databaseSchema: string;
  jwtSecret: string;
  topologyPrefix: string;
  queueType: 'quorum' | 'classic';
  retryDelaysMs: number[];
  routingWorkerUrl: string;
  historyServiceUrl: string;
  /** The page's development sign-in (mints a viewer token): never in production. */
  allowDevSignIn: boolean;
  httpSecurity: HttpSecurityOptions;
  socketLimits: SocketLimits;
}

/**
 * Reads and validates `env` (throws one ConfigError naming every bad key). The only caller is
 * `main.ts`; everything else receives the result.
 */
export function loadNotificationServiceConfig(env: NodeJS.ProcessEnv): NotificationServiceConfig {
  const parsed = loadConfig(notificationServiceEnv, env);
  return {
    port: parsed.PORT,
    nodeEnv: parsed.NODE_ENV,
    logLevel: parsed.LOG_LEVEL,
    amqpUrl: parsed.AMQP_URL,
    databaseUrl: databaseUrlFor('notification-service', { ...env, DATABASE_URL: parsed.DATABASE_URL }),
    databaseSchema: schemaFrom(env),
    jwtSecret: jwtSecretFrom(env),
    topologyPrefix: parsed.MCMS_TOPOLOGY_PREFIX,
    queueType: parsed.MCMS_QUEUE_TYPE,
    retryDelaysMs: parsed.MCMS_RETRY_DELAYS,
    routingWorkerUrl: parsed.ROUTING_WORKER_URL,
    historyServiceUrl: parsed.HISTORY_SERVICE_URL,
    allowDevSignIn: parsed.NODE_ENV !== 'production',
    httpSecurity: httpSecurityFrom(parsed),
    socketLimits: {
      maxMessageBytes: parsed.SOCKET_MAX_MESSAGE_BYTES,
      connectTimeoutMs: parsed.SOCKET_CONNECT_TIMEOUT,
      maxConnectionsPerUser: parsed.SOCKET_MAX_CONNECTIONS_PER_USER,
    },
  };
}

// An invalid schema name is a configuration mistake like any other: report it the same way.
function schemaFrom(env: NodeJS.ProcessEnv): string {
  try {
    return databaseSchemaFor('notification-service', env);
  } catch (err) {
    throw new ConfigError([{ key: 'NOTIFICATION_DATABASE_SCHEMA', message: (err as Error).message }]);
  }
}
