import { AddinJob, CompleteJobBody, ErrorBody, Lease } from '@mcms/contracts';
import type { z } from 'zod';
import { AddinApiError } from './errors';

/** How the client retries a call that got no answer (network error, timeout), a 503 or a 429. */
export interface RetryOptions {
  /** Tries in all, the first included; default 4. `1` disables retries. */
  attempts?: number;
  /** Delay before the first retry, doubled each time (with jitter); default 200 ms. */
  initialDelayMs?: number;
  /** Cap of one delay, also of a server's `Retry-After`; default 5,000 ms. */
  maxDelayMs?: number;
}

/** Options of {@link createAddinClient}. */
export interface AddinClientOptions {
  /** The gateway, e.g. `http://cam-gateway:8080` (a path prefix behind a proxy is kept). */
  baseUrl: string;
  /** The add-in key an admin issued (`POST /api/addin/keys`), sent as `X-Addin-Key`. */
  key: string;
  /** This workstation's identity, sent as `X-Addin-Device`; leases are held per device. */
  deviceId: string;
  /** Time allowed for one try of a call (a long poll gets its wait on top); default 10,000 ms. */
  timeoutMs?: number;
  /** Retry settings, or `false` for none. */
  retry?: RetryOptions | false;
  /** For tests: the fetch to use (default: global `fetch`). */
  fetch?: typeof fetch;
  /** For tests: how to wait between retries (default: a timer that the call's signal cancels). */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  /** For tests: the jitter source, a number in [0, 1) (default `Math.random`). */
  random?: () => number;
}

/** Per-call options. */
export interface CallOptions {
  /** Aborts the call (and its retries) with an `aborted` error. */
  signal?: AbortSignal;
}

/** Options of {@link AddinClient.next}. */
export interface NextOptions extends CallOptions {
  /** How long the gateway may hold the request open waiting for a job: 0..30 seconds; default 0. */
  waitSeconds?: number;
}

/**
 * The add-in API as the ESPRIT add-in uses it. Every answer is validated against the contract's schema
 * (`@mcms/contracts`); every failure is an {@link AddinApiError}.
 */
export interface AddinClient {
  readonly deviceId: string;
  /**
   * Takes the oldest Pending job, which the gateway marks InProgress under a lease for this device;
   * null when none arrived within `waitSeconds` (204). Retried on network errors and 503: a claim whose
   * answer was lost is not lost work, its lease runs out and the job is handed out again.
   */
  next(options?: NextOptions): Promise<AddinJob | null>;
  /** Extends this device's lease on the job. 409 `lease_not_held` when the device no longer holds it: stop working on it. */
  heartbeat(jobId: string, options?: CallOptions): Promise<z.infer<typeof Lease>>;
  /**
   * Reports the final result and returns the final job. Safe to retry: the gateway answers a repeated
   * identical body with 200 and the same job, without a second result command, so this call retries on
   * network errors, timeouts and 503 like the others. 409 when the job is not InProgress for this device,
   * or when a different result was already recorded; 400 names every bad field.
   */
  complete(jobId: string, body: CompleteJobBody, options?: CallOptions): Promise<AddinJob>;
  /** Reads one job; 404 `not_found` when there is none. */
  getJob(jobId: string, options?: CallOptions): Promise<AddinJob>;
}

const DEFAULT_TIMEOUT_MS = 10_000;
const DEFAULT_RETRY: Required<RetryOptions> = { attempts: 4, initialDelayMs: 200, maxDelayMs: 5_000 };

interface Request {
  method: 'GET' | 'POST';
  path: string;
  body?: unknown;
  /** Added to the per-try timeout (the long poll's wait). */
  extraTimeoutMs?: number;
  signal?: AbortSignal;
}

interface Answer {
  status: number;
  body: unknown;
  headers: Headers;
}

/** Creates a client of the add-in API for one device. */
export function createAddinClient(options: AddinClientOptions): AddinClient {
  const baseUrl = options.baseUrl.replace(/\/+$/, '');
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const retry =
    options.retry === false ? { ...DEFAULT_RETRY, attempts: 1 } : { ...DEFAULT_RETRY, ...options.retry };
  const doFetch = options.fetch ?? fetch;
  const sleep = options.sleep ?? abortableSleep;
  const random = options.random ?? Math.random;
  const headers = {
    'x-addin-key': options.key,
    'x-addin-device': options.deviceId,
    accept: 'application/json',
  };

  async function once(request: Request): Promise<Answer> {
    const timeout = timeoutMs + (request.extraTimeoutMs ?? 0);
    const signals = [AbortSignal.timeout(timeout), ...(request.signal ? [request.signal] : [])];
    let response: Response;
    try {
      response = await doFetch(`${baseUrl}${request.path}`, {
        method: request.method,
        headers: request.body === undefined ? headers : { ...headers, 'content-type': 'application/json' },
        body: request.body === undefined ? undefined : JSON.stringify(request.body),
        signal: AbortSignal.any(signals),
      });
    } catch (err) {
      throw noAnswer(err, request, timeout);
    }
    let text: string;
    try {
      text = await response.text();
    } catch (err) {
      throw noAnswer(err, request, timeout);
    }
    return { status: response.status, body: parseJson(text), headers: response.headers };
  }

  async function call(request: Request): Promise<Answer> {
    for (let attempt = 1; ; attempt++) {
      let failure: AddinApiError;
      let retryAfterMs: number | undefined;
      try {
        const answer = await once(request);
        if (answer.status < 400) return answer;
        failure = httpError(answer, request);
        retryAfterMs = retryAfterOf(answer.headers);
      } catch (err) {
        if (!(err instanceof AddinApiError)) throw err;
        failure = err;
      }
      if (!failure.retryable || attempt >= retry.attempts) throw failure;
      const backoff = Math.min(retry.maxDelayMs, retry.initialDelayMs * 2 ** (attempt - 1));
      // Half fixed, half random: retries of many add-ins after one outage spread out instead of stampeding.
      const delay =
        retryAfterMs !== undefined
          ? Math.min(retry.maxDelayMs, retryAfterMs)
          : backoff / 2 + (backoff / 2) * random();
      try {
        await sleep(delay, request.signal);
      } catch (err) {
        throw aborted(request, err);
      }
    }
  }

  function expect<S extends z.ZodType>(
    answer: Answer,
    status: number,
    schema: S,
    request: Request,
  ): z.infer<S> {
    if (answer.status !== status) {
      throw invalidResponse(request, `expected ${status}, got ${answer.status}`, answer.body, answer.status);
    }
    const parsed = schema.safeParse(answer.body);
    if (!parsed.success) {
      const where = parsed.error.issues.map((issue) => issue.path.join('.') || '(body)').join(', ');
      throw invalidResponse(
        request,
        `the answer does not match the contract at ${where}`,
        answer.body,
        answer.status,
      );
    }
    return parsed.data;
  }

  const jobPath = (jobId: string) => `/api/addin/jobs/${encodeURIComponent(jobId)}`;

  return {
    deviceId: options.deviceId,
    async next({ waitSeconds = 0, signal } = {}) {
      const request: Request = {
        method: 'GET',
        path: `/api/addin/jobs/next?waitSeconds=${waitSeconds}`,
        extraTimeoutMs: waitSeconds * 1_000,
        signal,
      };
      const answer = await call(request);
      if (answer.status === 204) return null;
      return expect(answer, 200, AddinJob, request);
    },
    async heartbeat(jobId, { signal } = {}) {
      const request: Request = { method: 'POST', path: `${jobPath(jobId)}/heartbeat`, signal };
      return expect(await call(request), 200, Lease, request);
    },
    async complete(jobId, body, { signal } = {}) {
      const request: Request = { method: 'POST', path: `${jobPath(jobId)}/complete`, body, signal };
      return expect(await call(request), 200, AddinJob, request);
    },
    async getJob(jobId, { signal } = {}) {
      const request: Request = { method: 'GET', path: jobPath(jobId), signal };
      return expect(await call(request), 200, AddinJob, request);
    },
  };
}

function describe(request: Request): string {
  return `${request.method} ${request.path}`;
}

function parseJson(text: string): unknown {
  if (text === '') return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

function httpError(answer: Answer, request: Request): AddinApiError {
  const parsed = ErrorBody.safeParse(answer.body);
  // 429 (a rate limit) and 503 (overloaded, or a dependency down) both say when to come back: Retry-After.
  const retryable = answer.status === 503 || answer.status === 429;
  if (parsed.success) {
    const { code, message, details } = parsed.data.error;
    return new AddinApiError({
      code,
      message: `${describe(request)} → ${answer.status} ${code}: ${message}`,
      status: answer.status,
      details,
      body: answer.body,
      retryable,
    });
  }
  return new AddinApiError({
    code: `http_${answer.status}`,
    message: `${describe(request)} → ${answer.status}`,
    status: answer.status,
    body: answer.body,
    retryable,
  });
}

function noAnswer(err: unknown, request: Request, timeoutMs: number): AddinApiError {
  if (request.signal?.aborted) return aborted(request, err);
  // By name, not instanceof: fetch's DOMException may come from another realm (Jest's, for one).
  const timedOut =
    typeof err === 'object' && err !== null && (err as { name?: unknown }).name === 'TimeoutError';
  return new AddinApiError({
    code: timedOut ? 'timeout' : 'network_error',
    message: timedOut
      ? `${describe(request)}: no answer within ${timeoutMs} ms`
      : `${describe(request)}: ${err instanceof Error ? (err.cause instanceof Error ? err.cause.message : err.message) : String(err)}`,
    status: null,
    retryable: true,
    cause: err,
  });
}

function aborted(request: Request, cause: unknown): AddinApiError {
  return new AddinApiError({
    code: 'aborted',
    message: `${describe(request)}: aborted`,
    status: null,
    retryable: false,
    cause,
  });
}

function invalidResponse(request: Request, why: string, body: unknown, status: number): AddinApiError {
  return new AddinApiError({
    code: 'invalid_response',
    message: `${describe(request)}: ${why}`,
    status,
    body,
    retryable: false,
  });
}

function retryAfterOf(headers: Headers): number | undefined {
  const value = headers.get('retry-after');
  if (value === null || !/^\d+$/.test(value.trim())) return undefined;
  return Number(value) * 1_000;
}

function abortableSleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
