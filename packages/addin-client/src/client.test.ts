import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomUUID } from 'node:crypto';
import type { AddinJob } from '@mcms/contracts';
import { createAddinClient, type AddinClientOptions } from './client';
import { AddinApiError } from './errors';

interface Seen {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: string;
}

type Handler = (req: Seen, res: ServerResponse) => void;

/** A tiny gateway stand-in: answers with the queued handlers in order and records each request. */
async function fakeGateway(): Promise<{
  url: string;
  seen: Seen[];
  answer(...handlers: Handler[]): void;
  close(): Promise<void>;
}> {
  const handlers: Handler[] = [];
  const seen: Seen[] = [];
  const server: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString()));
    req.on('end', () => {
      const request = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, body };
      seen.push(request);
      const handler = handlers.shift();
      if (!handler) {
        res.writeHead(500).end();
        return;
      }
      handler(request, res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    seen,
    answer: (...more) => handlers.push(...more),
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

const json =
  (status: number, body: unknown, headers: Record<string, string> = {}): Handler =>
  (_req, res) => {
    res.writeHead(status, { 'content-type': 'application/json', ...headers }).end(JSON.stringify(body));
  };
const noContent: Handler = (_req, res) => res.writeHead(204).end();
const errorBody = (code: string, message: string, details?: unknown) => ({
  error: { code, message, details },
});

function job(overrides: Partial<AddinJob> = {}): AddinJob {
  return {
    jobId: randomUUID(),
    routingId: randomUUID(),
    routingCode: 'GT310001',
    status: 'InProgress',
    attempt: 1,
    parameters: { routingCode: 'GT310001', itemCode: 'ITEM-1', revisionCode: 'A' },
    createdAt: '2026-11-28T10:00:00.000Z',
    startedAt: '2026-11-28T10:00:01.000Z',
    completedAt: null,
    leaseExpiresAt: '2026-11-28T10:10:01.000Z',
    claimedBy: 'WS-042',
    resultStatus: null,
    message: null,
    outputs: null,
    ...overrides,
  };
}

describe('the add-in client', () => {
  let gateway: Awaited<ReturnType<typeof fakeGateway>>;
  const delays: number[] = [];
  const client = (options: Partial<AddinClientOptions> = {}) =>
    createAddinClient({
      baseUrl: `${gateway.url}/`,
      key: 'mcms_ak_test',
      deviceId: 'WS-042',
      sleep: async (ms) => void delays.push(ms),
      random: () => 0.5,
      ...options,
    });

  beforeEach(async () => {
    gateway = await fakeGateway();
    delays.length = 0;
  });
  afterEach(() => gateway.close());

  it('sends the key and the device on every call and returns null when next answers 204', async () => {
    gateway.answer(noContent);
    await expect(client().next({ waitSeconds: 0 })).resolves.toBeNull();
    expect(gateway.seen[0]).toMatchObject({
      method: 'GET',
      url: '/api/addin/jobs/next?waitSeconds=0',
      headers: { 'x-addin-key': 'mcms_ak_test', 'x-addin-device': 'WS-042' },
    });
  });

  it('returns the claimed job after validating it against the contract', async () => {
    const claimed = job();
    gateway.answer(json(200, claimed));
    await expect(client().next({ waitSeconds: 5 })).resolves.toEqual(claimed);
    expect(gateway.seen[0]?.url).toBe('/api/addin/jobs/next?waitSeconds=5');
  });

  it('refuses an answer that breaks the contract with invalid_response naming the field', async () => {
    gateway.answer(json(200, { ...job(), status: 'Done' }));
    const err = await client()
      .next()
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AddinApiError);
    expect(err).toMatchObject({ code: 'invalid_response', status: 200, retryable: false });
    expect((err as Error).message).toContain('status');
  });

  it('throws the error body as a typed error and does not retry a 4xx', async () => {
    const details = [{ path: 'outputs.0.sha256', message: '64 hexadecimal characters' }];
    gateway.answer(json(400, errorBody('validation_failed', 'invalid request', details)));
    const err = await client()
      .complete(randomUUID(), {
        resultStatus: 'completed',
        outputs: [{ path: 'a.nc', sha256: 'x', sizeBytes: 1 }],
      })
      .catch((e: unknown) => e);
    expect(err).toMatchObject({
      name: 'AddinApiError',
      status: 400,
      code: 'validation_failed',
      details,
      retryable: false,
    });
    expect(gateway.seen).toHaveLength(1);
    expect(delays).toEqual([]);
  });

  it('names the status when an error answer has no error body', async () => {
    gateway.answer((_req, res) =>
      res.writeHead(502, { 'content-type': 'text/html' }).end('<h1>Bad gateway</h1>'),
    );
    await expect(client().getJob(randomUUID())).rejects.toMatchObject({
      code: 'http_502',
      status: 502,
      retryable: false,
    });
  });

  it('retries a 503 with growing delays and returns the answer once the gateway recovers', async () => {
    const unavailable = json(503, errorBody('dependency_unavailable', 'database unavailable'));
    const lease = { leaseExpiresAt: '2026-11-28T10:20:00.000Z' };
    gateway.answer(unavailable, unavailable, unavailable, json(200, lease));
    const jobId = randomUUID();
    await expect(client().heartbeat(jobId)).resolves.toEqual(lease);
    expect(gateway.seen.map((r) => `${r.method} ${r.url}`)).toEqual(
      Array(4).fill(`POST /api/addin/jobs/${jobId}/heartbeat`),
    );
    // backoff/2 + backoff/2 × 0.5 for 200, 400, 800 ms
    expect(delays).toEqual([150, 300, 600]);
  });

  it('gives up after the configured attempts and throws the last 503', async () => {
    const unavailable = json(503, errorBody('dependency_unavailable', 'broker unavailable'));
    gateway.answer(unavailable, unavailable);
    await expect(client({ retry: { attempts: 2 } }).getJob(randomUUID())).rejects.toMatchObject({
      status: 503,
      code: 'dependency_unavailable',
      retryable: true,
    });
    expect(gateway.seen).toHaveLength(2);
  });

  it('retries a 429 after the Retry-After of the rate limit', async () => {
    gateway.answer(
      json(429, errorBody('rate_limited', 'too many requests'), { 'retry-after': '1' }),
      noContent,
    );
    await expect(client().next()).resolves.toBeNull();
    expect(gateway.seen).toHaveLength(2);
    expect(delays).toEqual([1_000]);
  });

  it("waits as long as the gateway's Retry-After says, within the cap", async () => {
    gateway.answer(json(503, errorBody('dependency_unavailable', 'x'), { 'retry-after': '2' }), noContent);
    await client({ retry: { maxDelayMs: 1_500 } }).next();
    expect(delays).toEqual([1_500]);
  });

  it('retries the same completion body after a 503, since a repeated identical completion is idempotent', async () => {
    const finished = job({
      status: 'Completed',
      resultStatus: 'failed',
      message: 'ESPRIT: no licence',
      completedAt: '2026-11-28T10:01:00.000Z',
    });
    gateway.answer(json(503, errorBody('dependency_unavailable', 'x')), json(200, finished));
    const body = { resultStatus: 'failed' as const, message: 'ESPRIT: no licence' };
    await expect(client().complete(finished.jobId, body)).resolves.toEqual(finished);
    expect(gateway.seen.map((r) => JSON.parse(r.body) as unknown)).toEqual([body, body]);
    expect(gateway.seen[1]?.headers['content-type']).toBe('application/json');
  });

  it('retries when nothing answers, then throws network_error', async () => {
    const closed = `http://127.0.0.1:${gateway.url.split(':')[2] ?? ''}`;
    await gateway.close();
    const err = await createAddinClient({
      baseUrl: closed,
      key: 'k',
      deviceId: 'd',
      retry: { attempts: 3 },
      sleep: async (ms) => void delays.push(ms),
    })
      .next()
      .catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'network_error', status: null, retryable: true });
    expect(delays).toHaveLength(2);
    gateway = await fakeGateway(); // for afterEach
  });

  it('gives a long poll its wait on top of the timeout, and times out a call that exceeds it', async () => {
    const slow: Handler = (_req, res) => void setTimeout(() => res.writeHead(204).end(), 300);
    gateway.answer(slow, slow);
    await expect(client({ timeoutMs: 100, retry: false }).next({ waitSeconds: 1 })).resolves.toBeNull();
    await expect(client({ timeoutMs: 100, retry: false }).next({ waitSeconds: 0 })).rejects.toMatchObject({
      code: 'timeout',
      retryable: true,
    });
  });

  it('stops a call at once with aborted when the caller aborts it', async () => {
    gateway.answer((_req, res) => void setTimeout(() => res.writeHead(204).end(), 5_000).unref());
    const controller = new AbortController();
    const pending = client().next({ waitSeconds: 10, signal: controller.signal });
    setImmediate(() => controller.abort());
    await expect(pending).rejects.toMatchObject({ code: 'aborted', retryable: false });
    expect(delays).toEqual([]);
  });

  it('puts the job id into the path encoded', async () => {
    gateway.answer(json(404, errorBody('not_found', 'no such job')));
    await expect(client().getJob('a/b?c')).rejects.toMatchObject({ status: 404, code: 'not_found' });
    expect(gateway.seen[0]?.url).toBe('/api/addin/jobs/a%2Fb%3Fc');
  });
});
