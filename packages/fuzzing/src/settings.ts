/**
 * How many cases a run generates. The defaults give 10,721 over the whole suite: 17 routes × 512
 * (500 rounded up to whole batches of 16), 5 consumer queues × 301 (300 and a sentinel) and 512
 * socket.io handshakes. A nightly job can ask for more:
 * `MCMS_FUZZ_HTTP_CASES=5000 MCMS_FUZZ_MESSAGE_CASES=3000 jest bad-input`.
 */
export interface FuzzSettings {
  /** Generated requests per HTTP route. */
  httpCasesPerRoute: number;
  /** Generated messages per consumer queue. */
  messageCasesPerQueue: number;
  /** Requests in flight at once. */
  concurrency: number;
  /** fast-check seed: print it from a failed run, set it to replay that run. */
  seed: number;
}

function positive(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1)
    throw new Error(`${name} must be a positive integer, got ${raw}`);
  return value;
}

/** Reads `MCMS_FUZZ_HTTP_CASES`, `MCMS_FUZZ_MESSAGE_CASES`, `MCMS_FUZZ_CONCURRENCY`, `MCMS_FUZZ_SEED`. */
export function fuzzSettings(env: NodeJS.ProcessEnv = process.env): FuzzSettings {
  return {
    httpCasesPerRoute: positive(env, 'MCMS_FUZZ_HTTP_CASES', 500),
    messageCasesPerQueue: positive(env, 'MCMS_FUZZ_MESSAGE_CASES', 300),
    concurrency: positive(env, 'MCMS_FUZZ_CONCURRENCY', 16),
    seed: env.MCMS_FUZZ_SEED ? Number(env.MCMS_FUZZ_SEED) : Date.now() % 2 ** 31,
  };
}

/** Prints one line per target: how many cases it got. */
export function reportCases(title: string, counts: Record<string, number>): void {
  const total = Object.values(counts).reduce((sum, n) => sum + n, 0);
  const lines = Object.entries(counts).map(([target, n]) => `  ${String(n).padStart(6)}  ${target}`);
  process.stdout.write(`${title}: ${total} generated cases\n${lines.join('\n')}\n`);
}
