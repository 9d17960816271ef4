import type { Server as HttpServer } from 'node:http';
import { openApiFor } from '@mcms/contracts';
import { handleConcurrently, type Broker, type Consumer } from '@mcms/messaging';
import {
  createHttpApp,
  userAuthenticator,
  type HttpSecurityOptions,
  type JwtAuth,
  type Logger,
  type Metrics,
} from '@mcms/platform';
import express, { type Express } from 'express';
import type { ClientConfig, Pool } from 'pg';
import { Server } from 'socket.io';
import { ALERTS_QUEUE, alertEventHandlers } from './adapters/alerts.consumer';
import { mountNotificationRoutes } from './adapters/notification.routes';
import {
  DEFAULT_SOCKET_LIMITS,
  serveNotificationSocket,
  socketLimitOptions,
  type NotificationServer,
  type SocketLimits,
} from './adapters/notification-socket';
import { mountOperatorPage, OPERATOR_PAGE_CSP } from './adapters/operator-page';
import { socketServerOptions } from './adapters/socket-security';
import { createPgAlertFeed } from './adapters/pg-alert-feed';
import { createPgAlertStore } from './adapters/pg-alert-store';

// The same path from src/ (Jest) and dist/ (node): the service's own package.json.
const { version: apiVersion } = require('../package.json') as { version: string };

/** What notification-service is built from; `main.ts` makes them, component tests make their own. */
export interface NotificationAppDeps {
  /** The service's connections (search_path = its schema): the alerts' reads and writes. */
  pool: Pool;
  broker: Broker;
  jwt: JwtAuth;
  log: Logger;
  metrics: Metrics;
  /** The connection the live feed LISTENs on (its own, not pooled): see @mcms/db `pgPoolConfig`. */
  listenClientConfig: ClientConfig;
  /** The service's PostgreSQL schema: names the NOTIFY channel of new alerts. */
  databaseSchema: string;
  /** For the operator page's proxy. */
  routingWorkerUrl: string;
  historyServiceUrl: string;
  /** The page's development sign-in; never true in production. */
  allowDevSignIn: boolean;
  /** Events handled at once; default 64. */
  prefetch?: number;
  /** The live feed reads the table this often without a NOTIFY; default 1 s. */
  feedFallbackPollMs?: number;
  /** CORS (HTTP and socket.io), auth-failure limit, proxy hops; safe defaults when absent. */
  security?: HttpSecurityOptions;
  /** socket.io limits; default DEFAULT_SOCKET_LIMITS. */
  socketLimits?: SocketLimits;
}

/**
 * The service, not yet running: `http` to listen with, `attach(server)` to serve socket.io on that
 * server's port, `start()` to consume and feed, `stop()` to let clients go and drain.
 */
export interface NotificationApp {
  http: Express;
  attach(server: HttpServer): void;
  start(): Promise<void>;
  stop(): Promise<void>;
}

export function buildApp(deps: NotificationAppDeps): NotificationApp {
  const { pool, broker, jwt, log, metrics } = deps;
  const store = createPgAlertStore(pool);
  const openApi = openApiFor('notification-service', apiVersion);
  const feed = createPgAlertFeed({
    store,
    listenClientConfig: deps.listenClientConfig,
    schema: deps.databaseSchema,
    log,
    metrics,
    ...(deps.feedFallbackPollMs === undefined ? {} : { fallbackPollMs: deps.feedFallbackPollMs }),
  });

  const http = createHttpApp({
    log,
    metrics,
    // The operator page's policy: its own scripts, styles and socket only, nothing inline.
    security: { ...deps.security, contentSecurityPolicy: OPERATOR_PAGE_CSP },
    readiness: [{ name: 'database', check: () => pool.query('SELECT 1') }, broker.readinessCheck()],
    routes: (app) => {
      const router = express.Router();
      router.get('/openapi.json', (_req, res) => {
        res.json(openApi);
      });
      mountNotificationRoutes(router, { store, authenticate: userAuthenticator(jwt) });
      app.use(router);
      mountOperatorPage(app, {
        routingWorkerUrl: deps.routingWorkerUrl,
        historyServiceUrl: deps.historyServiceUrl,
        jwt,
        allowDevSignIn: deps.allowDevSignIn,
        log,
      });
    },
  });

  // Default path (/socket.io/), which also serves the browser client script the operator page loads.
  // The page is served from this origin; other origins only when configured (MCMS_CORS_ORIGINS).
  const socketLimits = deps.socketLimits ?? DEFAULT_SOCKET_LIMITS;
  const io: NotificationServer = new Server({
    ...socketLimitOptions(socketLimits),
    ...socketServerOptions(deps.security?.corsOrigins ?? []),
  });
  serveNotificationSocket(io, { jwt, store, feed, log, metrics, limits: socketLimits });

  let consumer: Consumer | undefined;
  let attached = false;
  return {
    http,
    attach(server) {
      if (attached) throw new Error('socket.io is attached to a server already');
      attached = true;
      io.attach(server);
    },
    async start() {
      // The feed first: its cursor is where live delivery starts, and alerts stored from here on reach it.
      await feed.start();
      const handlers = alertEventHandlers({ store, metrics });
      const prefetch = deps.prefetch ?? 64;
      consumer ??= broker.consume({
        queue: ALERTS_QUEUE,
        handlers,
        prefetch,
        // The store groups concurrent writes into one INSERT already; the batch acks them together.
        batch: { maxMessages: Math.min(32, prefetch), maxWaitMs: 5, handle: handleConcurrently(handlers) },
      });
      await consumer.ready;
    },
    async stop() {
      // Closing the connections (not a socket.io "server disconnect") makes clients reconnect by
      // themselves, to another replica or to this one once it is back, and resume from their last id.
      if (attached) io.engine.close();
      await consumer?.stop();
      consumer = undefined;
      await feed.stop();
    },
  };
}
