// The composition root: the only file that reads process.env or builds infrastructure. Top to bottom, like a
// checklist; shutdown runs in reverse.
import { createPgPool, databaseSchemaFor, databaseUrlFor } from '@mcms/db';
import { connectBroker, startOutboxRelay } from '@mcms/messaging';
import {
  createJwtAuth,
  createLogger,
  createMetrics,
  httpSecurityFrom,
  exitOnConfigError,
  loadHttpServerLimits,
  jwtSecretFrom,
  loadConfig,
  onShutdown,
  startHttpServer,
} from '@mcms/platform';
import { buildApp, SERVICE_NAME } from './app';
import { gatewayConfig } from './config';
import { gatewayTopology } from './topology';

async function main(): Promise<void> {
  const config = exitOnConfigError(() => loadConfig(gatewayConfig, process.env));
  const jwtSecret = exitOnConfigError(() => jwtSecretFrom(process.env));
  const httpLimits = exitOnConfigError(() => loadHttpServerLimits(process.env));
  const databaseUrl = databaseUrlFor('addin-gateway', process.env);
  const schema = databaseSchemaFor('addin-gateway', process.env);

  const log = createLogger({ service: SERVICE_NAME, level: config.LOG_LEVEL });
  const metrics = createMetrics({ service: SERVICE_NAME });
  // Every statement, the outbox relay and the long poll's LISTEN connection: plain node-postgres, no Prisma client
  // at run time (decision 0015). 15 connections, as the gateway had with Prisma's 4 and this pool's 11.
  const pool = createPgPool({
    databaseUrl,
    schema,
    max: 15,
    applicationName: SERVICE_NAME,
    onConnectionError: (err) => log.warn({ err }, 'PostgreSQL connection lost; the pool replaces it'),
  });
  const broker = await connectBroker({
    url: config.AMQP_URL,
    topology: gatewayTopology({
      prefix: config.MCMS_TOPOLOGY_PREFIX,
      queueType: config.MCMS_QUEUE_TYPE,
      retryDelaysMs: config.MCMS_RETRY_DELAYS,
    }),
    log,
    metrics,
    connectionName: SERVICE_NAME,
  });
  const relay = await startOutboxRelay({ pool, schema, publisher: broker.publisher, log, metrics });

  const app = buildApp({
    pool,
    schema,
    broker,
    jwt: createJwtAuth({ secret: jwtSecret }),
    log,
    metrics,
    settings: {
      leaseMs: config.JOB_LEASE,
      expiry: { maxAttempts: config.JOB_MAX_ATTEMPTS, pendingTimeoutMs: config.JOB_PENDING_TIMEOUT },
      sweepIntervalMs: config.LEASE_SWEEP_INTERVAL,
      keyTtlDays: config.ADDIN_KEY_TTL_DAYS,
      bootstrapKey: config.ADDIN_BOOTSTRAP_KEY,
      maxWaiters: config.LONG_POLL_MAX_WAITERS,
      longPollFallbackMs: config.LONG_POLL_FALLBACK,
      keyCacheMs: config.ADDIN_KEY_CACHE,
      addinRateLimits: {
        perKey: perWindow(config.ADDIN_RATE_LIMIT_PER_KEY, config.ADDIN_RATE_LIMIT_WINDOW),
        perDevice: perWindow(config.ADDIN_RATE_LIMIT_PER_DEVICE, config.ADDIN_RATE_LIMIT_WINDOW),
      },
    },
    security: httpSecurityFrom(config),
  });
  await app.start();
  const http = await startHttpServer(app.http, { port: config.PORT, log, ...httpLimits });

  // app.stop first: it answers waiting long polls, which http.close would otherwise wait out.
  onShutdown(log, [app.stop, http.close, broker.close, relay.stop, () => pool.end()]);
}

/** A limit of `limit` calls per `windowMs`, or none for 0. */
function perWindow(limit: number, windowMs: number): { limit: number; windowMs: number } | undefined {
  return limit === 0 ? undefined : { limit, windowMs };
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
