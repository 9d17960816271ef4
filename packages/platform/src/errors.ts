import { z } from 'zod';

/** A value that survives `JSON.stringify` unchanged: what may travel in an error's `details`. */
export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

/** One invalid field: its dotted path (`outputs.0.sha256`, `''` for the value itself) and why. */
export type FieldIssue = { path: string; message: string };

/** Everything an {@link AppError} is made of; `retryable` defaults to `false`. */
export interface AppErrorOptions {
  /** Stable snake_case code that clients and consumers branch on; never reworded once shipped. */
  code: string;
  message: string;
  httpStatus: number;
  retryable?: boolean;
  details?: JsonValue;
  cause?: unknown;
}

// A registered symbol rather than `instanceof` alone, so an error made by a second copy of this
// package (a stale build, a bundled dependency) is still recognised.
const appErrorBrand = Symbol.for('@mcms/platform.AppError');

/**
 * The one error type that crosses a boundary. Each edge maps it exactly once: the HTTP error
 * middleware to `httpStatus` + `{ error: { code, message, details } }`, a message consumer to
 * ack / retry / dead-letter by `retryable`.
 */
export class AppError extends Error {
  override readonly name = 'AppError';
  readonly code: string;
  readonly httpStatus: number;
  /** `true` only when the same input may succeed later (a dependency is down), never for bad input. */
  readonly retryable: boolean;
  readonly details: JsonValue | undefined;

  constructor(options: AppErrorOptions) {
    super(options.message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = options.code;
    this.httpStatus = options.httpStatus;
    this.retryable = options.retryable ?? false;
    this.details = options.details;
    // Non-enumerable, so it neither shows up in logs nor needs a place in the declared type.
    Object.defineProperty(this, appErrorBrand, { value: true });
  }
}

/** Whether `value` is an {@link AppError}, including one created by another copy of this package. */
export function isAppError(value: unknown): value is AppError {
  return (
    value instanceof AppError ||
    (typeof value === 'object' &&
      value !== null &&
      (value as Record<symbol, unknown>)[appErrorBrand] === true)
  );
}

/** 400 `invalid_request`: the request is malformed in a way that no field path describes. */
export function badRequest(message: string, details?: JsonValue): AppError {
  return new AppError({ code: 'invalid_request', message, httpStatus: 400, details });
}

/**
 * 400 `validation_failed`, with `details` listing every bad field. The message names the paths
 * only, never the offending values, so it is safe to log and to use as a dead-letter reason.
 */
export function validationFailed(issues: readonly FieldIssue[]): AppError {
  const paths = [...new Set(issues.map((issue) => issue.path || '(root)'))];
  return new AppError({
    code: 'validation_failed',
    message: `validation failed: ${paths.join(', ')}`,
    httpStatus: 400,
    details: issues.map(({ path, message }) => ({ path, message })),
  });
}

/**
 * 429 `rate_limited`: too many requests (or failed sign-ins) from this caller; `details.retryAfterSeconds`
 * repeats the `Retry-After` header for clients that only read bodies.
 */
export function rateLimited(retryAfterSeconds: number, message = 'too many requests'): AppError {
  return new AppError({
    code: 'rate_limited',
    message: `${message}: retry after ${retryAfterSeconds} s`,
    httpStatus: 429,
    details: { retryAfterSeconds },
  });
}

/** 401 `unauthorized`: no credentials, or credentials that could not be verified. */
export function unauthorized(message = 'authentication required'): AppError {
  return new AppError({ code: 'unauthorized', message, httpStatus: 401 });
}

/** 403 `forbidden`: the caller is known but may not do this. */
export function forbidden(message = 'forbidden'): AppError {
  return new AppError({ code: 'forbidden', message, httpStatus: 403 });
}

/** 404 `not_found`; `what` names the missing thing, e.g. `notFound('job 7f3c…')` → "job 7f3c… not found". */
export function notFound(what: string): AppError {
  return new AppError({ code: 'not_found', message: `${what} not found`, httpStatus: 404 });
}

/** 409 with a caller-chosen stable code, e.g. `conflict('job_already_completed', '…')`. Not retryable. */
export function conflict(code: string, message: string, details?: JsonValue): AppError {
  return new AppError({ code, message, httpStatus: 409, details });
}

/** 413 `payload_too_large`. */
export function payloadTooLarge(message = 'payload too large'): AppError {
  return new AppError({ code: 'payload_too_large', message, httpStatus: 413 });
}

/** 415 `unsupported_media_type`. */
export function unsupportedMediaType(message = 'content-type must be application/json'): AppError {
  return new AppError({ code: 'unsupported_media_type', message, httpStatus: 415 });
}

/**
 * 503 `dependency_unavailable`, the only retryable factory: the broker, the database, the shared
 * drive or an open circuit breaker. A message that fails this way waits in a retry tier instead of
 * being dead-lettered.
 */
export function unavailable(message: string, cause?: unknown): AppError {
  return new AppError({ code: 'dependency_unavailable', message, httpStatus: 503, retryable: true, cause });
}

/**
 * 500 `internal`: a broken invariant, i.e. a bug. Not retryable (the same input hits the same bug);
 * use {@link unavailable} for transient failures. The HTTP edge never shows its message to clients.
 */
export function internal(message = 'internal error', cause?: unknown): AppError {
  return new AppError({ code: 'internal', message, httpStatus: 500, cause });
}

/** Turns zod issue paths into the dotted form clients see: `['outputs', 0, 'sha256']` → `outputs.0.sha256`. */
export function issuePath(path: readonly PropertyKey[]): string {
  return path
    .map((segment) => (typeof segment === 'symbol' ? (segment.description ?? '') : String(segment)))
    .join('.');
}

/**
 * One `{ path, message }` per zod issue; an unknown key is reported at its own path
 * (`extra: unknown field`), so the client sees which field to remove.
 */
export function fieldIssuesOf(err: z.core.$ZodError): FieldIssue[] {
  return err.issues.flatMap((issue) =>
    issue.code === 'unrecognized_keys'
      ? issue.keys.map((key) => ({ path: issuePath([...issue.path, key]), message: 'unknown field' }))
      : [{ path: issuePath(issue.path), message: issue.message }],
  );
}

/** Maps a zod error to {@link validationFailed}, one `{ path, message }` per issue. */
export function fromZodError(err: z.core.$ZodError): AppError {
  return validationFailed(fieldIssuesOf(err));
}

/**
 * Parses `value` with `schema`, or throws {@link validationFailed} naming each bad field:
 * `const body = parseWith(CompleteJobBody, req.body)`.
 */
export function parseWith<T>(schema: z.ZodType<T>, value: unknown): T {
  const result = schema.safeParse(value);
  if (!result.success) throw fromZodError(result.error);
  return result.data;
}

// What a database or network connection that went away looks like, from node-postgres, Prisma's pg
// adapter and Node's sockets. SQLSTATE class 08 is "connection exception"; 57P01–57P03 are the server
// shutting down, crashed or still starting; 53300 is "too many connections".
const UNAVAILABLE_SOCKET_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
]);
const UNAVAILABLE_SQLSTATES = new Set(['57P01', '57P02', '57P03', '53300']);
// P2024/P2028: no pooled connection or no transaction within the wait (a burst after an outage): transient.
const UNAVAILABLE_PRISMA_CODES = new Set(['P1001', 'P1002', 'P1008', 'P1017', 'P2024', 'P2028']);
const UNAVAILABLE_ADAPTER_KINDS = new Set([
  'DatabaseNotReachable',
  'ConnectionClosed',
  'SocketTimeout',
  'TooManyConnections',
]);
const UNAVAILABLE_MESSAGES = [
  'Connection terminated',
  'Client has encountered a connection error and is not queryable',
  'Client was closed and is not queryable',
  'timeout exceeded when trying to connect',
];

function isUnavailableSqlState(code: unknown): boolean {
  return typeof code === 'string' && (code.startsWith('08') || UNAVAILABLE_SQLSTATES.has(code));
}

/**
 * Whether `err` (or one of its causes) says a dependency went away — the database restarting, a dropped
 * connection — rather than that the request or the code is wrong. The HTTP edge answers such an error
 * 503 `dependency_unavailable` (clients retry), not 500.
 */
export function isDependencyUnavailable(err: unknown): boolean {
  for (let current = err, depth = 0; current && typeof current === 'object' && depth < 5; depth++) {
    const { code, kind, message, meta, cause } = current as {
      code?: unknown;
      kind?: unknown;
      message?: unknown;
      meta?: { driverAdapterError?: { cause?: { kind?: unknown; code?: unknown } } };
      cause?: unknown;
    };
    if (
      typeof code === 'string' &&
      (UNAVAILABLE_SOCKET_CODES.has(code) || UNAVAILABLE_PRISMA_CODES.has(code))
    )
      return true;
    if (isUnavailableSqlState(code)) return true;
    // Prisma's DriverAdapterError carries the adapter's error object (`{ kind }`) as its cause.
    if (UNAVAILABLE_ADAPTER_KINDS.has(String(kind))) return true;
    const adapter = meta?.driverAdapterError?.cause;
    if (
      adapter &&
      (UNAVAILABLE_ADAPTER_KINDS.has(String(adapter.kind)) || isUnavailableSqlState(adapter.code))
    )
      return true;
    if (typeof message === 'string' && UNAVAILABLE_MESSAGES.some((m) => message.startsWith(m))) return true;
    current = cause;
  }
  return false;
}
