import { randomUUID } from 'node:crypto';
import {
  CONTRACTS_VERSION,
  EspritGenerationCommand,
  maxBodyBytesOf,
  openApiFor,
  serviceApis,
} from '@mcms/contracts';
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
import { createAddinRateLimiter, type AddinRateLimits } from './adapters/addin-rate-limits';
import { createGatewayAuthenticator } from './adapters/authenticate';
import { espritGenerationHandler } from './adapters/esprit-generation.consumer';
import { mountGatewayRoutes } from './adapters/http-routes';
import { createJobStore, type JobStore, type SweptJob } from './adapters/job-store';
import { createJobWaiters } from './adapters/job-waiters';
import { createKeyStore, withKeyCache, type KeyStore } from './adapters/key-store';
import { startLeaseSweeper, type LeaseSweeper } from './adapters/lease-sweeper';
import type { ExpiryPolicy } from './domain/expiry';
import { hashKey, keyExpiry } from './domain/keys';
import { ESPRIT_GENERATION_QUEUE } from './topology';

/** The gateway's settings that are not infrastructure. */
export interface GatewaySettings {
  leaseMs: number;
  expiry: ExpiryPolicy;
  sweepIntervalMs: number;
  keyTtlDays: number;
  /** Registered at start when set (development, demos, tests). */
  bootstrapKey?: string | undefined;
  maxWaiters: number;
  longPollFallbackMs: number;
  /** Concurrent EspritGenerationCommand handlers; default 16. */
  prefetch?: number;
  /** Add-in calls per key and per device (decision 0009); none when absent. */
  addinRateLimits?: AddinRateLimits;
  /** How long a looked-up add-in key is answered from memory (decision 0012); default 1 s, 0 = never. */
  keyCacheMs?: number;
}

/** Everything the gateway runs on; `main.ts` builds it from the environment, tests from their own. */
export interface GatewayDeps {
  /** search_path = `schema`: every statement (no Prisma client at run time), and the long poll's LISTEN connection. */
  pool: Pool;
  schema: string;
  broker: Broker;
  jwt: JwtAuth;
  log: Logger;
  metrics: Metrics;
  settings: GatewaySettings;
  /** Defaults to the system clock; tests pass their own to expire leases without waiting. */
  clock?: () => Date;
  /** CORS, auth-failure limit, proxy hops (from `httpSecurityFrom(config)`); safe defaults when absent. */
  security?: HttpSecurityOptions;
}

/** A built gateway: the express app (not listening) and the background work `start` begins. */
export interface Gateway {
  http: Express;
  /** Registers the bootstrap key, starts consuming, listening for new jobs and sweeping leases. */
  start(): Promise<void>;
  /** Stops the background work and answers waiting long polls, so the HTTP server can close promptly. */
  stop(): Promise<void>;
  /** Runs one lease sweep now (operations and tests); what it changed. */
  sweepNow(): Promise<SweptJob[]>;
  readonly jobs: JobStore;
  readonly keys: KeyStore;
}

export const SERVICE_NAME = 'addin-gateway' as const;

/** Wires the gateway: routes, consumer, long poll and sweeper over the given infrastructure. No env, no listen. */
export function buildApp(deps: GatewayDeps): Gateway {
  const { pool, schema, broker, jwt, log, metrics, settings } = deps;
  const clock = deps.clock ?? (() => new Date());
  const jobs = createJobStore(pool);
  const keys = withKeyCache(createKeyStore(pool), { ttlMs: settings.keyCacheMs ?? 1_000 });
  const waiters = createJobWaiters({
    pool,
    schema,
    log,
    metrics,
    maxWaiters: settings.maxWaiters,
    fallbackMs: settings.longPollFallbackMs,
    countPending: (limit) => jobs.countPending(limit),
  });
  // The same document as docs/openapi/addin-gateway.json: both come from the contract's route definitions.
  const openApiDocument = openApiFor(SERVICE_NAME, CONTRACTS_VERSION);

  const http = createHttpApp({
    log,
    metrics,
    security: deps.security,
    // Read no more than the largest route limit (/complete's); each route then applies its own.
    bodyLimit: Math.max(...serviceApis[SERVICE_NAME].routes.map(maxBodyBytesOf)),
    readiness: [{ name: 'database', check: () => pool.query('SELECT 1') }, broker.readinessCheck()],
    routes: (app) =>
      mountGatewayRoutes(app, {
        authenticate: createGatewayAuthenticator({
          jwt,
          keys,
          clock,
          log,
          rateLimit: createAddinRateLimiter(settings.addinRateLimits ?? {}),
        }),
        jobs,
        keys,
        waiters,
        clock,
        leaseMs: settings.leaseMs,
        keyTtlDays: settings.keyTtlDays,
        openApiDocument,
        metrics,
      }),
  });

  let consumer: Consumer | undefined;
  let sweeper: LeaseSweeper | undefined;

  return {
    http,
    jobs,
    keys,

    async start() {
      if (settings.bootstrapKey !== undefined) {
        const now = clock();
        await keys.registerConfigured({
          keyId: randomUUID(),
          name: 'bootstrap (ADDIN_BOOTSTRAP_KEY)',
          keyHash: hashKey(settings.bootstrapKey),
          createdBy: 'ADDIN_BOOTSTRAP_KEY',
          createdAt: now,
          expiresAt: keyExpiry(now, settings.keyTtlDays),
          revokedAt: null,
          lastUsedAt: null,
        });
        log.info('bootstrap add-in key registered');
      }
      await waiters.start();
      consumer = broker.consume({
        queue: ESPRIT_GENERATION_QUEUE,
        handlers: { [EspritGenerationCommand.type]: espritGenerationHandler({ jobs, clock }) },
        prefetch: settings.prefetch ?? 16,
      });
      await consumer.ready;
      sweeper = startLeaseSweeper({
        jobs,
        policy: settings.expiry,
        intervalMs: settings.sweepIntervalMs,
        clock,
        log,
        metrics,
      });
    },

    async stop() {
      await consumer?.stop();
      await sweeper?.stop();
      await waiters.stop();
    },

    sweepNow() {
      if (sweeper === undefined) throw new Error('the gateway is not started');
      return sweeper.sweepNow();
    },
  };
}
