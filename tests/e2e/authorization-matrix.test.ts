// Who gets in where: every endpoint of every service (enumerated from the contracts' `serviceApis`, so a new
// endpoint is in the matrix the moment it exists) × every kind of caller, against the services as they run.
// End to end rather than per service: what is tested is the composition — each service's authenticator, its
// route wiring and the platform middleware — exactly as deployed.
import { randomUUID } from 'node:crypto';
import { CreatedKey, serviceApis, type RouteAuth, type RouteDefinition } from '@mcms/contracts';
import { createJwtAuth, hasRole, ROLES, type Role } from '@mcms/platform';
import { io } from 'socket.io-client';
import { tokenFor, useSystem, type CallAs, type System, type SystemService } from '../support/system';

// The limit on failed authentications has its own test (http-security.test.ts); here it would turn the
// many deliberate 401s into 429s.
const e2e = useSystem({ name: 'e2e-authz', env: { MCMS_AUTH_FAILURE_LIMIT: '0' } });

/**
 * The intended policy, written down once more on purpose: an endpoint added to the contracts without a line
 * here, or whose `auth` changes, fails the test until someone decides who may call it.
 */
const POLICY: Record<string, RouteAuth> = {
  'addin-gateway GET /api/addin/jobs/next': 'addin',
  'addin-gateway POST /api/addin/jobs/:jobId/heartbeat': 'addin',
  'addin-gateway POST /api/addin/jobs/:jobId/complete': 'addin',
  'addin-gateway GET /api/addin/jobs': 'viewer',
  'addin-gateway GET /api/addin/jobs/:jobId': 'addin-or-viewer',
  'addin-gateway POST /api/addin/keys': 'admin',
  'addin-gateway GET /api/addin/keys': 'admin',
  'addin-gateway DELETE /api/addin/keys/:keyId': 'admin',
  'routing-worker POST /api/routings': 'editor',
  'routing-worker GET /api/routings': 'viewer',
  'routing-worker GET /api/routings/:id': 'viewer',
  'routing-worker POST /api/routings/:id/request-approval': 'editor',
  'routing-worker POST /api/routings/:id/approve': 'approver',
  'routing-worker POST /api/routings/:id/reject': 'approver',
  'routing-worker POST /api/routings/:id/regenerate': 'approver',
  'history-service GET /api/routings/:id/history': 'viewer',
  'notification-service GET /api/notifications': 'viewer',
};

interface Endpoint {
  name: string;
  service: SystemService;
  route: RouteDefinition;
}

const endpoints: Endpoint[] = Object.entries(serviceApis).flatMap(([service, api]) =>
  api.routes.map((route) => ({
    name: `${service} ${route.method.toUpperCase()} ${route.path}`,
    service: service as SystemService,
    route,
  })),
);

type Credential =
  | { kind: 'none' | 'malformed' | 'wrong-secret' | 'expired' }
  | { kind: 'role'; role: Role }
  | { kind: 'addin-key' | 'revoked-addin-key' };

const CREDENTIALS: Credential[] = [
  { kind: 'none' },
  { kind: 'malformed' },
  { kind: 'wrong-secret' },
  { kind: 'expired' },
  ...ROLES.map((role): Credential => ({ kind: 'role', role })),
  { kind: 'addin-key' },
  { kind: 'revoked-addin-key' },
];

const describeCredential = (c: Credential) => (c.kind === 'role' ? c.role : c.kind);

/** What the policy says a caller gets: let in, 401 (who are you?) or 403 (not you). */
function expected(auth: RouteAuth, credential: Credential): 'in' | 401 | 403 {
  if (auth === 'public') return 'in';
  switch (credential.kind) {
    case 'addin-key':
      return auth === 'addin' || auth === 'addin-or-viewer' ? 'in' : 401;
    case 'role':
      if (auth === 'addin') return 401; // the add-in API takes add-in keys, not tokens
      if (auth === 'addin-or-viewer') return 'in';
      return hasRole([credential.role], auth) ? 'in' : 403;
    default:
      return 401; // no, broken, forged, expired or revoked credentials
  }
}

function callAs(credential: Credential, revokedKey: string): CallAs {
  switch (credential.kind) {
    case 'none':
      return { anonymous: true };
    case 'malformed':
      return { token: 'not.a.jwt' };
    case 'wrong-secret':
      return {
        token: createJwtAuth({ secret: 'another-secret-of-at-least-32-characters!' }).sign({
          sub: 'intruder',
          roles: ['admin'],
        }),
      };
    case 'expired':
      return { token: tokenFor('admin', { expiresInSeconds: -10 }) };
    case 'role':
      return { role: credential.role };
    case 'addin-key':
      return { addin: { device: 'E2E-AUTHZ-WS' } };
    case 'revoked-addin-key':
      return { addin: { key: revokedKey, device: 'E2E-AUTHZ-WS' } };
  }
}

/** The route's path with made-up ids: an authorised caller gets 2xx, 400, 404 or 409 — never 401/403. */
function concretePath(route: RouteDefinition): string {
  return route.path.replace(/:[A-Za-z]+/g, () => randomUUID());
}

async function revokedKeyOf(system: System): Promise<string> {
  const gateway = system.api('addin-gateway');
  const created = CreatedKey.parse(
    (await gateway.post('/api/addin/keys', { name: 'E2E authz revoked' }, { role: 'admin' })).body,
  );
  expect((await gateway.delete(`/api/addin/keys/${created.keyId}`, { role: 'admin' })).status).toBe(204);
  return created.key;
}

describe('the authorisation matrix', () => {
  it('has a decided policy for every endpoint in the contracts, and the contracts follow it', () => {
    expect(endpoints.map((e) => e.name).sort()).toEqual(Object.keys(POLICY).sort());
    for (const endpoint of endpoints)
      expect([endpoint.name, endpoint.route.auth]).toEqual([endpoint.name, POLICY[endpoint.name]]);
  });

  e2e.it(
    'lets in exactly the callers the policy names, on every endpoint of every service',
    async (system) => {
      const revokedKey = await revokedKeyOf(system);
      const wrong: string[] = [];
      let checked = 0;
      for (const endpoint of endpoints) {
        for (const credential of CREDENTIALS) {
          const want = expected(POLICY[endpoint.name]!, credential);
          const answer = await system
            .api(endpoint.service)
            .request(endpoint.route.method.toUpperCase(), concretePath(endpoint.route), {
              ...callAs(credential, revokedKey),
              ...(endpoint.route.method === 'post' ? { body: {} } : {}),
            });
          checked += 1;
          const got = answer.status;
          const ok = want === 'in' ? got !== 401 && got !== 403 && got < 500 : got === want;
          if (!ok)
            wrong.push(`${endpoint.name} as ${describeCredential(credential)}: want ${want}, got ${got}`);
        }
      }
      expect(wrong).toEqual([]);
      expect(checked).toBe(endpoints.length * CREDENTIALS.length);
    },
    120_000,
  );

  e2e.it(
    'serves the platform endpoints and the operator page to anyone, and its proxy only to viewers',
    async (system) => {
      for (const service of Object.keys(serviceApis) as SystemService[]) {
        for (const path of ['/healthz', '/readyz', '/openapi.json']) {
          expect([service, path, (await system.api(service).get(path, { anonymous: true })).status]).toEqual([
            service,
            path,
            200,
          ]);
        }
      }
      const page = system.api('notification-service');
      expect((await page.get('/', { anonymous: true })).status).toBe(200);
      expect((await page.get('/proxy/routing-worker/api/routings', { anonymous: true })).status).toBe(401);
      expect(
        (
          await page.get('/proxy/routing-worker/api/routings', {
            token: tokenFor('admin', { expiresInSeconds: -10 }),
          })
        ).status,
      ).toBe(401);
      expect((await page.get('/proxy/routing-worker/api/routings', { role: 'viewer' })).status).toBe(200);
      expect(
        (await page.get(`/proxy/history-service/api/routings/${randomUUID()}/history`, { anonymous: true }))
          .status,
      ).toBe(401);
    },
  );
});

describe('the socket.io handshake of notification-service', () => {
  /** 'connected', or the reason the server refused. */
  async function handshake(system: System, auth: Record<string, unknown>, origin?: string): Promise<string> {
    const socket = io(system.urls['notification-service'], {
      auth,
      transports: ['websocket'],
      reconnection: false,
      forceNew: true,
      ...(origin === undefined ? {} : { extraHeaders: { origin } }),
    });
    try {
      return await new Promise<string>((resolve) => {
        socket.once('connect', () => resolve('connected'));
        socket.once('connect_error', (err) => resolve(`refused: ${err.message}`));
      });
    } finally {
      socket.disconnect();
    }
  }

  e2e.it(
    'refuses no token, a malformed, forged or expired one, and a page of another origin',
    async (system) => {
      const refused = expect.stringMatching(/^refused/);
      expect(await handshake(system, {})).toEqual(refused);
      expect(await handshake(system, { token: 'not.a.jwt' })).toEqual(refused);
      const forged = createJwtAuth({ secret: 'another-secret-of-at-least-32-characters!' }).sign({
        sub: 'intruder',
        roles: ['admin'],
      });
      expect(await handshake(system, { token: forged })).toEqual(refused);
      expect(await handshake(system, { token: tokenFor('viewer', { expiresInSeconds: -10 }) })).toEqual(
        refused,
      );
      expect(await handshake(system, { token: tokenFor('viewer') }, 'https://evil.example')).toEqual(refused);
      // ... and lets in a viewer, from no browser or from the page's own origin.
      expect(await handshake(system, { token: tokenFor('viewer') })).toBe('connected');
      expect(
        await handshake(system, { token: tokenFor('viewer') }, system.urls['notification-service']),
      ).toBe('connected');
    },
  );
});
