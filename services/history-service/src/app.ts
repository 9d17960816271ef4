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
import type { Pool } from 'pg';
import { HISTORY_EVENTS_QUEUE, historyEventHandlers } from './adapters/history-events.consumer';
import { mountHistoryRoutes } from './adapters/history.routes';
import { createPgHistoryStore } from './adapters/pg-history-store';

// The same path from src/ (Jest) and dist/ (node): the service's own package.json.
const { version: apiVersion } = require('../package.json') as { version: string };

/** What the history-service is built from; `main.ts` makes them, component tests make their own. */
export interface HistoryAppDeps {
  /** The service's connections (search_path = its schema): the history's writes and reads. */
  pool: Pool;
  broker: Broker;
  jwt: JwtAuth;
  log: Logger;
  metrics: Metrics;
  /** Events handled at once; default 64. */
  prefetch?: number;
  /** CORS, auth-failure limit, proxy hops; safe defaults when absent. */
  security?: HttpSecurityOptions;
}

/** The service, not yet running: `http` to listen with, `start()` to consume, `stop()` to drain. */
export interface HistoryApp {
  http: Express;
  start(): Promise<void>;
  stop(): Promise<void>;
}

export function buildApp(deps: HistoryAppDeps): HistoryApp {
  const { pool, broker, jwt, log, metrics } = deps;
  const store = createPgHistoryStore(pool);
  const openApi = openApiFor('history-service', apiVersion);

  const http = createHttpApp({
    log,
    metrics,
    security: deps.security,
    readiness: [{ name: 'database', check: () => pool.query('SELECT 1') }, broker.readinessCheck()],
    routes: (app) => {
      const router = express.Router();
      router.get('/openapi.json', (_req, res) => {
        res.json(openApi);
      });
      mountHistoryRoutes(router, { store, authenticate: userAuthenticator(jwt) });
      app.use(router);
    },
  });

  let consumer: Consumer | undefined;
  return {
    http,
    async start() {
      const handlers = historyEventHandlers({ store, metrics });
      const prefetch = deps.prefetch ?? 64;
      consumer ??= broker.consume({
        queue: HISTORY_EVENTS_QUEUE,
        handlers,
        prefetch,
        // The store groups concurrent writes into one INSERT already; the batch acks them together.
        batch: { maxMessages: Math.min(32, prefetch), maxWaitMs: 5, handle: handleConcurrently(handlers) },
      });
      await consumer.ready;
    },
    async stop() {
      await consumer?.stop();
      consumer = undefined;
    },
  };
}
