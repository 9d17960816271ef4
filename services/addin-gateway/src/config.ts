import {
  baseServiceConfig,
  brokerServiceConfig,
  envDurationMs,
  envInt,
  envPort,
  httpSecurityConfig,
} from '@mcms/platform';
import { z } from 'zod';

/** The gateway's environment. Keys are the variable names; `loadConfig` names every bad one at once. */
export const gatewayConfig = z.object({
  ...baseServiceConfig,
  PORT: envPort(8080),
  ...brokerServiceConfig,
  ...httpSecurityConfig,
  /** How long an add-in holds a job without a heartbeat. */
  JOB_LEASE: envDurationMs('10m'),
  /** Attempts (hand-outs) before a job whose leases keep running out fails. */
  JOB_MAX_ATTEMPTS: envInt({ min: 1, max: 100, default: 5 }),
  /** How long a job may wait for an add-in to take it before it fails. */
  JOB_PENDING_TIMEOUT: envDurationMs('24h'),
  /** How often expired leases and timed-out Pending jobs are looked for. */
  LEASE_SWEEP_INTERVAL: envDurationMs('5s'),
  /** Default lifetime of a new add-in key. */
  ADDIN_KEY_TTL_DAYS: envInt({ min: 1, max: 365, default: 30 }),
  /**
   * How long a looked-up add-in key is answered from memory: a key revoked on another replica keeps working
   * here for at most this long (decision 0012). 0 = look every key up on every call.
   */
  ADDIN_KEY_CACHE: envDurationMs('1s'),
  /** A key registered at start (development, demos, tests); at least 16 characters. */
  ADDIN_BOOTSTRAP_KEY: z.string().min(16, { error: 'expected at least 16 characters' }).optional(),
  /** Long-polling `next` requests one process keeps waiting at once; more get 503 and Retry-After. */
  LONG_POLL_MAX_WAITERS: envInt({ min: 1, max: 100_000, default: 1_000 }),
  /** How often waiting requests look for jobs when no notification came (a missed NOTIFY). */
  LONG_POLL_FALLBACK: envDurationMs('5s'),
  /**
   * Add-in calls per device (key + X-Addin-Device) and window; 0 = no limit. A real add-in makes a few calls
   * a minute (a long poll every 30 s, a heartbeat every third of the lease, one completion per job).
   */
  ADDIN_RATE_LIMIT_PER_DEVICE: envInt({ min: 0, max: 10_000_000, default: 1_200 }),
  /** Add-in calls per key (every device sharing it) and window; 0 = no limit. */
  ADDIN_RATE_LIMIT_PER_KEY: envInt({ min: 0, max: 100_000_000, default: 60_000 }),
  ADDIN_RATE_LIMIT_WINDOW: envDurationMs('1m'),
});

/** The validated configuration. */
export type GatewayConfig = z.output<typeof gatewayConfig>;
