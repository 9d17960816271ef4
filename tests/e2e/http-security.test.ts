// Rate limits, security headers and CORS on the services as they run, with limits small enough to reach.
import { CreatedKey } from '@mcms/contracts';
import { tokenFor, useSystem, type ApiAnswer, type System } from '../support/system';

const PLANT_ORIGIN = 'https://mcms.plant.example';
const e2e = useSystem({
  name: 'e2e-httpsec',
  services: ['addin-gateway', 'routing-worker', 'notification-service'],
  env: {
    ADDIN_RATE_LIMIT_PER_DEVICE: '5',
    ADDIN_RATE_LIMIT_PER_KEY: '8',
    MCMS_AUTH_FAILURE_LIMIT: '5',
    MCMS_CORS_ORIGINS: PLANT_ORIGIN,
  },
});

async function newKey(system: System): Promise<string> {
  const created = await system
    .api('addin-gateway')
    .post('/api/addin/keys', { name: 'E2E rate limits' }, { role: 'admin' });
  return CreatedKey.parse(created.body).key;
}

function next(system: System, key: string, device: string, waitSeconds = 0): Promise<ApiAnswer> {
  return system
    .api('addin-gateway')
    .get(`/api/addin/jobs/next?waitSeconds=${waitSeconds}`, { addin: { key, device } });
}

function expectRateLimited(answer: ApiAnswer, message: string): void {
  expect(answer.status).toBe(429);
  const retryAfter = Number(answer.headers.get('retry-after'));
  expect(retryAfter).toBeGreaterThanOrEqual(1);
  expect(retryAfter).toBeLessThanOrEqual(60);
  expect(answer.body).toMatchObject({
    error: {
      code: 'rate_limited',
      message: expect.stringContaining(message),
      details: { retryAfterSeconds: retryAfter },
    },
  });
}

describe('add-in rate limits', () => {
  e2e.it(
    'limit each device, then the key as a whole, with 429, Retry-After and our error body',
    async (system) => {
      const key = await newKey(system);
      for (let i = 0; i < 5; i += 1) expect((await next(system, key, 'WS-A')).status).toBe(204);
      expectRateLimited(await next(system, key, 'WS-A'), 'from this add-in device');
      // The key has been used 6 times (the refused call counts for the key); its limit is 8.
      expect((await next(system, key, 'WS-B')).status).toBe(204);
      expect((await next(system, key, 'WS-B')).status).toBe(204);
      expectRateLimited(await next(system, key, 'WS-C'), 'for this add-in key');
      // Another key is another fleet.
      expect((await next(system, await newKey(system), 'WS-A')).status).toBe(204);
    },
  );

  e2e.it('count a long poll once, however long it waits', async (system) => {
    const key = await newKey(system);
    const started = Date.now();
    expect((await next(system, key, 'WS-LONG', 2)).status).toBe(204);
    expect(Date.now() - started).toBeGreaterThanOrEqual(1_900);
    for (let i = 0; i < 4; i += 1) expect((await next(system, key, 'WS-LONG')).status).toBe(204);
    expectRateLimited(await next(system, key, 'WS-LONG'), 'from this add-in device');
  });
});

describe('security headers and CORS', () => {
  e2e.it('forbid the JSON APIs to load or frame anything', async (system) => {
    for (const service of ['addin-gateway', 'routing-worker'] as const) {
      const answer = await system.api(service).get('/healthz', { anonymous: true });
      expect(answer.headers.get('content-security-policy')).toContain("default-src 'none'");
      expect(answer.headers.get('x-content-type-options')).toBe('nosniff');
      expect(answer.headers.get('x-powered-by')).toBeNull();
    }
  });

  e2e.it(
    'give the operator page a policy of its own scripts, styles and socket, nothing inline',
    async (system) => {
      const page = await system.api('notification-service').get('/', { anonymous: true });
      const csp = page.headers.get('content-security-policy') ?? '';
      expect(csp).toContain("script-src 'self'");
      expect(csp).toContain("connect-src 'self'");
      expect(csp).not.toContain('unsafe-inline');
      expect(page.headers.get('x-frame-options')).toBe('SAMEORIGIN');
    },
  );

  e2e.it('let the configured origin, and no other, read the APIs from a browser', async (system) => {
    const routings = system.api('routing-worker');
    const allowed = await routings.get('/api/routings', {
      role: 'viewer',
      headers: { origin: PLANT_ORIGIN },
    });
    expect(allowed.status).toBe(200);
    expect(allowed.headers.get('access-control-allow-origin')).toBe(PLANT_ORIGIN);
    const other = await routings.get('/api/routings', {
      role: 'viewer',
      headers: { origin: 'https://evil.example' },
    });
    expect(other.headers.get('access-control-allow-origin')).toBeNull();
    const preflight = await routings.request('OPTIONS', '/api/routings', {
      anonymous: true,
      headers: {
        origin: PLANT_ORIGIN,
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'authorization,content-type',
      },
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get('access-control-allow-methods')).toContain('POST');
  });
});

// Last: once an address is limited, it stays limited for the window.
describe('failed authentications', () => {
  e2e.it(
    'of users are answered 429 once an address reached the limit, even with a good token next',
    async (system) => {
      const routings = system.api('routing-worker');
      for (let i = 0; i < 5; i += 1) {
        expect((await routings.get('/api/routings', { token: `${tokenFor('viewer')}x` })).status).toBe(401);
      }
      expectRateLimited(
        await routings.get('/api/routings', { role: 'viewer' }),
        'too many failed authentications from this address',
      );
    },
  );

  e2e.it('of add-ins are answered 429 the same way', async (system) => {
    for (let i = 0; i < 5; i += 1)
      expect((await next(system, 'mcms_ak_guessed-key-0000000000', 'WS-X')).status).toBe(401);
    expectRateLimited(await next(system, system.addinKey, 'WS-X'), 'too many failed authentications');
  });
});
