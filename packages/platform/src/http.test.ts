import { execFile } from 'node:child_process';
import { IncomingMessage, ServerResponse } from 'node:http';
import { connect } from 'node:net';
import path from 'node:path';
import { promisify } from 'node:util';
import { defineRoute } from '@mcms/contracts';
import express, { type Express } from 'express';
import { z } from 'zod';
import { conflict, internal, notFound, parseWith } from './errors';
import { createHttpApp, startHttpServer, type HttpAppOptions } from './http';
import { createLogger } from './logger';
import { createMetrics } from './metrics';
import { mountRoute, type Authenticate } from './routes';

type LogLine = { level: string; msg: string; [key: string]: unknown };

const JobBody = z.object({
  routingId: z.string().uuid(),
  outputs: z.array(z.object({ sha256: z.string().length(64) })),
});
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

function deferred<T = void>() {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((done) => (resolve = done));
  return { promise, resolve };
}

function sampleRoutes(app: Express): void {
  app.get('/jobs/:id', (req, res) => {
    res.json({ id: req.params.id });
  });
  app.post('/jobs', (req, res) => {
    res.status(201).json(parseWith(JobBody, req.body));
  });
  app.post('/jobs/strict', (req, res) => {
    res.json(JobBody.parse(req.body));
  });
  app.post('/jobs/:id/retry', (_req, res) => {
    res.status(202).json({ accepted: true });
  });
  app.get('/conflict', () => {
    throw conflict('job_already_completed', 'job j-1 is already completed');
  });
  app.get('/boom', async () => {
    throw new Error('relation "secret_table" does not exist');
  });
  app.get('/invariant', () => {
    throw internal('routing r-9 has no owner');
  });
  app.get('/database-restarting', async () => {
    // What node-postgres throws while PostgreSQL restarts (seen in the chaos run).
    throw Object.assign(new Error('the database system is starting up'), {
      code: '57P03',
      severity: 'FATAL',
    });
  });
  const api = express.Router();
  api.get('/jobs/:id', async () => {
    throw notFound('job');
  });
  app.use('/api', api);
}

const closers: Array<() => Promise<void>> = [];
afterEach(async () => {
  await Promise.all(closers.splice(0).map((close) => close()));
});

async function startApp(
  options: Partial<HttpAppOptions> = {},
  limits: Partial<Parameters<typeof startHttpServer>[1]> = {},
) {
  const lines: LogLine[] = [];
  const log = createLogger({
    service: 'test',
    level: 'debug',
    destination: { write: (line: string) => void lines.push(JSON.parse(line) as LogLine) },
  });
  const metrics = createMetrics({ service: 'test', defaultMetrics: false });
  const app = createHttpApp({ log, metrics, routes: sampleRoutes, ...options });
  const server = await startHttpServer(app, { port: 0, host: '127.0.0.1', log, ...limits });
  closers.push(server.close);
  return { url: `http://127.0.0.1:${server.port}`, lines, server, log };
}

function postJson(url: string, body: string, contentType = 'application/json') {
  return fetch(url, { method: 'POST', headers: { 'content-type': contentType }, body });
}

describe('health and readiness', () => {
  it('answers /healthz without running any readiness check', async () => {
    let checks = 0;
    const { url } = await startApp({ readiness: [{ name: 'database', check: () => void checks++ }] });

    const response = await fetch(`${url}/healthz`);

    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ status: 'ok' });
    expect(checks).toBe(0);
  });

  it('is ready when every check passes', async () => {
    const { url } = await startApp({
      readiness: [
        { name: 'database', check: async () => undefined },
        { name: 'broker', check: () => undefined },
      ],
    });

    const response = await fetch(`${url}/readyz`);

    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ status: 'ready', checks: { database: 'ok', broker: 'ok' } });
  });

  it('is not ready when a check throws, naming that check and hiding credentials in its message', async () => {
    const { url } = await startApp({
      readiness: [
        { name: 'database', check: async () => undefined },
        {
          name: 'broker',
          check: () => {
            throw new Error('connect ECONNREFUSED amqp://mcms:hunter2@rabbit:5672');
          },
        },
      ],
    });

    const response = await fetch(`${url}/readyz`);

    expect(response.status).toBe(503);
    expect(await response.json()).toEqual({
      status: 'not-ready',
      checks: { database: 'ok', broker: 'connect ECONNREFUSED amqp://mcms:***@rabbit:5672' },
    });
  });

  it('fails a check that hangs past its timeout while the others still report', async () => {
    const { url } = await startApp({
      readinessTimeoutMs: 50,
      readiness: [
        { name: 'database', check: async () => undefined },
        { name: 'shared-drive', check: () => new Promise<void>(() => undefined) },
      ],
    });

    const response = await fetch(`${url}/readyz`);

    expect(response.status).toBe(503);
    expect(await response.json()).toEqual({
      status: 'not-ready',
      checks: { database: 'ok', 'shared-drive': 'timed out after 50 ms' },
    });
  });

  it('refuses two readiness checks with one name', () => {
    const log = createLogger({ service: 'test', level: 'silent' });
    const metrics = createMetrics({ service: 'test', defaultMetrics: false });
    const check = () => undefined;

    expect(() =>
      createHttpApp({
        log,
        metrics,
        routes: () => undefined,
        readiness: [
          { name: 'db', check },
          { name: 'db', check },
        ],
      }),
    ).toThrow('duplicate readiness check names');
  });
});

describe('metrics', () => {
  it('labels request latency with the route pattern, the mount path and "unmatched" for unknown routes', async () => {
    const { url } = await startApp();

    await fetch(`${url}/jobs/123`);
    await fetch(`${url}/jobs/456`);
    await fetch(`${url}/api/jobs/789`);
    await fetch(`${url}/no/such/route`);
    const text = await (await fetch(`${url}/metrics`)).text();

    expect(text).toContain(
      'http_request_duration_seconds_count{service="test",method="GET",route="/jobs/:id",status_code="200"} 2',
    );
    expect(text).toContain(
      'http_request_duration_seconds_count{service="test",method="GET",route="/api/jobs/:id",status_code="404"} 1',
    );
    expect(text).toContain(
      'http_request_duration_seconds_count{service="test",method="GET",route="unmatched",status_code="404"} 1',
    );
    expect(text).not.toMatch(/\/jobs\/(123|456|789)/);
  });

  it('serves the registry in the Prometheus text format', async () => {
    const { url } = await startApp();

    const response = await fetch(`${url}/metrics`);

    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(await response.text()).toContain('# TYPE http_request_duration_seconds histogram');
  });
});

describe('correlation id', () => {
  it('echoes an incoming correlation id and puts it on every log line of the request', async () => {
    const { url, lines } = await startApp();

    const response = await fetch(`${url}/jobs/1`, { headers: { 'x-correlation-id': 'corr-abc-123' } });

    expect(response.headers.get('x-correlation-id')).toBe('corr-abc-123');
    expect(lines).toContainEqual(
      expect.objectContaining({
        msg: 'request completed',
        correlationId: 'corr-abc-123',
        route: '/jobs/:id',
      }),
    );
  });

  it('generates a UUID when the request has none', async () => {
    const { url } = await startApp();

    const response = await fetch(`${url}/jobs/1`);

    expect(response.headers.get('x-correlation-id')).toMatch(UUID);
  });

  it('replaces a correlation id longer than 200 characters', async () => {
    const { url } = await startApp();
    const tooLong = 'a'.repeat(201);

    const response = await fetch(`${url}/jobs/1`, { headers: { 'x-correlation-id': tooLong } });

    expect(response.headers.get('x-correlation-id')).toMatch(UUID);
    expect(
      (await fetch(`${url}/jobs/1`, { headers: { 'x-correlation-id': 'a'.repeat(200) } })).headers.get(
        'x-correlation-id',
      ),
    ).toBe('a'.repeat(200));
  });
});

describe('request bodies', () => {
  const validJob = {
    routingId: '3f1e2d4c-5b6a-4789-8abc-def012345678',
    outputs: [{ sha256: 'a'.repeat(64) }],
  };

  it('parses a JSON body', async () => {
    const { url } = await startApp();

    const response = await postJson(`${url}/jobs`, JSON.stringify(validJob));

    expect(response.status).toBe(201);
    expect(await response.json()).toEqual(validJob);
  });

  it('accepts a +json media type', async () => {
    const { url } = await startApp();

    const response = await postJson(`${url}/jobs`, JSON.stringify(validJob), 'application/vnd.mcms+json');

    expect(response.status).toBe(201);
  });

  it('answers 400 invalid_json to a body that does not parse', async () => {
    const { url } = await startApp();

    const response = await postJson(`${url}/jobs`, '{"routingId": ');

    expect(response.status).toBe(400);
    expect(await response.json()).toEqual({
      error: { code: 'invalid_json', message: 'request body is not valid JSON' },
    });
  });

  it('answers 415 to a body that is not JSON', async () => {
    const { url } = await startApp();

    const response = await postJson(`${url}/jobs`, 'routingId=1', 'application/x-www-form-urlencoded');

    expect(response.status).toBe(415);
    expect(await response.json()).toMatchObject({ error: { code: 'unsupported_media_type' } });
  });

  it('answers 415 to a body without a content type', async () => {
    const { url } = await startApp();

    const response = await fetch(`${url}/jobs`, { method: 'POST', body: new Uint8Array([123, 125]) });

    expect(response.status).toBe(415);
  });

  it('lets a POST without a body through whatever its content type', async () => {
    const { url } = await startApp();

    const response = await fetch(`${url}/jobs/1/retry`, { method: 'POST' });

    expect(response.status).toBe(202);
  });

  it('answers 413 to a body over the limit', async () => {
    const { url } = await startApp({ bodyLimit: '1kb' });

    const response = await postJson(
      `${url}/jobs`,
      JSON.stringify({ ...validJob, padding: 'x'.repeat(2048) }),
    );

    expect(response.status).toBe(413);
    expect(await response.json()).toEqual({
      error: { code: 'payload_too_large', message: 'request body exceeds 1kb' },
    });
  });
});

describe('limits', () => {
  /** Writes `text` on a raw connection and returns everything the server sends until it closes. */
  function rawExchange(port: number, text: string): Promise<string> {
    return new Promise((resolve, reject) => {
      const socket = connect(port, '127.0.0.1', () => socket.write(text));
      let received = '';
      socket.on('data', (chunk) => (received += chunk.toString('utf8')));
      socket.on('error', reject);
      socket.on('close', () => resolve(received));
    });
  }

  it('answers 400 invalid_request, not 500, to a path segment that is not percent-encoded UTF-8', async () => {
    const { url } = await startApp();

    const response = await fetch(`${url}/jobs/%ED%A0%80`);

    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({ error: { code: 'invalid_request' } });
  });

  it('answers 431 with our error body to a request line and headers over the limit', async () => {
    const { server } = await startApp({}, { maxHeaderBytes: 2048 });

    const answer = await rawExchange(
      server.port,
      `GET /jobs/1?q=${'x'.repeat(4096)} HTTP/1.1\r\nHost: x\r\n\r\n`,
    );

    expect(answer).toMatch(/^HTTP\/1\.1 431 /);
    expect(JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4))).toEqual({
      error: { code: 'headers_too_large', message: 'request line and headers exceed 2048 bytes' },
    });
  });

  it('answers 408 with our error body to a request whose body never arrives', async () => {
    const { server } = await startApp({}, { requestTimeoutMs: 300, headersTimeoutMs: 300 });

    const answer = await rawExchange(
      server.port,
      'POST /jobs HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 10\r\n\r\n{',
    );

    expect(answer).toMatch(/^HTTP\/1\.1 408 /);
    expect(answer).toContain('"code":"request_timeout"');
  });

  it('lets an answer take longer than the request timeout (a long poll): it bounds receiving the request only', async () => {
    const { url } = await startApp(
      {
        routes: (app) => {
          app.get('/wait', async (_req, res) => {
            await new Promise((resolve) => setTimeout(resolve, 900));
            res.json({ waited: true });
          });
        },
      },
      { requestTimeoutMs: 300, headersTimeoutMs: 300 },
    );

    const response = await fetch(`${url}/wait`);

    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ waited: true });
  });

  it("answers 413 to a body over the route's own limit, below the app's", async () => {
    const route = defineRoute({
      method: 'post',
      path: '/small',
      operationId: 'small',
      summary: 'small',
      tag: 'test',
      auth: 'public',
      body: z.object({ text: z.string() }),
      maxBodyBytes: 100,
      responses: { 200: { description: 'ok' } },
    });
    const open: Authenticate = () => undefined;
    const { url } = await startApp({
      routes: (app) => mountRoute(app, route, open, ({ body }) => ({ status: 200, body })),
    });

    const small = await postJson(`${url}/small`, JSON.stringify({ text: 'x'.repeat(50) }));
    const large = await postJson(`${url}/small`, JSON.stringify({ text: 'x'.repeat(200) }));

    expect(small.status).toBe(200);
    expect(large.status).toBe(413);
    expect(await large.json()).toEqual({
      error: {
        code: 'payload_too_large',
        message: 'request body exceeds 100 bytes, the limit of this route',
      },
    });
  });
});

describe('error mapping', () => {
  it('maps an AppError to its status, code and message', async () => {
    const { url } = await startApp();

    const response = await fetch(`${url}/conflict`);

    expect(response.status).toBe(409);
    expect(await response.json()).toEqual({
      error: { code: 'job_already_completed', message: 'job j-1 is already completed' },
    });
  });

  it('lists each invalid field of a body validated with parseWith', async () => {
    const { url } = await startApp();

    const response = await postJson(
      `${url}/jobs`,
      JSON.stringify({ routingId: 'nope', outputs: [{ sha256: 'x' }] }),
    );

    expect(response.status).toBe(400);
    expect(await response.json()).toEqual({
      error: {
        code: 'validation_failed',
        message: 'validation failed: routingId, outputs.0.sha256',
        details: [
          { path: 'routingId', message: expect.any(String) },
          { path: 'outputs.0.sha256', message: expect.any(String) },
        ],
      },
    });
  });

  it('maps a ZodError thrown by a handler to 400 validation_failed', async () => {
    const { url } = await startApp();

    const response = await postJson(`${url}/jobs/strict`, JSON.stringify({ outputs: [] }));

    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({
      error: { code: 'validation_failed', details: [{ path: 'routingId', message: expect.any(String) }] },
    });
  });

  it('answers 500 to an unknown error without leaking its message, and logs it with the stack', async () => {
    const { url, lines } = await startApp();

    const response = await fetch(`${url}/boom`);
    const text = await response.text();

    expect(response.status).toBe(500);
    expect(JSON.parse(text)).toEqual({ error: { code: 'internal', message: 'internal error' } });
    expect(text).not.toContain('secret_table');
    const logged = lines.find((line) => line.level === 'error');
    expect(logged).toMatchObject({
      msg: 'request failed',
      err: { message: 'relation "secret_table" does not exist' },
    });
    expect((logged?.err as { stack?: string }).stack).toContain('http.test.ts');
  });

  it('answers 503 dependency_unavailable, not 500, when the database went away under a request', async () => {
    const { url } = await startApp();

    const response = await fetch(`${url}/database-restarting`);

    expect(response.status).toBe(503);
    expect(await response.json()).toMatchObject({ error: { code: 'dependency_unavailable' } });
  });

  it('hides the message of an internal AppError too', async () => {
    const { url } = await startApp();

    const response = await fetch(`${url}/invariant`);

    expect(response.status).toBe(500);
    expect(await response.json()).toEqual({ error: { code: 'internal', message: 'internal error' } });
  });

  it('answers an unknown route with a JSON 404', async () => {
    const { url } = await startApp();

    const response = await fetch(`${url}/no/such/route?x=1`);

    expect(response.status).toBe(404);
    expect(await response.json()).toEqual({
      error: { code: 'not_found', message: 'route GET /no/such/route not found' },
    });
  });

  it('logs client errors below error level', async () => {
    const { url, lines } = await startApp();

    await fetch(`${url}/conflict`);
    await postJson(`${url}/jobs`, '{');
    await fetch(`${url}/nowhere`);

    expect(lines.filter((line) => line.level === 'error' || line.level === 'fatal')).toEqual([]);
    expect(lines).toContainEqual(
      expect.objectContaining({ level: 'info', code: 'job_already_completed', statusCode: 409 }),
    );
  });
});

describe('startHttpServer', () => {
  it('lets an in-flight request finish before close resolves, then refuses new connections', async () => {
    const entered = deferred();
    const release = deferred();
    const { url, server } = await startApp({
      routes: (app) => {
        app.get('/slow', async (_req, res) => {
          entered.resolve();
          await release.promise;
          res.json({ done: true });
        });
      },
    });
    const order: string[] = [];

    const response = fetch(`${url}/slow`).then(async (res) => ({
      status: res.status,
      connection: res.headers.get('connection'),
      body: await res.json(),
    }));
    await entered.promise;
    const closed = server.close().then(() => order.push('closed'));
    // Give a close that does not wait every chance to finish before the handler is released.
    for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve));
    order.push('released');
    release.resolve();

    expect(await response).toEqual({ status: 200, connection: 'close', body: { done: true } });
    await closed;
    expect(order).toEqual(['released', 'closed']);
    await expect(fetch(`${url}/healthz`)).rejects.toThrow();
  });

  it('cuts requests still running when the grace period ends', async () => {
    const entered = deferred();
    const log = createLogger({ service: 'test', level: 'silent' });
    const app = createHttpApp({
      log,
      metrics: createMetrics({ service: 'test', defaultMetrics: false }),
      routes: (routes) => {
        routes.get('/hang', () => {
          entered.resolve();
          return new Promise(() => undefined);
        });
      },
    });
    const server = await startHttpServer(app, { port: 0, host: '127.0.0.1', log, closeGraceMs: 50 });

    const response = fetch(`http://127.0.0.1:${server.port}/hang`);
    response.catch(() => undefined);
    await entered.promise;
    await server.close();

    await expect(response).rejects.toThrow();
  });

  it('reports the port it bound when asked for port 0', async () => {
    const { server } = await startApp();

    expect(server.port).toBeGreaterThan(0);
  });

  it("creates an app's requests and responses with the app's own prototypes, which express then keeps", async () => {
    const handled: Array<{ req: unknown; res: unknown }> = [];
    const log = createLogger({ service: 'test', level: 'silent' });
    const app = createHttpApp({
      log,
      metrics: createMetrics({ service: 'test', defaultMetrics: false }),
      routes: (routes) => {
        routes.post('/jobs/:id', (req, res) => {
          handled.push({ req: Object.getPrototypeOf(req), res: Object.getPrototypeOf(res) });
          res.json({ id: req.params.id, body: req.body as unknown });
        });
      },
    });
    const server = await startHttpServer(app, { port: 0, host: '127.0.0.1', log });
    closers.push(server.close);
    const arrived: Array<{ req: unknown; res: unknown }> = [];
    // Runs before express: what node:http created, before express re-parents anything.
    server.server.prependListener('request', (req, res) => {
      arrived.push({ req: Object.getPrototypeOf(req), res: Object.getPrototypeOf(res) });
    });

    const answer = await postJson(`http://127.0.0.1:${server.port}/jobs/j-7`, '{"n":1}');

    expect(await answer.json()).toEqual({ id: 'j-7', body: { n: 1 } });
    expect(arrived).toEqual([{ req: app.request, res: app.response }]);
    expect(handled).toEqual(arrived);
    expect(app.request).toBeInstanceOf(IncomingMessage);
    expect(app.response).toBeInstanceOf(ServerResponse);
    expect((app.request as unknown as { app: unknown }).app).toBe(app);
  });

  it('gives every request and response of an app one hidden class in V8 (decision 0020)', async () => {
    // V8's own answer, from a process allowed to ask it: %HaveSameMap and %HasFastProperties of two requests (and
    // of their responses) that went through the platform middleware, body parsing and a mounted router. Node's own
    // requests share one map; re-parented by express as node:http created them, every request had one of its own.
    const root = path.resolve(__dirname, '..', '..', '..');
    const script = `
      const { createHttpApp, startHttpServer, createLogger, createMetrics } = require(${JSON.stringify(
        path.join(__dirname, 'index.ts'),
      )});
      const express = require('express');
      const sameMap = new Function('a', 'b', 'return %HaveSameMap(a, b)');
      // Objects in dictionary mode share one map too: a request that went slow must count as a failure.
      const fast = new Function('o', 'return %HasFastProperties(o)');
      const log = createLogger({ service: 'probe', level: 'silent' });
      const seen = [];
      const app = createHttpApp({ log, metrics: createMetrics({ service: 'probe', defaultMetrics: false }),
        routes: (routes) => { const api = express.Router();
          api.post('/jobs/:id', (req, res) => { seen.push({ req, res }); res.json({ id: req.params.id, n: req.body.n }); });
          routes.use('/api', api); } });
      startHttpServer(app, { port: 0, host: '127.0.0.1', log }).then(async (server) => {
        for (let i = 0; i < 40; i++) {
          const answer = await fetch('http://127.0.0.1:' + server.port + '/api/jobs/' + i, {
            method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ n: i }) });
          if (answer.status !== 200) throw new Error('status ' + answer.status);
        }
        const [a, b] = [seen[30], seen[39]];
        process.stdout.write(JSON.stringify({
          requests: sameMap(a.req, b.req) && fast(a.req) && fast(b.req),
          responses: sameMap(a.res, b.res) && fast(a.res) && fast(b.res),
        }));
        await server.close();
      });`;
    const { stdout } = await promisify(execFile)(
      process.execPath,
      ['--allow-natives-syntax', '-r', path.join(root, 'scripts', 'register-ts.cjs'), '-e', script],
      { cwd: __dirname, timeout: 30_000 },
    );

    expect(JSON.parse(stdout)).toEqual({ requests: true, responses: true });
  }, 40_000);
});
