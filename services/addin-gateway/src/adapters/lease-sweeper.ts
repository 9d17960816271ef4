import type { Logger, Metrics } from '@mcms/platform';
import type { ExpiryPolicy } from '../domain/expiry';
import type { JobStore, SweptJob } from './job-store';

/** A running sweeper. */
export interface LeaseSweeper {
  /** Sweeps now (waiting for a sweep already running first); what it changed. */
  sweepNow(): Promise<SweptJob[]>;
  /** Stops the timer and waits for a sweep in progress. */
  stop(): Promise<void>;
}

/**
 * Every `intervalMs`, requeues jobs whose lease ran out and fails those out of attempts or waiting too long
 * (see `decideExpiry`). Safe with several replicas: each batch locks its rows with SKIP LOCKED.
 */
export function startLeaseSweeper(options: {
  jobs: JobStore;
  policy: ExpiryPolicy;
  intervalMs: number;
  clock: () => Date;
  log: Logger;
  metrics?: Metrics;
}): LeaseSweeper {
  const { jobs, policy, intervalMs, clock } = options;
  const log = options.log.child({ component: 'lease-sweeper' });
  const expired = options.metrics?.counter(
    'mcms_addin_jobs_expired_total',
    'Jobs requeued or failed by the sweeper',
    ['action'],
  );
  let running: Promise<SweptJob[]> | undefined;
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;

  async function sweep(): Promise<SweptJob[]> {
    const swept = await jobs.sweep(clock(), policy);
    for (const { job, decision } of swept) {
      expired?.inc({ action: decision.kind === 'requeue' ? 'requeued' : 'failed' });
      log.info(
        { jobId: job.jobId, routingId: job.routingId, action: decision.kind, attempt: job.attempt },
        decision.reason,
      );
    }
    return swept;
  }

  function sweepNow(): Promise<SweptJob[]> {
    const next: Promise<SweptJob[]> = (running ?? Promise.resolve([])).catch(() => []).then(sweep);
    running = next;
    void next
      .finally(() => {
        if (running === next) running = undefined;
      })
      .catch(() => undefined);
    return next;
  }

  function schedule(): void {
    if (stopped) return;
    timer = setTimeout(() => {
      sweepNow()
        .catch((err: unknown) => log.warn({ err }, 'lease sweep failed; trying again next interval'))
        .finally(schedule);
    }, intervalMs);
  }
  schedule();

  return {
    sweepNow,
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await running?.catch(() => undefined);
    },
  };
}
