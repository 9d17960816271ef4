// The routing-worker's composition root: the only file that reads process.env or builds infrastructure.
import path from 'node:path';
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
import { buildApp } from './app';
import { createFsSharedDrive } from './adapters/fs-shared-drive';
import { routingWorkerTopology } from './adapters/topology';
import { routingWorkerConfig } from './config';

const SERVICE = 'routing-worker';

async function main(): Promise<void> {
  const { config, jwtSecret, httpLimits } = exitOnConfigError(() => ({
    config: loadConfig(routingWorkerConfig, process.env),
    jwtSecret: jwtSecretFrom(process.env),
    httpLimits: loadHttpServerLimits(process.env),
  }));
  const log = createLogger({ service: SERVICE, level: config.LOG_LEVEL });
  const metrics = createMetrics({ service: SERVICE });
  const databaseUrl = databaseUrlFor(SERVICE, process.env);
  const schema = databaseSchemaFor(SERVICE, process.env);

  // Every statement and the outbox relay, on plain node-postgres (see createPgRoutingStore; decision 0015):
  // 14 connections, as the service had with Prisma's 3 and this pool's 11. A connection that dies (a database
  // restart) must not crash the process; the next query reconnects.
  const pool = createPgPool({
    databaseUrl,
    schema,
    applicationName: SERVICE,
    max: 14,
    onConnectionError: (err) => log.warn({ err }, 'PostgreSQL connection lost; the pool replaces it'),
  });

  const topology = routingWorkerTopology({
    prefix: config.MCMS_TOPOLOGY_PREFIX,
    queueType: config.MCMS_QUEUE_TYPE,
    retryDelaysMs: config.MCMS_RETRY_DELAYS,
  });
  const broker = await connectBroker({
    url: config.AMQP_URL,
    topology,
    log,
    metrics,
    connectionName: SERVICE,
  });
  const relay = await startOutboxRelay({ pool, schema, publisher: broker.publisher, log, metrics });
  const sharedDrive = createFsSharedDrive({
    root: path.resolve(config.SHARED_DRIVE_ROOT),
    timeoutMs: config.SHARED_DRIVE_TIMEOUT,
    log,
    metrics,
  });

  const app = buildApp({
    pool,
    broker,
    jwt: createJwtAuth({ secret: jwtSecret }),
    sharedDrive,
    log,
    metrics,
    security: httpSecurityFrom(config),
  });
  await app.start();
  const http = await startHttpServer(app.http, { port: config.PORT, log, ...httpLimits });
  log.info(
    { port: http.port, sharedDriveRoot: path.resolve(config.SHARED_DRIVE_ROOT) },
    'routing-worker started',
  );

  // Named, so the shutdown log says which step ran or failed.
  const closeBroker = () => broker.close();
  const endOutboxPool = () => pool.end();
  onShutdown(log, [http.close, app.stop, closeBroker, relay.stop, sharedDrive.close, endOutboxPool]);
}

main().catch((err: unknown) => {
  // The logger may not exist yet; stderr always does.
  console.error('routing-worker failed to start', err);
  process.exit(1);
});
