// What every caller is refused, end to end: invalid input (400 naming the fields), missing or bad
// credentials (401) and too small a role (403), on the services as they really run.
import { randomUUID } from 'node:crypto';
import { CreatedKey } from '@mcms/contracts';
import { eventually } from '@mcms/testing';
import { mcms } from '../support/flows';
import {
  tokenFor,
  useSystem,
  type ApiAnswer,
  type CallAs,
  type System,
  type SystemService,
} from '../support/system';

const e2e = useSystem({ name: 'e2e-guard' });

interface ErrorAnswer {
  error: { code: string; message: string; details?: Array<{ path: string; message: string }> };
}

/** The bad fields a 400 names. */
function badFields(answer: ApiAnswer): string[] {
  const body = answer.body as ErrorAnswer;
  return (body.error?.details ?? []).map((d) => d.path);
}

interface InvalidCall {
  service: SystemService;
  method: 'GET' | 'POST' | 'DELETE';
  path: (ids: { routingId: string; jobId: string }) => string;
  body?: unknown;
  as: CallAs;
  /** Every field the answer must name. */
  fields: string[];
}

const addin: CallAs = { addin: {} };
const sha = 'a'.repeat(64);

// One invalid request for every endpoint of the three services, each naming the fields it gets wrong.
const invalidCalls: Record<string, InvalidCall> = {
  'POST /api/routings': {
    service: 'routing-worker',
    method: 'POST',
    path: () => '/api/routings',
    body: { routingCode: '../GT', itemCode: '', extra: 1 },
    as: { role: 'editor' },
    fields: ['routingCode', 'itemCode', 'revisionCode'],
  },
  'GET /api/routings': {
    service: 'routing-worker',
    method: 'GET',
    path: () => '/api/routings?status=Done&limit=0',
    as: { role: 'viewer' },
    fields: ['status', 'limit'],
  },
  'GET /api/routings/{id}': {
    service: 'routing-worker',
    method: 'GET',
    path: () => '/api/routings/not-a-uuid',
    as: { role: 'viewer' },
    fields: ['id'],
  },
  'POST /api/routings/{id}/request-approval': {
    service: 'routing-worker',
    method: 'POST',
    path: ({ routingId }) => `/api/routings/${routingId}/request-approval`,
    body: { comment: 'x'.repeat(4001) },
    as: { role: 'editor' },
    fields: ['comment'],
  },
  'POST /api/routings/{id}/approve': {
    service: 'routing-worker',
    method: 'POST',
    path: ({ routingId }) => `/api/routings/${routingId}/approve`,
    body: { comment: 42 },
    as: { role: 'approver' },
    fields: ['comment'],
  },
  'POST /api/routings/{id}/reject': {
    service: 'routing-worker',
    method: 'POST',
    path: ({ routingId }) => `/api/routings/${routingId}/reject`,
    body: { reason: '   ' },
    as: { role: 'approver' },
    fields: ['reason'],
  },
  'POST /api/routings/{id}/regenerate': {
    service: 'routing-worker',
    method: 'POST',
    path: () => '/api/routings/42/regenerate',
    as: { role: 'approver' },
    fields: ['id'],
  },
  'GET /api/routings/{id}/history': {
    service: 'history-service',
    method: 'GET',
    path: () => '/api/routings/42/history',
    as: { role: 'viewer' },
    fields: ['id'],
  },
  'GET /api/addin/jobs/next': {
    service: 'addin-gateway',
    method: 'GET',
    path: () => '/api/addin/jobs/next?waitSeconds=31',
    as: addin,
    fields: ['waitSeconds'],
  },
  'POST /api/addin/jobs/{jobId}/heartbeat': {
    service: 'addin-gateway',
    method: 'POST',
    path: () => '/api/addin/jobs/not-a-uuid/heartbeat',
    as: addin,
    fields: ['jobId'],
  },
  'POST /api/addin/jobs/{jobId}/complete': {
    service: 'addin-gateway',
    method: 'POST',
    path: ({ jobId }) => `/api/addin/jobs/${jobId}/complete`,
    body: {
      resultStatus: 'done',
      message: 'x'.repeat(4001),
      outputs: [
        { path: '../outside.nc', sha256: sha, sizeBytes: 1 },
        { path: '/abs/prog.nc', sha256: 'xyz', sizeBytes: -1 },
      ],
    },
    as: addin,
    fields: [
      'resultStatus',
      'message',
      'outputs.0.path',
      'outputs.1.path',
      'outputs.1.sha256',
      'outputs.1.sizeBytes',
    ],
  },
  'GET /api/addin/jobs/{jobId}': {
    service: 'addin-gateway',
    method: 'GET',
    path: () => '/api/addin/jobs/not-a-uuid',
    as: addin,
    fields: ['jobId'],
  },
  'POST /api/addin/keys': {
    service: 'addin-gateway',
    method: 'POST',
    path: () => '/api/addin/keys',
    body: { name: '', expiresInDays: 0, admin: true },
    as: { role: 'admin' },
    fields: ['name', 'expiresInDays'],
  },
  'DELETE /api/addin/keys/{keyId}': {
    service: 'addin-gateway',
    method: 'DELETE',
    path: () => '/api/addin/keys/not-a-uuid',
    as: { role: 'admin' },
    fields: ['keyId'],
  },
};

describe('invalid requests', () => {
  e2e.it('are answered 400 naming every bad field, on every endpoint that takes input', async (system) => {
    const routing = await mcms(system).create();
    const ids = { routingId: routing.id, jobId: randomUUID() };
    const failures: string[] = [];
    for (const [endpoint, call] of Object.entries(invalidCalls)) {
      const answer = await system
        .api(call.service)
        .request(call.method, call.path(ids), { ...call.as, body: call.body });
      const named = badFields(answer);
      const missing = call.fields.filter((field) => !named.includes(field));
      if (
        answer.status !== 400 ||
        (answer.body as ErrorAnswer).error?.code !== 'validation_failed' ||
        missing.length > 0
      ) {
        failures.push(
          `${endpoint}: ${answer.status} ${JSON.stringify(answer.body)} (missing ${missing.join(', ') || 'nothing'})`,
        );
      }
    }
    expect(failures).toEqual([]);
    // Nothing was changed by any of them.
    expect(await mcms(system).get(routing.id)).toEqual(routing);
  });

  e2e.it('are refused 400 when the body is not JSON at all', async (system) => {
    const answer = await system
      .api('routing-worker')
      .request('POST', '/api/routings', { role: 'editor', rawBody: '{"routingCode": ' });
    expect(answer.status).toBe(400);
  });
});

describe('add-in credentials', () => {
  async function nextAs(
    system: System,
    key: string | null,
    device: string | null = 'E2E-KEY-WS',
  ): Promise<ApiAnswer> {
    return system.api('addin-gateway').get('/api/addin/jobs/next?waitSeconds=0', { addin: { key, device } });
  }

  e2e.it(
    'accept the bootstrap key, and refuse a missing or wrong key, or a missing device, with 401',
    async (system) => {
      expect((await nextAs(system, system.addinKey)).status).toBe(204);
      expect((await nextAs(system, null)).status).toBe(401);
      expect((await nextAs(system, `${system.addinKey}x`)).status).toBe(401);
      expect((await nextAs(system, 'mcms_ak_not-a-key-at-all-0000000000')).status).toBe(401);
      expect((await nextAs(system, system.addinKey, null)).status).toBe(401);
      await expect(system.addinClient('E2E-KEY-WS', { key: 'wrong' }).next()).rejects.toMatchObject({
        status: 401,
        retryable: false,
      });
    },
  );

  e2e.it('refuse a key with 401 once an admin revoked it, and an expired key too', async (system) => {
    const gateway = system.api('addin-gateway');
    const created = await gateway.post('/api/addin/keys', { name: 'E2E workstation' }, { role: 'admin' });
    expect(created.status).toBe(201);
    const { keyId, key } = CreatedKey.parse(created.body);
    expect((await nextAs(system, key)).status).toBe(204);

    expect((await gateway.delete(`/api/addin/keys/${keyId}`, { role: 'admin' })).status).toBe(204);
    expect((await nextAs(system, key)).status).toBe(401);

    const another = CreatedKey.parse(
      (await gateway.post('/api/addin/keys', { name: 'E2E expiring' }, { role: 'admin' })).body,
    );
    expect((await nextAs(system, another.key)).status).toBe(204);
    // No API makes a key older: move its expiry into the past where the gateway keeps it. Like a revoke on
    // another replica, a change behind the gateway's back takes effect once its key cache (ADDIN_KEY_CACHE,
    // 1 s; decision 0012) lets go of the key — polled, with a deadline far beyond it.
    await system.sql(
      'addin-gateway',
      `UPDATE addin_key SET expires_at = now() - interval '1 second' WHERE key_id = $1`,
      [another.keyId],
    );
    const refused = await eventually(async () => {
      const answer = await nextAs(system, another.key);
      return answer.status === 204 ? undefined : answer;
    }, 'the expired key to be refused');
    expect(refused.status).toBe(401);

    const listed = await gateway.get('/api/addin/keys', { role: 'admin' });
    expect(listed.status).toBe(200);
    const text = JSON.stringify(listed.body);
    expect(text).not.toContain(key);
    expect(text).not.toContain(another.key);
  });
});

describe('people without the right role or token', () => {
  e2e.it('are refused 403 when a viewer approves, and nothing changes', async (system) => {
    const api = mcms(system);
    const routing = await api.create();
    await api.requestApproval(routing.id);
    const answer = await system
      .api('routing-worker')
      .post(`/api/routings/${routing.id}/approve`, {}, { role: 'viewer' });
    expect(answer.status).toBe(403);
    expect((await api.get(routing.id)).status).toBe('PendingApproval');
  });

  e2e.it(
    'are refused 401 without a token, with an expired one, or with one signed by another secret',
    async (system) => {
      const routings = system.api('routing-worker');
      const expired = tokenFor('admin', { expiresInSeconds: -10 });
      expect((await routings.get('/api/routings', { anonymous: true })).status).toBe(401);
      expect((await routings.get('/api/routings', { token: expired })).status).toBe(401);
      expect((await routings.get('/api/routings', { token: `${tokenFor('admin')}x` })).status).toBe(401);
      expect(
        (
          await system
            .api('history-service')
            .get(`/api/routings/${randomUUID()}/history`, { anonymous: true })
        ).status,
      ).toBe(401);
      expect((await system.api('addin-gateway').get('/api/addin/keys', { role: 'viewer' })).status).toBe(403);
    },
  );

  e2e.it('serve each service its OpenAPI document', async (system) => {
    for (const service of ['addin-gateway', 'routing-worker', 'history-service'] as const) {
      const answer = await system.api(service).get('/openapi.json', { anonymous: true });
      expect(answer.status).toBe(200);
      expect(answer.body).toMatchObject({
        openapi: expect.stringMatching(/^3\./),
        info: { title: `MCMS ${service}` },
      });
    }
  });
});
