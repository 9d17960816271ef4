import { setMaxListeners } from 'node:events';
import type { AddinJob, CompleteJobBody } from '@mcms/contracts';
import type { AddinClient } from './client';
import { isAddinApiError } from './errors';
import { writeJobOutputs } from './outputs';
import { summarizeLatencies, type LatencySummary } from './stats';

/**
 * What a simulated add-in does with a job it took:
 * - `success`: writes the output files and completes with `completed`;
 * - `failure`: completes with `failed` and an ESPRIT-like message;
 * - `crash`: never completes nor heartbeats (the gateway's lease expiry must recover the job);
 * - `slow`: works longer than its lease, heartbeating every third of the lease, then succeeds.
 */
export type SimOutcome = 'success' | 'failure' | 'crash' | 'slow';

export const SIM_OUTCOMES: readonly SimOutcome[] = ['success', 'failure', 'crash', 'slow'];

/** Relative weights of the outcomes (any non-negative numbers; they need not add up to 1). */
export type OutcomeMix = Record<SimOutcome, number>;

/** A random draw in [0, 1) picks an outcome in proportion to the mix's weights. */
export function pickOutcome(mix: OutcomeMix, draw: number): SimOutcome {
  const total = SIM_OUTCOMES.reduce((sum, outcome) => sum + mix[outcome], 0);
  if (!(total > 0)) throw new Error('the outcome mix needs at least one positive weight');
  let threshold = draw * total;
  for (const outcome of SIM_OUTCOMES) {
    if (mix[outcome] <= 0) continue;
    if (threshold < mix[outcome]) return outcome;
    threshold -= mix[outcome];
  }
  // draw just below 1 with floating-point rounding: the last positive weight.
  return [...SIM_OUTCOMES].reverse().find((outcome) => mix[outcome] > 0)!;
}

/** The lease the gateway granted with this claim, from the job's own timestamps (no local clock involved). */
export function leaseMsOf(job: Pick<AddinJob, 'startedAt' | 'leaseExpiresAt'>): number {
  if (!job.startedAt || !job.leaseExpiresAt)
    throw new Error('a claimed job carries startedAt and leaseExpiresAt');
  return Math.max(0, Date.parse(job.leaseExpiresAt) - Date.parse(job.startedAt));
}

/** What one simulated device reports while it runs (progress output, tests). */
export type SimEvent =
  | {
      type: 'taken';
      deviceId: string;
      jobId: string;
      routingCode: string;
      attempt: number;
      outcome: SimOutcome;
    }
  | { type: 'heartbeat'; deviceId: string; jobId: string; leaseExpiresAt: string }
  | {
      type: 'completed';
      deviceId: string;
      jobId: string;
      resultStatus: 'completed' | 'failed';
      latencyMs: number;
    }
  | { type: 'crashed'; deviceId: string; jobId: string }
  | { type: 'lease-lost'; deviceId: string; jobId: string; reason: string }
  | { type: 'error'; deviceId: string; jobId?: string; code: string; message: string };

/** Options of {@link runSimulator}. */
export interface SimulatorOptions {
  /** Builds the add-in client of one device (each device has its own identity and leases). */
  createClient(deviceId: string): AddinClient;
  /** The shared drive's root, where successful jobs' files are written. */
  sharedDriveRoot: string;
  /** Simulated add-ins working at once; default 1. */
  devices?: number;
  /** Device ids are `<prefix>01`, `<prefix>02`, ...; default `SIM-`. */
  devicePrefix?: string;
  /** Default: every job succeeds. Missing outcomes weigh 0. */
  mix?: Partial<OutcomeMix>;
  /** Stop after taking this many jobs (all devices together). */
  maxJobs?: number;
  /** Stop taking jobs after this long. */
  durationMs?: number;
  /** Long-poll wait of each `next` call (0..30); default 10. */
  waitSeconds?: number;
  /** How long "ESPRIT" runs per job: a fixed time or a [min, max] range; default 0. */
  thinkMs?: number | readonly [number, number];
  /** How long a `slow` job works; default 1.5 × its lease, so it needs its heartbeats. */
  slowWorkMs?: number;
  /** The message of a `failure`. */
  failureMessage?: string;
  /** Stops taking new jobs; jobs in hand are finished. */
  signal?: AbortSignal;
  onEvent?: (event: SimEvent) => void;
  /** For exact tests: random draws in [0, 1) (outcomes, think times). Default `Math.random`. */
  random?: () => number;
  /** For exact tests: a millisecond clock (latencies, duration). Default `performance.now`. */
  now?: () => number;
  /** For exact tests: waiting (think time, heartbeats, back-off after errors). */
  sleep?: (ms: number) => Promise<void>;
}

/** What a simulator run did. */
export interface SimulatorSummary {
  devices: number;
  /** Jobs taken from the gateway. */
  taken: number;
  /** Jobs taken, by the outcome drawn for them. */
  outcomes: Record<SimOutcome, number>;
  /** `complete` calls answered 200, by the result reported. */
  reported: { completed: number; failed: number };
  heartbeats: number;
  /** Jobs given up because the gateway said the lease was no longer this device's (409). */
  leaseLost: number;
  /** Failed calls other than lease conflicts (after the client's own retries). */
  errors: number;
  /** The error that stopped every device (e.g. a rejected key), if any. */
  fatal: string | null;
  completeLatencyMs: LatencySummary;
  elapsedMs: number;
}

const DEFAULT_FAILURE_MESSAGE = 'ESPRIT: toolpath collision in operation 3 (simulated)';
const ERROR_BACKOFF_MS = 1_000;

/**
 * Runs simulated add-ins until `maxJobs` jobs were taken, `durationMs` passed, `signal` aborted, or a fatal
 * error (401/403: the key or device is refused). Each device loops: long-poll `next` → act out the drawn
 * outcome → `complete`. Resolves with the summary once every device has finished the job in its hands.
 */
export async function runSimulator(options: SimulatorOptions): Promise<SimulatorSummary> {
  const devices = options.devices ?? 1;
  const prefix = options.devicePrefix ?? 'SIM-';
  const mix: OutcomeMix = { success: 0, failure: 0, crash: 0, slow: 0, ...(options.mix ?? { success: 1 }) };
  pickOutcome(mix, 0); // fails fast on an empty mix
  const random = options.random ?? Math.random;
  const now = options.now ?? (() => performance.now());
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  const waitSeconds = options.waitSeconds ?? 10;
  const emit = options.onEvent ?? (() => {});
  const started = now();

  const summary: SimulatorSummary = {
    devices,
    taken: 0,
    outcomes: { success: 0, failure: 0, crash: 0, slow: 0 },
    reported: { completed: 0, failed: 0 },
    heartbeats: 0,
    leaseLost: 0,
    errors: 0,
    fatal: null,
    completeLatencyMs: summarizeLatencies([]),
    elapsedMs: 0,
  };
  const latencies: number[] = [];
  // Aborted by the caller's signal or a fatal error: cancels long polls in flight.
  const stopPolling = new AbortController();
  // Every device's long poll listens on this one signal: past 10 devices Node would warn of a leak.
  setMaxListeners(devices + 10, stopPolling.signal);
  const onAbort = () => stopPolling.abort();
  options.signal?.addEventListener('abort', onAbort, { once: true });
  if (options.signal?.aborted) stopPolling.abort();
  // Slots are reserved before polling, so all devices together never take more than maxJobs.
  let reserved = 0;

  const remainingMs = () =>
    options.durationMs === undefined ? Infinity : options.durationMs - (now() - started);
  const thinkTime = () => {
    const think = options.thinkMs ?? 0;
    if (typeof think === 'number') return think;
    const [min, max] = think;
    return min + (max - min) * random();
  };

  async function completeJob(client: AddinClient, job: AddinJob, body: CompleteJobBody): Promise<void> {
    const before = now();
    try {
      await client.complete(job.jobId, body);
    } catch (err) {
      countFailure(client.deviceId, job.jobId, err);
      return;
    }
    const latencyMs = now() - before;
    latencies.push(latencyMs);
    summary.reported[body.resultStatus === 'completed' ? 'completed' : 'failed'] += 1;
    emit({
      type: 'completed',
      deviceId: client.deviceId,
      jobId: job.jobId,
      resultStatus: body.resultStatus,
      latencyMs,
    });
  }

  function countFailure(deviceId: string, jobId: string | undefined, err: unknown): void {
    if (isAddinApiError(err) && err.status === 409 && jobId !== undefined) {
      summary.leaseLost += 1;
      emit({ type: 'lease-lost', deviceId, jobId, reason: err.code });
      return;
    }
    summary.errors += 1;
    const code = isAddinApiError(err) ? err.code : 'simulator_error';
    const message = err instanceof Error ? err.message : String(err);
    emit({ type: 'error', deviceId, ...(jobId === undefined ? {} : { jobId }), code, message });
    if (isAddinApiError(err) && (err.status === 401 || err.status === 403)) {
      summary.fatal ??= message;
      stopPolling.abort();
    }
  }

  async function succeed(client: AddinClient, job: AddinJob): Promise<void> {
    let outputs;
    try {
      outputs = await writeJobOutputs(options.sharedDriveRoot, job);
    } catch (err) {
      // What a real add-in does when it can't write its files: report the failure, don't leave the job hanging.
      const message = `could not write the output files: ${err instanceof Error ? err.message : String(err)}`;
      await completeJob(client, job, { resultStatus: 'failed', message: message.slice(0, 4000) });
      return;
    }
    await completeJob(client, job, { resultStatus: 'completed', outputs });
  }

  /** Works `workMs`, heartbeating every third of the lease; false when the lease was lost meanwhile. */
  async function workWithHeartbeats(client: AddinClient, job: AddinJob, workMs: number): Promise<boolean> {
    const interval = Math.max(1, leaseMsOf(job) / 3);
    let remaining = workMs;
    while (remaining > 0) {
      const step = Math.min(interval, remaining);
      await sleep(step);
      remaining -= step;
      if (remaining <= 0) break;
      try {
        const lease = await client.heartbeat(job.jobId);
        summary.heartbeats += 1;
        emit({
          type: 'heartbeat',
          deviceId: client.deviceId,
          jobId: job.jobId,
          leaseExpiresAt: lease.leaseExpiresAt,
        });
      } catch (err) {
        countFailure(client.deviceId, job.jobId, err);
        if (isAddinApiError(err) && err.status === 409) return false;
      }
    }
    return true;
  }

  async function handle(client: AddinClient, job: AddinJob): Promise<void> {
    const outcome = pickOutcome(mix, random());
    summary.taken += 1;
    summary.outcomes[outcome] += 1;
    emit({
      type: 'taken',
      deviceId: client.deviceId,
      jobId: job.jobId,
      routingCode: job.routingCode,
      attempt: job.attempt,
      outcome,
    });
    switch (outcome) {
      case 'crash':
        emit({ type: 'crashed', deviceId: client.deviceId, jobId: job.jobId });
        return;
      case 'failure':
        await sleep(thinkTime());
        await completeJob(client, job, {
          resultStatus: 'failed',
          message: options.failureMessage ?? DEFAULT_FAILURE_MESSAGE,
        });
        return;
      case 'success':
        await sleep(thinkTime());
        await succeed(client, job);
        return;
      case 'slow':
        if (await workWithHeartbeats(client, job, options.slowWorkMs ?? leaseMsOf(job) * 1.5))
          await succeed(client, job);
        return;
    }
  }

  async function device(deviceId: string): Promise<void> {
    const client = options.createClient(deviceId);
    while (!stopPolling.signal.aborted) {
      const remaining = remainingMs();
      if (remaining <= 0) break;
      if (options.maxJobs !== undefined && reserved >= options.maxJobs) break;
      reserved += 1;
      let job: AddinJob | null;
      try {
        const wait = Math.min(waitSeconds, Math.ceil(remaining / 1_000));
        job = await client.next({ waitSeconds: wait, signal: stopPolling.signal });
      } catch (err) {
        reserved -= 1;
        if (isAddinApiError(err, 'aborted')) break;
        countFailure(deviceId, undefined, err);
        if (!stopPolling.signal.aborted) await sleep(ERROR_BACKOFF_MS);
        continue;
      }
      if (job === null) {
        reserved -= 1;
        continue;
      }
      try {
        await handle(client, job);
      } catch (err) {
        // Anything unexpected (a bug, a broken disk) is counted, not fatal: the other jobs go on.
        countFailure(deviceId, job.jobId, err);
      }
    }
  }

  const ids = Array.from({ length: devices }, (_, i) => `${prefix}${String(i + 1).padStart(2, '0')}`);
  await Promise.all(ids.map(device));
  options.signal?.removeEventListener('abort', onAbort);
  summary.completeLatencyMs = summarizeLatencies(latencies);
  summary.elapsedMs = now() - started;
  return summary;
}
