import { hostname } from 'node:os';
import pino from 'pino';
import type { LogLevel } from './config';

/** The logger every package passes around; a plain pino logger. */
export type Logger = pino.Logger;

/** Options for {@link createLogger}. */
export interface LoggerOptions {
  /** Service name, on every line as `service`. */
  service: string;
  level?: LogLevel;
  /** Where lines go; stdout when omitted. Tests pass `{ write: (line) => lines.push(line) }`. */
  destination?: pino.DestinationStream;
  /** Extra redaction paths (pino syntax) on top of the built-in secret keys. */
  redact?: readonly string[];
}

// Keys whose values are secrets wherever they appear. pino's redaction has no "any depth" wildcard,
// so each is listed at the top level and one and two levels down; two covers `req.headers.*`.
const SECRET_KEYS = [
  'password',
  'passwd',
  'token',
  'accessToken',
  'refreshToken',
  'secret',
  'clientSecret',
  'apiKey',
  'key',
  'addinKey',
  'authorization',
  'cookie',
  'set-cookie',
  'x-addin-key',
];

// Keys that hold connection strings: their value stays readable but loses its password.
const URL_KEYS = ['url', 'amqpUrl', 'databaseUrl', 'AMQP_URL', 'DATABASE_URL'];

function atEveryDepth(key: string): string[] {
  const segment = /^[A-Za-z_$][\w$]*$/.test(key) ? `.${key}` : `["${key}"]`;
  return [segment.startsWith('.') ? key : segment, `*${segment}`, `*.*${segment}`];
}

const REDACT_PATHS = [...SECRET_KEYS, ...URL_KEYS].flatMap(atEveryDepth);
const URL_KEY_SET = new Set(URL_KEYS);

// Everything between `scheme://` and the last `@` of the authority is user info; greedy matching
// up to the last `@` also covers passwords that contain an unencoded `@`.
const URL_CREDENTIALS = /\b([a-z][a-z0-9+.-]*:\/\/)([^\s/?#]*)@/gi;

/**
 * Replaces the password of every URL in `text` with `***`, keeping the user name:
 * `amqp://mcms:s3cret@rabbit:5672` → `amqp://mcms:***@rabbit:5672`. Text without credentials is
 * returned unchanged, so it is safe to apply to any string (error messages included).
 */
export function redactUrl(text: string): string {
  return text.replace(URL_CREDENTIALS, (_match, scheme: string, userInfo: string) => {
    const colon = userInfo.indexOf(':');
    return colon === -1 ? `${scheme}${userInfo}@` : `${scheme}${userInfo.slice(0, colon)}:***@`;
  });
}

function censor(value: unknown, path: string[]): unknown {
  const key = path[path.length - 1];
  if (key !== undefined && URL_KEY_SET.has(key)) return typeof value === 'string' ? redactUrl(value) : value;
  return '[redacted]';
}

// Driver errors (amqplib, pg) sometimes quote the connection string in their message.
// `err`/`error` fields may hold anything (a string, a rejected non-Error); only Errors are
// serialised, and only strings go through redaction, so logging a failure can never throw.
function serializeError(err: unknown): unknown {
  if (!(err instanceof Error)) return typeof err === 'string' ? redactUrl(err) : err;
  const serialized = pino.stdSerializers.err(err);
  if (typeof serialized.message === 'string') serialized.message = redactUrl(serialized.message);
  if (typeof serialized.stack === 'string') serialized.stack = redactUrl(serialized.stack);
  return serialized;
}

/**
 * A pino logger writing one JSON object per line: `level` as a label, ISO `time`, `service`, `pid`,
 * `hostname`, `msg`. Secrets are redacted wherever they can appear: authorization, cookie and
 * `x-addin-key` headers, any `password`/`token`/`secret`/`apiKey`/`key` field (up to two levels
 * deep), and the password of connection URLs under `url`/`amqpUrl`/`databaseUrl`/`AMQP_URL`/
 * `DATABASE_URL` and in logged errors.
 */
export function createLogger(options: LoggerOptions): Logger {
  const pinoOptions: pino.LoggerOptions = {
    level: options.level ?? 'info',
    base: { service: options.service, pid: process.pid, hostname: hostname() },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
    serializers: { err: serializeError, error: serializeError },
    redact: { paths: [...REDACT_PATHS, ...(options.redact ?? [])], censor },
  };
  return options.destination ? pino(pinoOptions, options.destination) : pino(pinoOptions);
}

const LEVEL_METHODS: ReadonlySet<string> = new Set(['fatal', 'error', 'warn', 'info', 'debug', 'trace']);
const noop = (): void => undefined;

/**
 * `log.child(bindings)`, made only when a line is really written: a call of a level the parent has switched
 * off (`ctx.log.debug(…)` at `info`) is a no-op that makes nothing, and anything else (an enabled level,
 * `child`, `bindings()`, …) makes the child once and uses it. For a logger per message or request, which
 * mostly never writes: a pino child redacts its bindings when it is made, which cost history-service ~6 % of
 * its CPU per event when it was made eagerly.
 */
export function lazyChild(parent: Logger, bindings: Record<string, unknown>): Logger {
  let child: Logger | undefined;
  return new Proxy(parent, {
    get(target, property) {
      // Until the child exists its level is the parent's; once made, the child answers everything itself.
      const off =
        child === undefined &&
        typeof property === 'string' &&
        LEVEL_METHODS.has(property) &&
        !target.isLevelEnabled(property);
      if (off) return noop;
      child ??= target.child(bindings);
      const value: unknown = Reflect.get(child, property, child);
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(child) : value;
    },
    // `log.level = 'debug'` sets the child's level, never the parent's.
    set(target, property, value) {
      child ??= target.child(bindings);
      return Reflect.set(child, property, value, child);
    },
  });
}

/** A child logger whose every line carries `correlationId` (and `extra`, e.g. `{ jobId }`). */
export function withCorrelation(
  log: Logger,
  correlationId: string,
  extra: Record<string, unknown> = {},
): Logger {
  return log.child({ ...extra, correlationId });
}
