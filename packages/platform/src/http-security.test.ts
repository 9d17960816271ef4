import type { Express } from 'express';
import { unauthorized } from './errors';
import { createHttpApp, startHttpServer, type HttpAppOptions } from './http';
import { createRateLimiter, httpSecurityConfig, httpSecurityFrom } from './http-security';
import { loadConfig } from './config';
import { createLogger } from './logger';
import { createMetrics } from './metrics';
import { z } from 'zod';

const closers: Array<() => Promise<void>> = [];
afterEach(async () => {
  await Promise.all(closers.splice(0).map((close) => close()));
});

function routes(app: Express): void {
  app.get('/open', (_req, res) => {
    res.json({ ok: true });
  });
  app.get('/closed', (req, res) => {
    if (req.get('authorization') !== 'Bearer right') throw unauthorized('invalid token');
    res.json({ ok: true });
  });
  app.get(
    '/limited',
    createRateLimiter({ limit: 2, windowMs: 60_000, what: 'calls', key: (req) => req.get('x-who') }),
    (_req, res) => {
      res.json({ ok: true });
    },
  );
}

async function start(options: Partial<HttpAppOptions> = {}): Promise<string> {
  const log = createLogger({ service: 'test', level: 'silent' });
  const app = createHttpApp({ log, metrics: createMetrics({ service: 'test' }), routes, ...options });
  const server = await startHttpServer(app, { port: 0, host: '127.0.0.1', log });
  closers.push(server.close);
  return `http://127.0.0.1:${server.port}`;
}

describe('security headers', () => {
  it('forbid a JSON API from loading or framing anything and hide what serves it', async () => {
    const base = await start();
    const answer = await fetch(`${base}/open`);
    expect(answer.headers.get('content-security-policy')).toBe(
      "default-src 'none';base-uri 'none';form-action 'none';frame-ancestors 'none'",
    );
    expect(answer.headers.get('x-content-type-options')).toBe('nosniff');
    expect(answer.headers.get('x-frame-options')).toBe('SAMEORIGIN');
    expect(answer.headers.get('referrer-policy')).toBe('no-referrer');
    expect(answer.headers.get('x-powered-by')).toBeNull();
  });

  it('take the policy a page needs instead', async () => {
    const base = await start({ security: { contentSecurityPolicy: { 'default-src': ["'self'"] } } });
    expect((await fetch(`${base}/open`)).headers.get('content-security-policy')).toBe("default-src 'self'");
  });
});

describe('CORS', () => {
  it('answers no origin by default, so browsers on other origins cannot read the API', async () => {
    const base = await start();
    const answer = await fetch(`${base}/open`, { headers: { origin: 'https://evil.example' } });
    expect(answer.headers.get('access-control-allow-origin')).toBeNull();
  });

  it('allows exactly the configured origins, preflight included', async () => {
    const base = await start({ security: { corsOrigins: ['https://mcms.plant.example'] } });
    const allowed = await fetch(`${base}/open`, { headers: { origin: 'https://mcms.plant.example' } });
    expect(allowed.headers.get('access-control-allow-origin')).toBe('https://mcms.plant.example');
    const preflight = await fetch(`${base}/open`, {
      method: 'OPTIONS',
      headers: {
        origin: 'https://mcms.plant.example',
        'access-control-request-method': 'GET',
        'access-control-request-headers': 'authorization',
      },
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get('access-control-allow-headers')).toContain('authorization');
    const other = await fetch(`${base}/open`, { headers: { origin: 'https://evil.example' } });
    expect(other.headers.get('access-control-allow-origin')).toBeNull();
  });

  it('refuses a configured value that is not an origin', () => {
    const schema = z.object(httpSecurityConfig);
    expect(() => loadConfig(schema, { MCMS_CORS_ORIGINS: 'https://a.example/path' })).toThrow(
      /MCMS_CORS_ORIGINS/,
    );
    const config = loadConfig(schema, { MCMS_CORS_ORIGINS: 'https://a.example, http://b.example:8083' });
    expect(httpSecurityFrom(config)).toEqual({
      corsOrigins: ['https://a.example', 'http://b.example:8083'],
      trustProxy: 0,
      authFailures: { limit: 100, windowMs: 60_000 },
    });
  });
});

describe('failed authentications', () => {
  it('are answered 429 with Retry-After once the limit is reached, and successes never count', async () => {
    const base = await start({ security: { authFailures: { limit: 3, windowMs: 60_000 } } });
    const ok = { headers: { authorization: 'Bearer right' } };
    for (let i = 0; i < 10; i += 1) expect((await fetch(`${base}/closed`, ok)).status).toBe(200);
    for (let i = 0; i < 3; i += 1) expect((await fetch(`${base}/closed`)).status).toBe(401);
    const limited = await fetch(`${base}/closed`);
    expect(limited.status).toBe(429);
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(Number(limited.headers.get('retry-after'))).toBeLessThanOrEqual(60);
    expect(await limited.json()).toMatchObject({
      error: { code: 'rate_limited', details: { retryAfterSeconds: expect.any(Number) } },
    });
    // The address is limited, whatever it presents next.
    expect((await fetch(`${base}/closed`, ok)).status).toBe(429);
  });
});

describe('createRateLimiter', () => {
  it('limits each key on its own with our error body and Retry-After, and skips requests without a key', async () => {
    const base = await start();
    const as = (who?: string) => fetch(`${base}/limited`, { headers: who ? { 'x-who': who } : {} });
    expect((await as('a')).status).toBe(200);
    expect((await as('a')).status).toBe(200);
    const limited = await as('a');
    expect(limited.status).toBe(429);
    expect(limited.headers.get('retry-after')).toMatch(/^\d+$/);
    expect(await limited.json()).toMatchObject({
      error: { code: 'rate_limited', message: expect.stringContaining('too many calls') },
    });
    expect((await as('b')).status).toBe(200);
    for (let i = 0; i < 5; i += 1) expect((await as()).status).toBe(200);
  });
});
