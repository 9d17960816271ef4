import { AppError, type Logger, type Metrics } from '@mcms/platform';
import { escapeIdentifier, type Pool, type PoolClient } from 'pg';
import type { Job } from '../domain/job';

/** Options of {@link createJobWaiters}. */
export interface JobWaitersOptions {
  /** Connections whose search_path is the gateway's schema; one is held for LISTEN. */
  pool: Pool;
  /** The gateway's schema: names the channel `mcms_jobs_<schema>` its job trigger notifies. */
  schema: string;
  log: Logger;
  metrics?: Metrics;
  /** Requests one process keeps waiting at once; more are refused with 503 `too_many_waiters`. */
  maxWaiters: number;
  /** How often waiting requests look for jobs without a notification (one was missed, or LISTEN is down). */
  fallbackMs: number;
  /** Pending jobs, counted up to `limit`: how many waiters a fallback tick wakes. */
  countPending(limit: number): Promise<number>;
}

/** Long polling for `GET /api/addin/jobs/next`. */
export interface JobWaiters {
  /** Opens the LISTEN connection and starts the fallback timer. */
  start(): Promise<void>;
  /** Answers every waiting request (with no job) and closes the LISTEN connection. */
  stop(): Promise<void>;
  /**
   * Claims a job with `claim`; when there is none, waits up to `waitMs` for a notification, claims again when
   * woken, and so on until it gets a job or the time is up (undefined). Gives up when `signal` aborts (the
   * client went away) without claiming anything more.
   */
  take(options: {
    claim: () => Promise<Job | undefined>;
    waitMs: number;
    signal: AbortSignal;
  }): Promise<Job | undefined>;
  /** Requests waiting now. */
  size(): number;
}

interface Waiter {
  /** A wake that the waiter has not consumed yet (it may be busy claiming when it arrives). */
  woken: boolean;
  /** Ends the current wait, when the waiter is waiting. */
  resolve: (() => void) | undefined;
}

/**
 * How many jobs one notification announces: the INSERT trigger's payload is the number of jobs a statement
 * created, the requeue trigger's is one job's id (which may begin with digits, so only a payload of nothing but
 * digits is a count); anything else, or nothing, is one.
 */
export function jobsNotified(payload: string | undefined): number {
  if (payload === undefined || !/^[0-9]{1,9}$/.test(payload)) return 1;
  return Math.max(1, Number(payload));
}

/**
 * Long polling without a polling loop per request. The job table's triggers NOTIFY `mcms_jobs_<schema>` when
 * jobs become Pending (see {@link jobsNotified}); one LISTEN connection per process wakes that many waiters,
 * oldest first. A woken waiter tries to claim; a loser (another process or request was faster) waits again
 * until its own deadline. A slow fallback timer counts Pending jobs and wakes that many waiters, covering
 * notifications lost while the LISTEN connection was down.
 */
export function createJobWaiters(options: JobWaitersOptions): JobWaiters {
  const { pool, log: parentLog, maxWaiters, fallbackMs, countPending } = options;
  const channel = `mcms_jobs_${options.schema}`;
  if (Buffer.byteLength(channel) > 63) {
    // PostgreSQL truncates identifiers at 63 bytes: LISTEN would wait on another channel than the trigger's.
    throw new Error(`job channel ${channel} is longer than 63 bytes; use a shorter schema name`);
  }
  const log = parentLog.child({ component: 'job-waiters' });
  const waitingGauge = options.metrics?.gauge(
    'mcms_addin_long_poll_waiters',
    'Long-polling next-job requests waiting',
  );
  const waiters = new Set<Waiter>();
  let stopped = false;
  let listener: { client: PoolClient; release: (err?: Error) => void } | undefined;
  let reconnectTimer: NodeJS.Timeout | undefined;
  let fallbackTimer: NodeJS.Timeout | undefined;
  let listenFailures = 0;

  function wake(count: number): void {
    let left = count;
    for (const waiter of waiters) {
      if (left <= 0) break;
      if (waiter.woken) continue;
      waiter.woken = true;
      waiter.resolve?.();
      left -= 1;
    }
  }

  function idleWaiters(): number {
    let n = 0;
    for (const waiter of waiters) if (!waiter.woken) n += 1;
    return n;
  }

  async function lookForJobs(): Promise<void> {
    const idle = idleWaiters();
    if (idle === 0 || stopped) return;
    try {
      wake(await countPending(idle));
    } catch (err) {
      log.warn({ err }, 'could not count Pending jobs for waiting add-ins');
    }
  }

  function wait(waiter: Waiter, ms: number, signal: AbortSignal): Promise<void> {
    if (waiter.woken || stopped || signal.aborted) {
      waiter.woken = false;
      return Promise.resolve();
    }
    return new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        signal.removeEventListener('abort', done);
        waiter.resolve = undefined;
        waiter.woken = false;
        resolve();
      };
      const timer = setTimeout(done, ms);
      signal.addEventListener('abort', done);
      waiter.resolve = done;
    });
  }

  async function listen(): Promise<void> {
    if (stopped) return;
    let client: PoolClient;
    try {
      client = await pool.connect();
    } catch (err) {
      scheduleReconnect(err);
      return;
    }
    let released = false;
    // Our listeners go before the client returns to the pool: the pool may end it later, and that is not ours.
    const release = (err?: Error) => {
      if (released) return;
      released = true;
      if (listener?.client === client) listener = undefined;
      client.removeListener('error', onLost);
      client.removeListener('end', onLost);
      client.removeListener('notification', onNotification);
      client.release(err);
    };
    const onLost = (err?: unknown) => {
      if (released) return;
      // Handing it back as broken makes the pool discard the connection.
      release(err instanceof Error ? err : new Error('LISTEN connection ended'));
      scheduleReconnect(err);
    };
    const onNotification = (notification: { channel: string; payload?: string | undefined }) => {
      if (notification.channel !== channel) return;
      wake(jobsNotified(notification.payload));
    };
    client.on('error', onLost);
    client.on('end', onLost);
    client.on('notification', onNotification);
    try {
      await client.query(`LISTEN ${escapeIdentifier(channel)}`);
    } catch (err) {
      onLost(err);
      return;
    }
    if (stopped) {
      release(new Error('stopped while connecting'));
      return;
    }
    listener = { client, release };
    if (listenFailures > 0) log.info('job LISTEN connection restored');
    listenFailures = 0;
    // Jobs that became Pending while nobody listened sent notifications nobody heard.
    void lookForJobs();
  }

  function scheduleReconnect(err: unknown): void {
    if (stopped || reconnectTimer) return;
    listenFailures += 1;
    const delay = Math.min(10_000, 100 * 2 ** Math.min(listenFailures, 10));
    log.warn({ err, retryInMs: delay }, 'job LISTEN connection lost; waiting add-ins fall back to the timer');
    reconnectTimer = setTimeout(() => {
      reconnectTimer = undefined;
      void listen();
    }, delay);
  }

  function scheduleFallback(): void {
    if (stopped) return;
    fallbackTimer = setTimeout(() => {
      void lookForJobs().finally(scheduleFallback);
    }, fallbackMs);
  }

  return {
    async start() {
      await listen();
      scheduleFallback();
    },

    async stop() {
      stopped = true;
      clearTimeout(reconnectTimer);
      clearTimeout(fallbackTimer);
      for (const waiter of waiters) waiter.resolve?.();
      const current = listener;
      listener = undefined;
      // Discarded rather than pooled: a pooled connection would keep LISTENing for whoever gets it next.
      current?.release(new Error('job waiters stopped'));
    },

    async take({ claim, waitMs, signal }) {
      if (waitMs <= 0) return claim();
      if (stopped) return undefined;
      if (waiters.size >= maxWaiters) {
        throw new AppError({
          code: 'too_many_waiters',
          message: `${maxWaiters} add-ins are already waiting here; retry shortly`,
          httpStatus: 503,
          retryable: true,
        });
      }
      // Registered before the first claim, so a job that arrives between that claim and the wait still wakes us.
      const waiter: Waiter = { woken: false, resolve: undefined };
      waiters.add(waiter);
      waitingGauge?.set(waiters.size);
      const deadline = performance.now() + waitMs;
      let job: Job | undefined;
      try {
        for (;;) {
          if (signal.aborted || stopped) return undefined;
          job = await claim();
          if (job !== undefined) return job;
          const left = deadline - performance.now();
          if (left <= 0) return undefined;
          await wait(waiter, left, signal);
        }
      } finally {
        waiters.delete(waiter);
        waitingGauge?.set(waiters.size);
        // A wake that arrived while this request was busy was meant for some waiter: pass it on.
        if (waiter.woken && !stopped) wake(1);
      }
    },

    size: () => waiters.size,
  };
}
