/** Options of {@link waitFor} and {@link eventually}. */
export interface WaitOptions {
  /** Give up after this long. Default 10 s. */
  timeoutMs?: number;
  /** Time between probes: a polling interval, never a wait for an outcome. Default 20 ms. */
  intervalMs?: number;
  /** Named in the timeout error. */
  what?: string;
}

async function poll<T>(
  probe: () => T | Promise<T>,
  done: (value: T) => boolean,
  { timeoutMs = 10_000, intervalMs = 20, what = 'condition' }: WaitOptions,
): Promise<T> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (done(value)) return value;
    if (performance.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; last seen: ${preview(value)}`);
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

/**
 * Polls `probe` until it returns something truthy, and returns that; throws after the deadline,
 * naming `what` and the last value seen. Waiting on a condition, never a fixed sleep.
 */
export function waitFor<T>(probe: () => T | Promise<T>, options: WaitOptions = {}): Promise<NonNullable<T>> {
  return poll(probe, Boolean, options) as Promise<NonNullable<T>>;
}

/**
 * Polls `probe` until it returns something other than `undefined` or `false` — so `0`, `''` and
 * `null` count as answers — and returns it; throws after `timeoutMs`, naming `what`.
 */
export function eventually<T>(
  probe: () => T | undefined | false | Promise<T | undefined | false>,
  what: string,
  timeoutMs = 10_000,
): Promise<T> {
  return poll(probe, (value) => value !== undefined && value !== false, { what, timeoutMs }) as Promise<T>;
}

function preview(value: unknown): string {
  let text: string;
  try {
    text = JSON.stringify(value) ?? String(value);
  } catch {
    text = String(value);
  }
  return text.length > 300 ? `${text.slice(0, 300)}…` : text;
}
