// The operator page's HTTP edge against a fake upstream (a local HTTP server standing in for routing-worker
// and history-service): which paths are forwarded, with what, and what a failing upstream turns into.
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  createHttpApp,
  createJwtAuth,
  createLogger,
  createMetrics,
  DEV_JWT_SECRET,
  startHttpServer,
  type RunningHttpServer,
} from '@mcms/platform';
import { mountOperatorPage, PROXY_PREFIX } from './operator-page';

const jwt = createJwtAuth({ secret: DEV_JWT_SECRET });
const log = createLogger({ service: 'operator-page-test', level: 'silent' });
const ROUTING_ID = '3f1c2b7e-9a4d-4c1e-8b5a-2d6f0e9c1a7b';

interface Seen {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
}

let upstream: Server;
let upstreamUrl: string;
const seen: Seen[] = [];
let upstreamAnswer: { status: number; body: string; delayMs?: number } = { status: 200, body: '{}' };
// Answers still waiting for their delay: cleared at the end, or a slow answer would keep the worker alive.
const delayed = new Set<NodeJS.Timeout>();

beforeAll(async () => {
  upstream = createServer((req, res) => {
    seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers });
    const { status, body, delayMs = 0 } = upstreamAnswer;
    const timer = setTimeout(() => {
      delayed.delete(timer);
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(body);
    }, delayMs);
    delayed.add(timer);
  });
  upstream.listen(0, '127.0.0.1');
  await once(upstream, 'listening');
  upstreamUrl = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
});
afterAll(async () => {
  for (const timer of delayed) clearTimeout(timer);
  upstream.closeAllConnections();
  await new Promise((resolve) => upstream.close(resolve));
});
beforeEach(() => {
  seen.length = 0;
  upstreamAnswer = { status: 200, body: '{"items":[],"nextCursor":null}' };
});

async function servePage(
  options: { allowDevSignIn?: boolean; routingWorkerUrl?: string; upstreamTimeoutMs?: number } = {},
): Promise<{ url: string; server: RunningHttpServer }> {
  const app = createHttpApp({
    log,
    metrics: createMetrics({ service: 'operator-page-test', defaultMetrics: false }),
    routes: (express) =>
      mountOperatorPage(express, {
        routingWorkerUrl: options.routingWorkerUrl ?? upstreamUrl,
        historyServiceUrl: upstreamUrl,
        jwt,
        allowDevSignIn: options.allowDevSignIn ?? false,
        log,
        upstreamTimeoutMs: options.upstreamTimeoutMs,
      }),
  });
  const server = await startHttpServer(app, { port: 0, host: '127.0.0.1', log, closeGraceMs: 100 });
  return { url: `http://127.0.0.1:${server.port}`, server };
}

describe('the operator page', () => {
  it('serves the page, its script and its stylesheet under a policy that allows only this origin', async () => {
    const { url, server } = await servePage();
    try {
      const page = await fetch(`${url}/`);
      expect(page.status).toBe(200);
      expect(page.headers.get('content-type')).toMatch(/^text\/html/);
      expect(page.headers.get('content-security-policy')).toContain("default-src 'self'");
      const html = await page.text();
      expect(html).toContain('src="/socket.io/socket.io.js"');
      expect(html).toContain('aria-live="polite"');
      const script = await fetch(`${url}/ui/app.js`);
      expect(script.headers.get('content-type')).toMatch(/^text\/javascript/);
      expect(await script.text()).toContain('lastNotificationId');
      expect((await fetch(`${url}/ui/style.css`)).headers.get('content-type')).toMatch(/^text\/css/);
    } finally {
      await server.close();
    }
  });

  it('offers no development sign-in when it is not allowed: no button and no route', async () => {
    const { url, server } = await servePage({ allowDevSignIn: false });
    try {
      expect(await (await fetch(`${url}/`)).text()).not.toContain('dev-sign-in');
      expect((await fetch(`${url}/dev/sign-in`, { method: 'POST' })).status).toBe(404);
    } finally {
      await server.close();
    }
  });

  it('mints a viewer token at the development sign-in when it is allowed', async () => {
    const { url, server } = await servePage({ allowDevSignIn: true });
    try {
      expect(await (await fetch(`${url}/`)).text()).toContain('id="dev-sign-in"');
      const answer = await fetch(`${url}/dev/sign-in`, { method: 'POST' });
      expect(answer.status).toBe(200);
      const { token } = (await answer.json()) as { token: string };
      expect(jwt.verify(token)).toMatchObject({ kind: 'user', roles: ['viewer'] });
    } finally {
      await server.close();
    }
  });
});

describe('the read-only proxy', () => {
  it('forwards a GET of the routing list with its query, the caller token and a correlation id, and returns the answer', async () => {
    const { url, server } = await servePage();
    try {
      upstreamAnswer = { status: 200, body: '{"items":[{"id":"x"}],"nextCursor":null}' };
      const answer = await fetch(
        `${url}${PROXY_PREFIX.routingWorker}/api/routings?limit=50&status=Approved`,
        {
          headers: { authorization: 'Bearer abc', cookie: 'secret=1', 'x-correlation-id': 'corr-1' },
        },
      );
      expect(answer.status).toBe(200);
      expect(await answer.json()).toEqual({ items: [{ id: 'x' }], nextCursor: null });
      expect(seen).toHaveLength(1);
      expect(seen[0]).toMatchObject({ method: 'GET', url: '/api/routings?limit=50&status=Approved' });
      expect(seen[0]?.headers).toMatchObject({ authorization: 'Bearer abc', 'x-correlation-id': 'corr-1' });
      expect(seen[0]?.headers.cookie).toBeUndefined();
    } finally {
      await server.close();
    }
  });

  it("forwards a routing's history to history-service and passes an upstream 401 on unchanged", async () => {
    const { url, server } = await servePage();
    try {
      upstreamAnswer = { status: 401, body: '{"error":{"code":"unauthorized","message":"invalid token"}}' };
      const answer = await fetch(`${url}${PROXY_PREFIX.historyService}/api/routings/${ROUTING_ID}/history`);
      expect(answer.status).toBe(401);
      expect(await answer.json()).toEqual({ error: { code: 'unauthorized', message: 'invalid token' } });
      expect(seen.map((s) => s.url)).toEqual([`/api/routings/${ROUTING_ID}/history`]);
    } finally {
      await server.close();
    }
  });

  it('forwards nothing but the read routes of the contracts: other paths and methods are 404', async () => {
    const { url, server } = await servePage();
    try {
      for (const [method, path] of [
        ['GET', `${PROXY_PREFIX.routingWorker}/metrics`],
        ['GET', `${PROXY_PREFIX.routingWorker}/api/routings/${ROUTING_ID}/history`],
        ['GET', `${PROXY_PREFIX.historyService}/api/routings`],
        ['POST', `${PROXY_PREFIX.routingWorker}/api/routings`],
        ['DELETE', `${PROXY_PREFIX.routingWorker}/api/routings/${ROUTING_ID}`],
      ] as const) {
        expect([method, path, (await fetch(`${url}${path}`, { method })).status]).toEqual([
          method,
          path,
          404,
        ]);
      }
      expect(seen).toEqual([]);
    } finally {
      await server.close();
    }
  });

  it('answers 502 when the upstream is down, answers too slowly, or fails with a 5xx', async () => {
    const down = await servePage({ routingWorkerUrl: 'http://127.0.0.1:9' });
    const slow = await servePage({ upstreamTimeoutMs: 100 });
    try {
      const path = `${PROXY_PREFIX.routingWorker}/api/routings`;
      const refused = await fetch(`${down.url}${path}`);
      expect(refused.status).toBe(502);
      expect(await refused.json()).toMatchObject({ error: { code: 'bad_gateway' } });

      upstreamAnswer = { status: 200, body: '{}', delayMs: 1_000 };
      const started = Date.now();
      expect((await fetch(`${slow.url}${path}`)).status).toBe(502);
      expect(Date.now() - started).toBeLessThan(900);

      upstreamAnswer = { status: 503, body: '{"error":{"code":"unavailable","message":"db down"}}' };
      expect((await fetch(`${slow.url}${path}`)).status).toBe(502);
    } finally {
      await Promise.all([down.server.close(), slow.server.close()]);
    }
  });
});
