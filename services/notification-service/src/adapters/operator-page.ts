// The operator page: static files (no build step), a same-origin read-only proxy to routing-worker and
// history-service, and — outside production only — a development sign-in. The page talks to this service
// alone, so no CORS is needed and the browser never learns the internal service addresses.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { historyRoutes, routingRoutes, type RouteDefinition } from '@mcms/contracts';
import {
  AppError,
  CORRELATION_ID_HEADER,
  type CspDirectives,
  type JwtAuth,
  type Logger,
} from '@mcms/platform';
import type { Express, Request, Response } from 'express';

/** Options of {@link mountOperatorPage}. */
export interface OperatorPageOptions {
  /** Base URL of routing-worker (e.g. http://127.0.0.1:8081), for the routing table. */
  routingWorkerUrl: string;
  /** Base URL of history-service (e.g. http://127.0.0.1:8082), for a routing's history. */
  historyServiceUrl: string;
  /** Mints the development sign-in's viewer token. */
  jwt: JwtAuth;
  /** Mounts `POST /dev/sign-in`; never true in production. */
  allowDevSignIn: boolean;
  log: Logger;
  /** How long the proxy waits for an upstream answer; default 5 s. */
  upstreamTimeoutMs?: number;
}

/** The path prefix under which the page reaches each upstream service. */
export const PROXY_PREFIX = {
  routingWorker: '/proxy/routing-worker',
  historyService: '/proxy/history-service',
};

/** What `POST /dev/sign-in` answers. */
export interface DevSignIn {
  token: string;
  roles: ['viewer'];
  expiresInSeconds: number;
}

// One shift: long enough not to interrupt an operator, short enough that a forgotten tab is signed out.
const DEV_TOKEN_SECONDS = 12 * 3600;
const DEV_SUBJECT = 'dev-operator';
// The same path from src/adapters (tests) and dist/adapters (the build): the files are served as written.
const UI_DIR = path.resolve(__dirname, '..', '..', 'src', 'ui');
// Only what the upstream needs to authorize and answer; cookies and the rest stay here.
const FORWARDED_HEADERS = ['authorization', 'accept', 'if-none-match'] as const;
const RETURNED_HEADERS = ['content-type', 'etag', 'cache-control'] as const;

/**
 * The page's policy: its own scripts, styles and socket only, nothing inline, no frames. The whole service
 * sends it (helmet, through `createHttpApp`); the page's files set it themselves too, so they keep it
 * wherever they are mounted.
 */
export const OPERATOR_PAGE_CSP: CspDirectives = {
  'default-src': ["'self'"],
  'script-src': ["'self'"],
  'style-src': ["'self'"],
  'img-src': ["'self'", 'data:'],
  'connect-src': ["'self'"],
  'base-uri': ["'none'"],
  'form-action': ["'self'"],
  'frame-ancestors': ["'none'"],
  'object-src': ["'none'"],
};

const CONTENT_SECURITY_POLICY = Object.entries(OPERATOR_PAGE_CSP)
  .map(([name, values]) => `${name} ${values.join(' ')}`)
  .join('; ');

interface UiFile {
  body: string;
  type: string;
}

/**
 * Mounts the operator page at `/` (assets under `/ui/`), the read-only proxy (`GET` of the routing list,
 * one routing, and a routing's history — exactly the contract routes, nothing else of the upstreams), and
 * `POST /dev/sign-in` when `allowDevSignIn`.
 */
export function mountOperatorPage(app: Express, options: OperatorPageOptions): void {
  const { jwt, allowDevSignIn, log } = options;
  const timeoutMs = options.upstreamTimeoutMs ?? 5_000;
  const files = loadUiFiles(allowDevSignIn);

  const sendFile = (file: UiFile) => (_req: Request, res: Response) => {
    res.setHeader('content-type', file.type);
    // Small files: always revalidate, so a deploy is seen on the next reload.
    res.setHeader('cache-control', 'no-cache');
    res.setHeader('content-security-policy', CONTENT_SECURITY_POLICY);
    res.setHeader('x-content-type-options', 'nosniff');
    res.setHeader('referrer-policy', 'no-referrer');
    res.send(file.body);
  };
  app.get('/', sendFile(files.html));
  app.get('/ui/app.js', sendFile(files.js));
  app.get('/ui/style.css', sendFile(files.css));

  const upstreams: Array<{ name: string; prefix: string; baseUrl: string; routes: RouteDefinition[] }> = [
    {
      name: 'routing-worker',
      prefix: PROXY_PREFIX.routingWorker,
      baseUrl: options.routingWorkerUrl,
      routes: [routingRoutes.list, routingRoutes.get],
    },
    {
      name: 'history-service',
      prefix: PROXY_PREFIX.historyService,
      baseUrl: options.historyServiceUrl,
      routes: [historyRoutes.list],
    },
  ];
  for (const upstream of upstreams) {
    for (const route of upstream.routes) {
      if (route.method !== 'get') throw new Error(`the operator proxy forwards GET only (${route.path})`);
      app.get(`${upstream.prefix}${route.path}`, async (req, res) => {
        await forward(req, res, { ...upstream, timeoutMs });
      });
    }
  }

  if (allowDevSignIn) {
    app.post('/dev/sign-in', (req, res) => {
      const token = jwt.sign(
        { sub: DEV_SUBJECT, roles: ['viewer'] },
        { expiresInSeconds: DEV_TOKEN_SECONDS },
      );
      req.log.info({ sub: DEV_SUBJECT }, 'development sign-in issued a viewer token');
      const body: DevSignIn = { token, roles: ['viewer'], expiresInSeconds: DEV_TOKEN_SECONDS };
      res.setHeader('cache-control', 'no-store');
      res.json(body);
    });
    log.warn('development sign-in is enabled (POST /dev/sign-in mints viewer tokens)');
  }
}

async function forward(
  req: Request,
  res: Response,
  upstream: { name: string; prefix: string; baseUrl: string; timeoutMs: number },
): Promise<void> {
  // originalUrl keeps the query string and the path exactly as the route matched it.
  const target = new URL(req.originalUrl.slice(upstream.prefix.length), upstream.baseUrl);
  const headers: Record<string, string> = { [CORRELATION_ID_HEADER]: req.correlationId };
  for (const name of FORWARDED_HEADERS) {
    const value = req.headers[name];
    if (typeof value === 'string') headers[name] = value;
  }
  let answer: globalThis.Response;
  let body: Buffer;
  try {
    answer = await fetch(target, {
      headers,
      redirect: 'manual',
      signal: AbortSignal.timeout(upstream.timeoutMs),
    });
    body = Buffer.from(await answer.arrayBuffer());
  } catch (err) {
    req.log.warn({ err, upstream: upstream.name, path: target.pathname }, 'upstream did not answer');
    throw new AppError({
      code: 'bad_gateway',
      message: `${upstream.name} did not answer`,
      httpStatus: 502,
      cause: err,
    });
  }
  // The upstream's own 4xx (401, 404, 400) is the page's business: it is passed on as it came.
  if (answer.status >= 500 || (answer.status >= 300 && answer.status < 400 && answer.status !== 304)) {
    req.log.warn(
      { upstream: upstream.name, path: target.pathname, status: answer.status },
      'upstream failed',
    );
    throw new AppError({
      code: 'bad_gateway',
      message: `${upstream.name} answered ${answer.status}`,
      httpStatus: 502,
    });
  }
  res.status(answer.status);
  for (const name of RETURNED_HEADERS) {
    const value = answer.headers.get(name);
    if (value !== null) res.setHeader(name, value);
  }
  res.send(body);
}

function loadUiFiles(allowDevSignIn: boolean): { html: UiFile; js: UiFile; css: UiFile } {
  const read = (name: string) => readFileSync(path.join(UI_DIR, name), 'utf8');
  // The development sign-in button exists in the page only when the route exists.
  const html = read('index.html').replace(
    /<!-- dev-sign-in -->([\s\S]*?)<!-- \/dev-sign-in -->/,
    allowDevSignIn ? '$1' : '',
  );
  return {
    html: { body: html, type: 'text/html; charset=utf-8' },
    js: { body: read('app.js'), type: 'text/javascript; charset=utf-8' },
    css: { body: read('style.css'), type: 'text/css; charset=utf-8' },
  };
}
