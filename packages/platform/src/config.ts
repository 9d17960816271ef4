import { z } from 'zod';
import { issuePath } from './errors';

/** pino's levels, plus `silent`; what `LOG_LEVEL` accepts. */
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

/** One of {@link LOG_LEVELS}. */
export type LogLevel = (typeof LOG_LEVELS)[number];

/** One bad environment variable: its name and why, never its value. */
export type ConfigIssue = { key: string; message: string };

/**
 * Thrown by {@link loadConfig} when the environment does not satisfy the schema. The message names
 * every bad key at once (`invalid configuration: AMQP_URL: required; PORT: expected a number`), so
 * a broken deployment is fixed in one round trip rather than one key per restart.
 */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  readonly issues: readonly ConfigIssue[];

  constructor(issues: readonly ConfigIssue[]) {
    super(
      `invalid configuration: ${issues.map(({ key, message }) => (key ? `${key}: ${message}` : message)).join('; ')}`,
    );
    this.issues = issues;
  }
}

/** Whether `value` is a {@link ConfigError}. */
export function isConfigError(value: unknown): value is ConfigError {
  return value instanceof ConfigError;
}

/**
 * Validates `env` against `schema` and returns the typed result, or throws one {@link ConfigError}
 * naming every bad key. An empty variable (`PORT=`) counts as unset, so compose files and
 * Kubernetes manifests that blank a key get its default rather than a parse error.
 */
export function loadConfig<T>(schema: z.ZodType<T>, env: NodeJS.ProcessEnv): T {
  const input: Record<string, string | undefined> = {};
  for (const [key, value] of Object.entries(env)) input[key] = value === '' ? undefined : value;

  const result = schema.safeParse(input);
  if (result.success) return result.data;

  throw new ConfigError(
    result.error.issues.map((issue) => {
      const key = issuePath(issue.path);
      const value = input[key];
      if (value === undefined && issue.code === 'invalid_type') return { key, message: 'required' };
      return { key, message: withoutValue(issue.message, value) };
    }),
  );
}

// zod's own messages describe what was expected, never the input; a custom message written by a
// service might not, and the value may be a password. Values under 4 characters are left alone:
// replacing them would garble the message and they are not plausible secrets.
function withoutValue(message: string, value: string | undefined): string {
  return value !== undefined && value.length >= 4 ? message.split(value).join('***') : message;
}

/**
 * Runs `load` (typically `() => loadConfig(schema, process.env)`); on a {@link ConfigError} prints
 * its message to stderr and exits with status 1 instead of dumping a stack trace. Other errors are
 * rethrown. `io` exists for tests.
 */
export function exitOnConfigError<T>(
  load: () => T,
  io: { write: (text: string) => void; exit: (code: number) => never } = {
    write: (text) => process.stderr.write(text),
    exit: (code) => process.exit(code),
  },
): T {
  try {
    return load();
  } catch (err) {
    if (!isConfigError(err)) throw err;
    io.write(`${err.message}\n`);
    return io.exit(1);
  }
}

/** A TCP port (0–65535) with a default. */
export function envPort(defaultPort: number) {
  return z.coerce
    .number({ error: 'expected a number' })
    .int({ error: 'expected an integer' })
    .min(0, { error: 'expected a port between 0 and 65535' })
    .max(65535, { error: 'expected a port between 0 and 65535' })
    .default(defaultPort);
}

/** Bounds for {@link envInt}. */
export interface EnvIntOptions {
  min?: number;
  max?: number;
}

/** An integer, optionally bounded; required unless `default` is given. */
export function envInt(options: EnvIntOptions & { default: number }): z.ZodDefault<z.ZodCoercedNumber>;
export function envInt(options?: EnvIntOptions): z.ZodCoercedNumber;
export function envInt(
  options: EnvIntOptions & { default?: number } = {},
): z.ZodCoercedNumber | z.ZodDefault<z.ZodCoercedNumber> {
  let schema = z.coerce.number({ error: 'expected a number' }).int({ error: 'expected an integer' });
  if (options.min !== undefined)
    schema = schema.min(options.min, { error: `expected at least ${options.min}` });
  if (options.max !== undefined)
    schema = schema.max(options.max, { error: `expected at most ${options.max}` });
  return options.default === undefined ? schema : schema.default(options.default);
}

/**
 * A boolean written as true/false, 1/0, yes/no, on/off (any case). Not `z.coerce.boolean()`,
 * which turns the string `"false"` into `true`.
 */
export function envBool(defaultValue: boolean) {
  return z.stringbool({ error: 'expected true or false' }).default(defaultValue);
}

/**
 * A URL, required; add `.default(…)` for a fallback. Checked by shape (`scheme://…`) rather than
 * WHATWG parsing, which rejects valid connection strings such as multi-host PostgreSQL URLs.
 */
export function envUrl(options: { protocols?: readonly string[] } = {}) {
  const protocols = options.protocols?.map((protocol) => protocol.toLowerCase());
  const expected = protocols
    ? `expected a URL starting with ${protocols.map((p) => `${p}://`).join(' or ')}`
    : 'expected a URL';
  return z.string().refine(
    (text) => {
      const scheme = /^([a-z][a-z0-9+.-]*):\/\/\S+$/i.exec(text)?.[1]?.toLowerCase();
      return scheme !== undefined && (protocols === undefined || protocols.includes(scheme));
    },
    { error: expected },
  );
}

/** A pino log level (any case), default `info`. */
export function envLogLevel(defaultLevel: LogLevel = 'info') {
  return z
    .preprocess(
      (value) => (typeof value === 'string' ? value.trim().toLowerCase() : value),
      z.enum(LOG_LEVELS, { error: `expected one of ${LOG_LEVELS.join(', ')}` }),
    )
    .default(defaultLevel);
}

const DURATION_UNITS_MS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/**
 * Parses a duration into whole milliseconds: `1500` and `1500ms` (milliseconds), `30s`, `5m`,
 * `24h`, `7d`, decimals allowed (`1.5s`). Returns `undefined` for anything else, negatives included.
 */
export function parseDurationMs(text: string): number | undefined {
  const match = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$/i.exec(text);
  if (!match?.[1]) return undefined;
  const ms = Math.round(Number(match[1]) * DURATION_UNITS_MS[(match[2] ?? 'ms').toLowerCase()]!);
  return Number.isSafeInteger(ms) ? ms : undefined;
}

/** A duration in milliseconds (see {@link parseDurationMs}); the default is ms or a duration string. */
export function envDurationMs(defaultValue: number | string) {
  const defaultMs = typeof defaultValue === 'number' ? defaultValue : parseDurationMs(defaultValue);
  if (defaultMs === undefined) throw new Error(`envDurationMs: invalid default duration "${defaultValue}"`);
  return z
    .string()
    .transform((text, ctx) => {
      const ms = parseDurationMs(text);
      if (ms !== undefined) return ms;
      ctx.issues.push({
        code: 'custom',
        input: text,
        message: 'expected a duration like 1500, 1500ms, 30s, 5m or 24h',
      });
      return z.NEVER;
    })
    .default(defaultMs);
}

/**
 * The keys every service reads; a service spreads it into its own schema:
 * `z.object({ ...baseServiceConfig, PORT: envPort(3000) })`. The defaults suit a developer machine
 * with the compose stack running.
 */
export const baseServiceConfig = {
  NODE_ENV: z
    .enum(['development', 'test', 'production'], { error: 'expected development, test or production' })
    .default('development'),
  LOG_LEVEL: envLogLevel('info'),
  AMQP_URL: envUrl({ protocols: ['amqp', 'amqps'] }).default('amqp://guest:guest@127.0.0.1:5672'),
  DATABASE_URL: envUrl({ protocols: ['postgres', 'postgresql'] }).default(
    'postgresql://postgres@127.0.0.1:5432/postgres',
  ),
};

/**
 * Comma-separated durations (`1s,5s,30s,2m` → `[1000, 5000, 30000, 120000]`), each above zero:
 * the waits between a failed message's attempts.
 */
export function envDurationList(defaultValue: string) {
  return z
    .string()
    .default(defaultValue)
    .transform((text, ctx) => {
      const delays = text.split(',').map((part) => parseDurationMs(part.trim()));
      if (delays.length > 0 && delays.every((ms) => ms !== undefined && ms > 0)) return delays as number[];
      ctx.issues.push({
        code: 'custom',
        input: text,
        message: 'expected comma-separated durations above zero, like 1s,5s,30s,2m',
      });
      return z.NEVER;
    });
}

/**
 * The broker keys of every service that consumes messages: the topology prefix (tests, the
 * benchmark and side-by-side installs isolate themselves by it), the queue type, and the retry
 * delays (default 5 attempts, the original system's policy).
 */
export const brokerServiceConfig = {
  MCMS_TOPOLOGY_PREFIX: z.string().max(100).default(''),
  MCMS_QUEUE_TYPE: z.enum(['quorum', 'classic'], { error: 'expected quorum or classic' }).default('quorum'),
  MCMS_RETRY_DELAYS: envDurationList('1s,5s,30s,2m'),
};

/** The environment keys of the HTTP server's own limits (see `HttpServerLimits`); all optional. */
export const httpServerLimitsConfig = z.object({
  HTTP_REQUEST_TIMEOUT: envDurationMs('30s'),
  HTTP_HEADERS_TIMEOUT: envDurationMs('66s'),
  HTTP_KEEP_ALIVE_TIMEOUT: envDurationMs('65s'),
  HTTP_MAX_HEADER_BYTES: envInt({ min: 1024, max: 1024 * 1024, default: 16 * 1024 }),
});

/**
 * The HTTP server limits from `env` (`HTTP_REQUEST_TIMEOUT`, `HTTP_HEADERS_TIMEOUT`,
 * `HTTP_KEEP_ALIVE_TIMEOUT`, `HTTP_MAX_HEADER_BYTES`), for `startHttpServer`; throws a ConfigError
 * naming every bad key. `main.ts` calls it next to its own `loadConfig`.
 */
export function loadHttpServerLimits(env: NodeJS.ProcessEnv): {
  requestTimeoutMs: number;
  headersTimeoutMs: number;
  keepAliveTimeoutMs: number;
  maxHeaderBytes: number;
} {
  const parsed = loadConfig(httpServerLimitsConfig, env);
  return {
    requestTimeoutMs: parsed.HTTP_REQUEST_TIMEOUT,
    headersTimeoutMs: parsed.HTTP_HEADERS_TIMEOUT,
    keepAliveTimeoutMs: parsed.HTTP_KEEP_ALIVE_TIMEOUT,
    maxHeaderBytes: parsed.HTTP_MAX_HEADER_BYTES,
  };
}
