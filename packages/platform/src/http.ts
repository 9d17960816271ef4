import { randomUUID } from 'node:crypto';
import {
  createServer,
  IncomingMessage,
  ServerResponse,
  STATUS_CODES,
  type RequestListener,
  type Server,
} from 'node:http';
import type { Duplex } from 'node:stream';
import type { AddressInfo } from 'node:net';
import express, { type Express, type NextFunction, type Request, type Response } from 'express';
import { z } from 'zod';
import {
  AppError,
  badRequest,
  fromZodError,
  internal,
  isAppError,
  isDependencyUnavailable,
  notFound,
  payloadTooLarge,
  unavailable,
  unsupportedMediaType,
} from './errors';
import { applyHttpSecurity, type HttpSecurityOptions } from './http-security';
import { lazyChild, redactUrl, type Logger } from './logger';
import type { Metrics } from './metrics';

declare global {
  // Express's own extension point for request properties; a module augmentation cannot reach it.
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace Express {
    interface Request {
      /** Child logger carrying this request's `correlationId`; set by `createHttpApp`. */
      log: Logger;
      /** The incoming `x-correlation-id`, or a generated UUID; set by `createHttpApp`. */
      correlationId: string;
      /** Size of the JSON body as received, in bytes; set by `createHttpApp` when there was one. */
      bodyBytes?: number;
    }
  }
}

/** The header that carries a correlation id in and out of every service. */
export const CORRELATION_ID_HEADER = 'x-correlation-id';

/** A dependency `/readyz` checks. */
export interface ReadinessCheck {
  name: string;
  /**
   * Throws or rejects when the dependency is not usable; what it returns is ignored, so a query
   * such as ``() => db.$queryRaw`select 1` `` is a check as it stands.
   */
  check: () => unknown;
}

/** Options for {@link createHttpApp}. */
export interface HttpAppOptions {
  log: Logger;
  metrics: Metrics;
  /** Mounts the service's routes; called after the platform middleware, before the 404 handler. */
  routes: (app: Express) => void;
  readiness?: readonly ReadinessCheck[];
  /** Per-check budget for `/readyz`; a check still pending after it counts as failed. Default 2 s. */
  readinessTimeoutMs?: number;
  /** Largest accepted JSON body, in bytes or as `'256kb'`. Default `'256kb'`. */
  bodyLimit?: string | number;
  /** Security headers, CORS and the limit on failed authentications; safe defaults when absent. */
  security?: HttpSecurityOptions;
}

const JSON_TYPES = ['application/json', 'application/*+json'];
const BODY_METHODS = new Set(['POST', 'PUT', 'PATCH']);
const VALID_CORRELATION_ID = /^[\x21-\x7e]{1,200}$/;
const PLATFORM_ROUTES = new Set(['/healthz', '/readyz', '/metrics']);

/**
 * An express 5 app with what every service needs around its own `routes`: correlation ids and a
 * per-request child logger (`req.log`), JSON bodies only (400 `invalid_json`, 413, 415),
 * `GET /healthz`, `GET /readyz`, `GET /metrics`, a latency histogram by route pattern, a JSON 404
 * and one error middleware that maps {@link AppError} and zod errors and hides everything else
 * behind a 500. Handlers may be async: express 5 forwards rejections to that middleware.
 */
export function createHttpApp(options: HttpAppOptions): Express {
  const { log, metrics, routes, readiness = [], readinessTimeoutMs = 2_000, bodyLimit = '256kb' } = options;
  const names = readiness.map((entry) => entry.name);
  if (new Set(names).size !== names.length) {
    throw new Error(`duplicate readiness check names: ${names.join(', ')}`);
  }

  const app = express();
  app.disable('x-powered-by');
  bornWithAppPrototypes(app);
  trackRoutePatterns(app);

  app.use((req, res, next) => {
    const incoming = req.get(CORRELATION_ID_HEADER);
    req.correlationId =
      incoming !== undefined && VALID_CORRELATION_ID.test(incoming) ? incoming : randomUUID();
    // Made when the request really logs (most answer without a line at an enabled level): see lazyChild.
    req.log = lazyChild(log, { correlationId: req.correlationId });
    res.setHeader(CORRELATION_ID_HEADER, req.correlationId);
    observeRequest(req, res, metrics);
    next();
  });
  applyHttpSecurity(app, options.security);

  app.use((req, _res, next) => {
    const notJson = BODY_METHODS.has(req.method) && hasBody(req) && !req.is(JSON_TYPES);
    next(notJson ? unsupportedMediaType() : undefined);
  });
  app.use(
    express.json({
      limit: bodyLimit,
      type: JSON_TYPES,
      // Routes have their own, smaller limits (mountRoute); this one caps what is read at all.
      verify: (req, _res, buffer) => {
        (req as Request).bodyBytes = buffer.length;
      },
    }),
  );

  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });

  app.get('/readyz', async (req, res) => {
    const checks = await checkReadiness(readiness, readinessTimeoutMs);
    const ready = Object.values(checks).every((outcome) => outcome === 'ok');
    if (!ready) req.log.warn({ checks }, 'not ready');
    res.status(ready ? 200 : 503).json({ status: ready ? 'ready' : 'not-ready', checks });
  });

  app.get('/metrics', async (_req, res) => {
    res.type(metrics.registry.contentType).send(await metrics.registry.metrics());
  });

  routes(app);

  app.use((req, _res, next) => {
    next(notFound(`route ${req.method} ${req.path}`));
  });

  app.use((err: unknown, req: Request, res: Response, next: NextFunction) => {
    if (res.headersSent) {
      // Too late for a status code; express's default handler aborts the connection instead.
      req.log.error({ err }, 'request failed after the response started');
      next(err);
      return;
    }
    const appError = toAppError(err, bodyLimit);
    if (appError.httpStatus >= 500) {
      req.log.error({ err }, 'request failed');
    } else {
      req.log.info({ code: appError.code, statusCode: appError.httpStatus }, appError.message);
    }
    // A 500 is a bug: its message may name tables, paths or ids, so clients only learn that it happened.
    const body =
      appError.httpStatus === 500
        ? { code: 'internal', message: 'internal error' }
        : { code: appError.code, message: appError.message, details: appError.details };
    res.status(appError.httpStatus).json({ error: body });
  });

  return app;
}

// Content-Length 0 is no body: a POST that only triggers an action needs no content-type.
function hasBody(req: Request): boolean {
  const length = req.headers['content-length'];
  return req.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
}

/** The request and response classes {@link startHttpServer} creates an app's requests and responses with. */
export interface ServerClasses {
  IncomingMessage: typeof IncomingMessage;
  ServerResponse: typeof ServerResponse;
}
const SERVER_CLASSES = new WeakMap<object, ServerClasses>();

/**
 * Makes `app.request` and `app.response` — the prototypes express gives every request and response of the app
 * when it receives them — the prototypes of two classes of the app's own, with which {@link startHttpServer}'s
 * server creates them. express re-parents each request and response (`Object.setPrototypeOf`); done to an object
 * node:http created as a plain IncomingMessage / ServerResponse, that gave every request and every response a
 * hidden class of its own in V8: every property read of them in express, the router, body-parser, helmet and our
 * middleware missed V8's inline caches, and each one's maps were garbage of the old generation. Created with
 * that prototype already, they keep one class, and express's `setPrototypeOf` changes nothing (decision 0020;
 * expressjs/express#5998). A bare express POST here: ~50 instead of ~200 µs of CPU.
 *
 * Returns the classes, for `createServer({ IncomingMessage, ServerResponse }, app)` (the benchmark's bare express
 * server does that); once per app, the same classes every time.
 */
export function bornWithAppPrototypes(app: Express): ServerClasses {
  const known = SERVER_CLASSES.get(app);
  if (known !== undefined) return known;
  class AppRequest extends IncomingMessage {}
  class AppResponse extends ServerResponse {}
  adoptPrototype(AppRequest.prototype, app.request);
  adoptPrototype(AppResponse.prototype, app.response);
  app.request = AppRequest.prototype as unknown as Request;
  app.response = AppResponse.prototype as unknown as Response;
  const classes = {
    IncomingMessage: AppRequest,
    ServerResponse: AppResponse as unknown as typeof ServerResponse,
  };
  SERVER_CLASSES.set(app, classes);
  return classes;
}

/** `target` takes `source`'s place: the same prototype and the same own properties (express's `app`). */
function adoptPrototype(target: object, source: object): void {
  Object.setPrototypeOf(target, Object.getPrototypeOf(source) as object);
  Object.defineProperties(target, Object.getOwnPropertyDescriptors(source));
}

function observeRequest(req: Request, res: Response, metrics: Metrics): void {
  const started = process.hrtime.bigint();
  res.on('finish', () => {
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    const route = routePatternOf(req);
    metrics.httpRequestDuration.observe(
      { method: req.method, route, status_code: String(res.statusCode) },
      seconds,
    );
    // Probes and scrapes arrive every few seconds; at info they would drown the requests that matter.
    req.log[PLATFORM_ROUTES.has(route) ? 'debug' : 'info'](
      { method: req.method, route, statusCode: res.statusCode, durationMs: Math.round(seconds * 1000) },
      'request completed',
    );
  });
}

// Where the `route` accessor of trackRoutePatterns keeps a request's route and its pattern: data properties of
// the request.
const ROUTE = Symbol('route');
const ROUTE_PATTERN = Symbol('routePattern');
type TrackedRequest = Request & { [ROUTE]?: unknown; [ROUTE_PATTERN]?: string };

/**
 * Records `baseUrl + route.path` at the moment the router matches a route. Reading `req.route` when
 * the response finishes is not enough: when a handler inside a mounted router fails, the router
 * restores `req.baseUrl` before the error middleware answers, and `/jobs/:id` would be reported as
 * `/:id`. Unmatched requests are labelled `unmatched`, keeping the label's cardinality bounded.
 *
 * One accessor on the app's request prototype, not one defined on each request: an accessor with closures of
 * its own puts the request in dictionary mode, with a hidden class of its own (decision 0020).
 */
function trackRoutePatterns(app: Express): void {
  Object.defineProperty(app.request, 'route', {
    configurable: true,
    enumerable: true,
    get(this: TrackedRequest) {
      return this[ROUTE];
    },
    set(this: TrackedRequest, value: unknown) {
      this[ROUTE] = value;
      const path = (value as { path?: unknown } | undefined)?.path;
      if (path !== undefined)
        this[ROUTE_PATTERN] = this.baseUrl && path === '/' ? this.baseUrl : `${this.baseUrl}${String(path)}`;
    },
  });
}

function routePatternOf(req: Request): string {
  return (req as TrackedRequest)[ROUTE_PATTERN] ?? 'unmatched';
}

async function checkReadiness(
  checks: readonly ReadinessCheck[],
  timeoutMs: number,
): Promise<Record<string, string>> {
  const outcomes = await Promise.all(
    checks.map(async ({ name, check }) => [name, await runCheck(check, timeoutMs)] as const),
  );
  return Object.fromEntries(outcomes);
}

async function runCheck(check: ReadinessCheck['check'], timeoutMs: number): Promise<string> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    await Promise.race([Promise.resolve().then(check), timeout]);
    return 'ok';
  } catch (err) {
    // /readyz answers anyone who can reach the port: keep the reason, lose credentials and bulk.
    const message = err instanceof Error ? err.message : String(err);
    return redactUrl(message).slice(0, 300) || 'failed';
  } finally {
    clearTimeout(timer);
  }
}

function toAppError(err: unknown, bodyLimit: string | number): AppError {
  if (isAppError(err)) return err;
  if (err instanceof z.core.$ZodError) return fromZodError(err);

  // body-parser (via http-errors) marks its failures with a `type`; see body-parser's README.
  const { type, status, expose, message } = (err ?? {}) as {
    type?: unknown;
    status?: unknown;
    expose?: unknown;
    message?: unknown;
  };
  switch (type) {
    case 'entity.parse.failed':
      return new AppError({
        code: 'invalid_json',
        message: 'request body is not valid JSON',
        httpStatus: 400,
      });
    case 'entity.too.large':
      return payloadTooLarge(
        `request body exceeds ${typeof bodyLimit === 'number' ? `${bodyLimit} bytes` : bodyLimit}`,
      );
    case 'charset.unsupported':
    case 'encoding.unsupported':
      return unsupportedMediaType(typeof message === 'string' ? message : undefined);
  }
  // The router's own decodeURIComponent failure (`%E0%A4%A`, an encoded lone surrogate): status 400,
  // but without http-errors' `expose`, so it would otherwise count as our bug.
  if (err instanceof URIError && status === 400) {
    return badRequest('a path segment is not valid percent-encoded UTF-8');
  }
  // Other client errors raised by express itself (an aborted upload, …).
  if (expose === true && typeof status === 'number' && status >= 400 && status < 500) {
    const clientError = badRequest(typeof message === 'string' ? message : 'bad request');
    return status === 400
      ? clientError
      : new AppError({ code: 'invalid_request', message: clientError.message, httpStatus: status });
  }
  if (isDependencyUnavailable(err)) return unavailable('a dependency is unavailable; retry later', err);
  return internal('unhandled error', err);
}

/** The limits of the node HTTP server itself, before express sees a request. */
export interface HttpServerLimits {
  /** Time to receive a whole request (headers and body); 408 beyond. Not a bound on the answer. */
  requestTimeoutMs: number;
  /** Time to receive the request line and headers; 408 beyond (the smaller of this and requestTimeoutMs). */
  headersTimeoutMs: number;
  /** How long an idle keep-alive connection stays open. */
  keepAliveTimeoutMs: number;
  /** Largest request line plus headers, in bytes (query strings included); 431 beyond. */
  maxHeaderBytes: number;
}

// Keep-alive longer than the 60 s idle timeout of common load balancers and ingresses, so the proxy
// closes idle connections first and never sends a request into a socket Node is closing (a 502).
// Our bodies are at most about a megabyte; a request still incomplete after 30 s is stuck or hostile.
export const DEFAULT_HTTP_SERVER_LIMITS: HttpServerLimits = Object.freeze({
  requestTimeoutMs: 30_000,
  // Above keepAliveTimeout: with older node versions a shorter one cut idle keep-alive sockets.
  headersTimeoutMs: 66_000,
  keepAliveTimeoutMs: 65_000,
  maxHeaderBytes: 16 * 1024,
});

/** Options for {@link startHttpServer}. */
export interface StartHttpServerOptions extends Partial<HttpServerLimits> {
  /** 0 picks a free port; the chosen one is returned. */
  port: number;
  host?: string;
  log: Logger;
  /** How long `close()` waits for in-flight requests before cutting connections. Default 10 s. */
  closeGraceMs?: number;
}

/** A listening server. */
export interface RunningHttpServer {
  /** The port actually bound (useful with `port: 0`). */
  port: number;
  /** The node server, for what shares its port (e.g. a socket.io server attached to it). */
  server: Server;
  /**
   * Stops accepting connections, closes idle keep-alive sockets, lets in-flight requests finish
   * (answering them with `Connection: close`), and after `closeGraceMs` cuts what is left.
   * Idempotent.
   */
  close(): Promise<void>;
}

/**
 * Listens with `app` on `port` (and `host`), with the {@link HttpServerLimits} (defaults:
 * {@link DEFAULT_HTTP_SERVER_LIMITS}), our JSON error body on the errors node answers itself
 * (431, 408, 400 for a malformed request), and a graceful `close()`.
 */
export async function startHttpServer(
  app: RequestListener,
  options: StartHttpServerOptions,
): Promise<RunningHttpServer> {
  const { port: requestedPort, host, log, closeGraceMs = 10_000 } = options;
  const limits = { ...DEFAULT_HTTP_SERVER_LIMITS, ...definedLimits(options) };
  const server = createServer(
    {
      // An app of createHttpApp: its requests and responses are created with its own classes (decision 0020).
      ...SERVER_CLASSES.get(app),
      maxHeaderSize: limits.maxHeaderBytes,
      // Node enforces the two timeouts on this tick (default 30 s); a short timeout needs a finer one.
      connectionsCheckingInterval: Math.max(
        50,
        Math.min(30_000, Math.floor(Math.min(limits.requestTimeoutMs, limits.headersTimeoutMs) / 4)),
      ),
    },
    app,
  );
  server.keepAliveTimeout = limits.keepAliveTimeoutMs;
  server.requestTimeout = limits.requestTimeoutMs;
  server.headersTimeout = limits.headersTimeoutMs;
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) =>
    answerClientError(err, socket, limits, log),
  );

  let closing = false;
  const inFlight = new Set<ServerResponse>();
  // Runs before the app: a response sent while closing tells the client not to reuse the socket.
  server.prependListener('request', (_req, res: ServerResponse) => {
    if (closing) res.setHeader('connection', 'close');
    inFlight.add(res);
    res.on('close', () => inFlight.delete(res));
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ port: requestedPort, host }, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  log.info({ port, host }, 'http server listening');

  async function close(): Promise<void> {
    closing = true;
    for (const res of inFlight) if (!res.headersSent) res.setHeader('connection', 'close');
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeIdleConnections();

    let timer: NodeJS.Timeout | undefined;
    const graceOver = new Promise<'grace-over'>((resolve) => {
      timer = setTimeout(() => resolve('grace-over'), closeGraceMs);
    });
    const outcome = await Promise.race([closed.then(() => 'closed' as const), graceOver]);
    clearTimeout(timer);
    if (outcome === 'grace-over') {
      log.warn(
        { inFlight: inFlight.size, closeGraceMs },
        'http requests still running; closing their connections',
      );
      server.closeAllConnections();
      await closed;
    }
    log.info('http server closed');
  }

  let closed: Promise<void> | undefined;
  return { port, server, close: () => (closed ??= close()) };
}

function definedLimits(options: Partial<HttpServerLimits>): Partial<HttpServerLimits> {
  const keys = ['requestTimeoutMs', 'headersTimeoutMs', 'keepAliveTimeoutMs', 'maxHeaderBytes'] as const;
  return Object.fromEntries(keys.filter((k) => options[k] !== undefined).map((k) => [k, options[k]]));
}

/**
 * What node would answer with an empty body (or not at all), answered with our error body instead:
 * a client learns what it did wrong the same way as from any other 4xx.
 */
function answerClientError(
  err: NodeJS.ErrnoException,
  socket: Duplex,
  limits: HttpServerLimits,
  log: Logger,
): void {
  if (err.code === 'ECONNRESET' || !socket.writable) {
    socket.destroy();
    return;
  }
  const [status, code, message] =
    err.code === 'HPE_HEADER_OVERFLOW'
      ? [431, 'headers_too_large', `request line and headers exceed ${limits.maxHeaderBytes} bytes`]
      : err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? [408, 'request_timeout', `request not received within ${limits.requestTimeoutMs} ms`]
        : [400, 'invalid_request', 'malformed HTTP request'];
  log.info({ code, statusCode: status, parserError: err.code }, message);
  const body = JSON.stringify({ error: { code, message } });
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\n` +
      'Content-Type: application/json; charset=utf-8\r\n' +
      `Content-Length: ${Buffer.byteLength(body)}\r\n` +
      'Connection: close\r\n\r\n' +
      body,
  );
}
