// The composition root: the only file that reads process.env or opens connections.
import { createPgPool, pgPoolConfig } from '@mcms/db';
import { connectBroker } from '@mcms/messaging';
import {
  createJwtAuth,
  createLogger,
  createMetrics,
  exitOnConfigError,
  loadHttpServerLimits,
  onShutdown,
  startHttpServer,
} from '@mcms/platform';
import { buildApp } from './app';
import { loadNotificationServiceConfig } from './config';
import { notificationTopology } from './topology';

const SERVICE = 'notification-service';

async function main(): Promise<void> {
  const config = exitOnConfigError(() => loadNotificationServiceConfig(process.env));
  const httpLimits = exitOnConfigError(() => loadHttpServerLimits(process.env));
  const log = createLogger({ service: SERVICE, level: config.logLevel });
  const metrics = createMetrics({ service: SERVICE });
  const connection = {
    databaseUrl: config.databaseUrl,
    schema: config.databaseSchema,
    applicationName: SERVICE,
  };
  // Plain node-postgres: the alerts' writes and reads are this service's hot path (decision 0014). Its Prisma
  // schema still defines the tables and authors the migrations.
  const pool = createPgPool({
    ...connection,
    onConnectionError: (err) => log.warn({ err }, 'PostgreSQL connection lost; the pool replaces it'),
  });
  const broker = await connectBroker({
    url: config.amqpUrl,
    topology: notificationTopology({
      prefix: config.topologyPrefix,
      queueType: config.queueType,
      retryDelaysMs: config.retryDelaysMs,
    }),
    log,
    metrics,
    connectionName: SERVICE,
  });
  const app = buildApp({
    pool,
    broker,
    jwt: createJwtAuth({ secret: config.jwtSecret }),
    log,
    metrics,
    listenClientConfig: pgPoolConfig({ ...connection, applicationName: `${SERVICE}-listen` }),
    databaseSchema: config.databaseSchema,
    socketLimits: config.socketLimits,
    routingWorkerUrl: config.routingWorkerUrl,
    historyServiceUrl: config.historyServiceUrl,
    allowDevSignIn: config.allowDevSignIn,
    security: config.httpSecurity,
  });
  const http = await startHttpServer(app.http, { port: config.port, log, ...httpLimits });
  app.attach(http.server);
  await app.start();
  // No outbox relay: the service emits no messages; its live fan-out is LISTEN/NOTIFY on a connection of its
  // own (docs/decisions/0006-alert-fan-out.md).
  onShutdown(log, [
    // Sockets first: an open WebSocket would hold the HTTP server's close until its grace ran out.
    function stopApp() {
      return app.stop();
    },
    function closeHttp() {
      return http.close();
    },
    function closeBroker() {
      return broker.close();
    },
    function disconnectDatabase() {
      return pool.end();
    },
  ]);
  log.info({ port: http.port }, 'notification-service started');
}

main().catch((err: unknown) => {
  process.stderr.write(
    `notification-service failed to start: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
  );
  process.exit(1);
});
