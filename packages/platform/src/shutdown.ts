import type { Logger } from './logger';

/** One thing to stop (a server, a consumer, a pool); awaited if it returns a promise, its value ignored. */
export type ShutdownStep = () => unknown;

/** Options for {@link runShutdown} and {@link onShutdown}. */
export interface ShutdownOptions {
  /**
   * Budget for all steps together; default 25 s, inside Kubernetes' 30 s grace period so we exit
   * on our own terms before the SIGKILL.
   */
  timeoutMs?: number;
}

/** How a shutdown went. */
export interface ShutdownResult {
  /** No step failed and the budget held. */
  ok: boolean;
  /** Names of the steps that threw, in order (`stop`, or `step 3` for an anonymous function). */
  failed: string[];
  timedOut: boolean;
}

/**
 * Runs `steps` one after another, each awaited; a step that throws is logged and the next one still
 * runs, so a failing consumer never keeps the database pool open. Past `timeoutMs` no further step
 * starts and the result says `timedOut`. Never rejects.
 */
export async function runShutdown(
  log: Logger,
  steps: readonly ShutdownStep[],
  options: ShutdownOptions = {},
): Promise<ShutdownResult> {
  const { timeoutMs = 25_000 } = options;
  const failed: string[] = [];
  let expired = false;

  const sequence = (async () => {
    for (const [index, step] of steps.entries()) {
      if (expired) return;
      const name = step.name || `step ${index + 1}`;
      try {
        await step();
        log.info({ step: name }, 'shutdown step done');
      } catch (err) {
        failed.push(name);
        log.error({ err, step: name }, 'shutdown step failed');
      }
    }
  })();

  let timer: NodeJS.Timeout | undefined;
  const budgetSpent = new Promise<'timed-out'>((resolve) => {
    timer = setTimeout(() => resolve('timed-out'), timeoutMs);
  });
  const outcome = await Promise.race([sequence.then(() => 'done' as const), budgetSpent]);
  clearTimeout(timer);

  const timedOut = outcome === 'timed-out';
  if (timedOut) {
    expired = true;
    log.error({ timeoutMs }, 'shutdown timed out');
  }
  return { ok: failed.length === 0 && !timedOut, failed: [...failed], timedOut };
}

/** Options for {@link onShutdown}; `exit` exists for tests. */
export interface OnShutdownOptions extends ShutdownOptions {
  exit?: (code: number) => void;
}

const SIGNALS: readonly NodeJS.Signals[] = ['SIGTERM', 'SIGINT'];

/**
 * On the first SIGTERM or SIGINT runs {@link runShutdown} and exits with 0, or 1 if a step failed
 * or the budget ran out. Later signals are logged and ignored rather than killing the process
 * halfway through closing things (an impatient second Ctrl-C included). Returns a function that
 * removes the handlers.
 */
export function onShutdown(
  log: Logger,
  steps: readonly ShutdownStep[],
  options: OnShutdownOptions = {},
): () => void {
  const { exit = (code: number) => process.exit(code), ...shutdownOptions } = options;
  let started = false;

  const handle = (signal: NodeJS.Signals) => {
    if (started) {
      log.warn({ signal }, 'shutdown already in progress; signal ignored');
      return;
    }
    started = true;
    log.info({ signal }, 'shutting down');
    void runShutdown(log, steps, shutdownOptions).then((result) => exit(result.ok ? 0 : 1));
  };

  for (const signal of SIGNALS) process.on(signal, handle);
  return () => {
    for (const signal of SIGNALS) process.off(signal, handle);
  };
}
