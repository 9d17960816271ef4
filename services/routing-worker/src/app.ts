import { randomUUID } from 'node:crypto';
import type { Broker, Consumer } from '@mcms/messaging';
import {
  createHttpApp,
  type HttpSecurityOptions,
  type JwtAuth,
  type Logger,
  type Metrics,
} from '@mcms/platform';
import type { Express } from 'express';
import type { Pool } from 'pg';
import { createRoutingUseCases } from './application/routing-use-cases';
import { jobProgressConsumption, jobResultConsumption } from './adapters/consumers';
import { mountRoutingRoutes } from './adapters/http-routes';
import { routingWorkerOpenApi } from './adapters/openapi';
import { createPgRoutingStore } from './adapters/pg-routing-store';
import { PROGRESS_QUEUE, RESULTS_QUEUE } from './adapters/topology';
import type { SharedDrive } from './domain/ports';

/** What the routing-worker is built from; `main.ts` makes the real ones, tests may pin time and ids. */
export interface RoutingWorkerDeps {
  /** search_path = the service's schema: every statement (no Prisma client at run time), and the outbox relay's. */
  pool: Pool;
  /** Connected with `routingWorkerTopology(...)`. */
  broker: Broker;
  jwt: JwtAuth;
  sharedDrive: SharedDrive;
  log: Logger;
  metrics: Metrics;
  clock?: () => Date;
  newId?: () => string;
  /** Unacknowledged messages per queue; default 64. */
  prefetch?: number;
  /** CORS, auth-failure limit, proxy hops (from `httpSecurityFrom(config)`); safe defaults when absent. */
  security?: HttpSecurityOptions;
  /**
   * Results (and, alike, progress events) applied together in one transaction: at most `maxMessages` (default 32, at most `prefetch`),
   * the first waiting at most `maxWaitMs` (default 5) for the others, at most `maxConcurrent` batches
   * at once (default 2: one checking files while another commits; the rest gather into the next).
   */
  resultBatch?: { maxMessages: number; maxWaitMs: number; maxConcurrent?: number };
}

/** The service, built but not started: nothing listens and nothing is consumed until asked. */
export interface RoutingWorkerApp {
  http: Express;
  /** Starts the consumers; resolves once both are subscribed. */
  start(): Promise<void>;
  /** Stops the consumers, letting running handlers finish. */
  stop(): Promise<void>;
}

export function buildApp(deps: RoutingWorkerDeps): RoutingWorkerApp {
  const { pool, broker, jwt, sharedDrive, log, metrics } = deps;
  const clock = deps.clock ?? (() => new Date());
  const store = createPgRoutingStore(pool);
  const useCases = createRoutingUseCases({ store, clock, newId: deps.newId ?? randomUUID });
  const openApi = routingWorkerOpenApi();

  const http = createHttpApp({
    log,
    metrics,
    security: deps.security,
    readiness: [{ name: 'database', check: () => pool.query('SELECT 1') }, broker.readinessCheck()],
    routes: (app) => {
      app.get('/openapi.json', (_req, res) => {
        res.json(openApi);
      });
      mountRoutingRoutes(app, { useCases, jwt });
    },
  });

  let consumers: Consumer[] = [];
  return {
    http,
    async start() {
      const prefetch = deps.prefetch ?? 64;
      const resultBatch = deps.resultBatch ?? {
        maxMessages: Math.min(32, prefetch),
        maxWaitMs: 5,
        maxConcurrent: 2,
      };
      consumers = [
        broker.consume({
          queue: RESULTS_QUEUE,
          ...jobResultConsumption({ store, sharedDrive, clock, metrics }, resultBatch),
          prefetch,
        }),
        broker.consume({
          queue: PROGRESS_QUEUE,
          ...jobProgressConsumption({ store, clock }, resultBatch),
          prefetch,
        }),
      ];
      await Promise.all(consumers.map((consumer) => consumer.ready));
    },
    async stop() {
      await Promise.all(consumers.map((consumer) => consumer.stop()));
      consumers = [];
    },
  };
}
