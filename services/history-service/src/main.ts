// The composition root: the only file that reads process.env or opens connections.
import { createPgPool } from '@mcms/db';
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
import { loadHistoryServiceConfig } from './config';
import { historyTopology } from './topology';

const SERVICE = 'history-service';

async function main(): Promise<void> {
  const config = exitOnConfigError(() => loadHistoryServiceConfig(process.env));
  const httpLimits = exitOnConfigError(() => loadHttpServerLimits(process.env));
  const log = createLogger({ service: SERVICE, level: config.logLevel });
  const metrics = createMetrics({ service: SERVICE });
  // Plain node-postgres: every event's entry is written here (decision 0014). Its Prisma schema still defines
  // the table and authors the migrations.
  const pool = createPgPool({
    databaseUrl: config.databaseUrl,
    schema: config.databaseSchema,
    applicationName: SERVICE,
    onConnectionError: (err) => log.warn({ err }, 'PostgreSQL connection lost; the pool replaces it'),
  });
  const broker = await connectBroker({
    url: config.amqpUrl,
    topology: historyTopology({
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
    security: config.httpSecurity,
  });
  const http = await startHttpServer(app.http, { port: config.port, log, ...httpLimits });
  await app.start();
  // No outbox relay: the history writes entries only, it emits no messages.
  onShutdown(log, [
    function closeHttp() {
      return http.close();
    },
    function stopConsumer() {
      return app.stop();
    },
    function closeBroker() {
      return broker.close();
    },
    function disconnectDatabase() {
      return pool.end();
    },
  ]);
  log.info({ port: http.port }, 'history-service started');
}

main().catch((err: unknown) => {
  process.stderr.write(
    `history-service failed to start: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
  );
  process.exit(1);
});
