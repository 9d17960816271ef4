import { randomBytes, randomUUID } from 'node:crypto';
import { openApiFor, Routing, RoutingPage } from '@mcms/contracts';
import { startHarness, type Harness } from './support/harness';

let h: Harness;

beforeAll(async () => {
  h = await startHarness();
});

afterAll(async () => {
  await h?.close();
});

const code = () => `GT${randomBytes(4).toString('hex').toUpperCase()}`;

async function create(routingCode = code(), itemCode = 'ITEM-7', revisionCode = 'B') {
  const response = await h.request('POST', '/api/routings', {
    roles: ['editor'],
    body: { routingCode, itemCode, revisionCode },
  });
  expect(response.status).toBe(201);
  return Routing.parse(response.body);
}

const post = (id: string, action: string, roles: string[], body: unknown = {}) =>
  h.request('POST', `/api/routings/${id}/${action}`, { roles, body });

describe('the routing API', () => {
  it('creates a Draft routing (201) and refuses the same code for the same item and revision (409)', async () => {
    const routingCode = code();
    const response = await h.request('POST', '/api/routings', {
      roles: ['editor'],
      token: h.token(['editor'], { sub: 'eddie' }),
      body: { routingCode, itemCode: 'ITEM-7', revisionCode: 'B' },
    });

    expect(response.status).toBe(201);
    const routing = Routing.parse(response.body);
    expect(routing).toMatchObject({
      routingCode,
      itemCode: 'ITEM-7',
      revisionCode: 'B',
      status: 'Draft',
      camRevision: '1.0.0',
      lastAddinJobId: null,
      lastGenerationStatus: null,
      lastGenerationMessage: null,
      lastGeneratedAt: null,
    });
    expect((await h.request('GET', `/api/routings/${routing.id}`, { roles: ['viewer'] })).body).toEqual(
      routing,
    );

    const duplicate = await h.request('POST', '/api/routings', {
      roles: ['editor'],
      body: { routingCode, itemCode: 'ITEM-7', revisionCode: 'B' },
    });
    expect(duplicate.status).toBe(409);
    expect(duplicate.body.error.code).toBe('routing_exists');
    // The same code for another revision is another routing.
    await create(routingCode, 'ITEM-7', 'C');

    const event = await h.waitForMessage(
      (m) => m.routingKey === 'routing.created' && m.envelope.payload.routingId === routing.id,
      'routing.created',
    );
    expect(event.envelope.payload).toEqual({
      routingId: routing.id,
      routingCode,
      itemCode: 'ITEM-7',
      revisionCode: 'B',
      camRevision: '1.0.0',
      createdBy: 'eddie',
    });
  });

  it('walks request-approval → reject → request-approval → approve, answering 409 for every wrong state', async () => {
    const { id } = await create();

    expect((await post(id, 'approve', ['approver'])).status).toBe(409);
    expect((await post(id, 'reject', ['approver'], { reason: 'no' })).status).toBe(409);

    const requested = await post(id, 'request-approval', ['editor'], { comment: 'please' });
    expect(requested.status).toBe(200);
    expect(requested.body.status).toBe('PendingApproval');
    const again = await post(id, 'request-approval', ['editor']);
    expect(again.status).toBe(409);
    expect(again.body.error).toMatchObject({
      code: 'invalid_routing_transition',
      details: { status: 'PendingApproval', action: 'request-approval' },
    });

    const rejected = await post(id, 'reject', ['approver'], { reason: 'feed rate too high' });
    expect(rejected.status).toBe(200);
    expect(rejected.body).toMatchObject({ status: 'Rejected', lastGenerationStatus: null });

    expect((await post(id, 'request-approval', ['editor'])).body.status).toBe('PendingApproval');
    const approved = await post(id, 'approve', ['approver'], { comment: 'ok' });
    expect(approved.status).toBe(200);
    expect(approved.body).toMatchObject({ status: 'Approved', lastGenerationStatus: 'Queued' });
    expect(approved.body.lastAddinJobId).toEqual(expect.any(String));

    expect((await post(id, 'approve', ['approver'])).status).toBe(409);
    expect((await post(id, 'reject', ['approver'], { reason: 'late' })).status).toBe(409);
    expect((await post(id, 'request-approval', ['editor'])).status).toBe(409);

    const types = [
      'routing.approval-requested',
      'routing.rejected',
      'routing.approval-requested',
      'routing.approved',
    ];
    await h.waitForMessage(
      (m) => m.routingKey === 'routing.approved' && m.envelope.payload.routingId === id,
      'routing.approved',
    );
    expect(
      h.observed
        .filter(
          (m) =>
            m.envelope.payload.routingId === id &&
            m.routingKey.startsWith('routing.') &&
            m.routingKey !== 'routing.created',
        )
        .map((m) => m.routingKey),
    ).toEqual(types);
    const rejectedEvent = h.observed.find(
      (m) => m.routingKey === 'routing.rejected' && m.envelope.payload.routingId === id,
    );
    expect(rejectedEvent?.envelope.payload).toMatchObject({
      reason: 'feed rate too high',
      rejectedBy: 'user-approver',
    });
  });

  it('approving writes exactly one EspritGenerationCommand, carrying the routing’s new lastAddinJobId', async () => {
    const routing = await h.approvedRouting();
    const isCommand = (m: { routingKey: string; envelope: { payload: Record<string, unknown> } }) =>
      m.routingKey === 'mcms.esprit-generation.request' && m.envelope.payload.routingId === routing.id;

    const command = await h.waitForMessage(isCommand, 'the EspritGenerationCommand');
    const approvedEvent = await h.waitForMessage(
      (m) => m.routingKey === 'routing.approved' && m.envelope.payload.routingId === routing.id,
      'routing.approved',
    );
    // The outbox relays in commit order: once a later routing's event is here, a second command would be too.
    const later = await create();
    await h.waitForMessage(
      (m) => m.routingKey === 'routing.created' && m.envelope.payload.routingId === later.id,
      'a later event',
    );

    expect(h.observed.filter(isCommand)).toHaveLength(1);
    expect(command.envelope.payload).toEqual({
      jobId: routing.lastAddinJobId,
      routingId: routing.id,
      routingCode: routing.routingCode,
      itemCode: 'ITEM-7',
      revisionCode: 'B',
      camRevision: '1.0.0',
      parameters: {
        routingId: routing.id,
        routingCode: routing.routingCode,
        itemCode: 'ITEM-7',
        revisionCode: 'B',
        camRevision: '1.0.0',
        outputFolder: `ITEM-7/B/Routings/${routing.routingCode}`,
      },
      requestedBy: 'user-approver',
    });
    expect(approvedEvent.envelope.payload.jobId).toBe(routing.lastAddinJobId);
    expect(command.envelope.correlationId).toBe(approvedEvent.envelope.correlationId);
  });

  it('regenerates only an Approved routing whose job is neither Queued nor InProgress (202), else 409', async () => {
    const routing = await h.approvedRouting();
    const busy = await post(routing.id, 'regenerate', ['approver']);
    expect(busy.status).toBe(409);
    expect(busy.body.error.code).toBe('generation_in_progress');

    await h.publishResult({
      jobId: routing.lastAddinJobId,
      routingId: routing.id,
      resultStatus: 'failed',
      message: 'ESPRIT crashed',
    });
    await h.waitForRouting(routing.id, (r) => r.lastGenerationStatus === 'Failed', 'the failed generation');

    const regenerated = await h.request('POST', `/api/routings/${routing.id}/regenerate`, {
      roles: ['approver'],
    });
    expect(regenerated.status).toBe(202);
    expect(regenerated.body).toMatchObject({
      status: 'Approved',
      lastGenerationStatus: 'Queued',
      lastGenerationMessage: null,
    });
    expect(regenerated.body.lastAddinJobId).not.toBe(routing.lastAddinJobId);
    const command = await h.waitForMessage(
      (m) =>
        m.routingKey === 'mcms.esprit-generation.request' &&
        m.envelope.payload.jobId === regenerated.body.lastAddinJobId,
      'the second EspritGenerationCommand',
    );
    expect(command.envelope.payload.routingId).toBe(routing.id);

    const draft = await create();
    expect((await post(draft.id, 'regenerate', ['approver'])).status).toBe(409);
  });

  it('answers 403 to a viewer or editor approving, 401 without a token or with a bad or expired one', async () => {
    const { id } = await create();
    await post(id, 'request-approval', ['editor']);

    const viewer = await post(id, 'approve', ['viewer']);
    expect(viewer.status).toBe(403);
    expect(viewer.body.error.code).toBe('forbidden');
    expect((await post(id, 'approve', ['editor'])).status).toBe(403);
    expect(
      (
        await h.request('POST', '/api/routings', {
          roles: ['viewer'],
          body: { routingCode: code(), itemCode: 'I', revisionCode: 'A' },
        })
      ).status,
    ).toBe(403);
    expect((await h.request('POST', `/api/routings/${id}/approve`, { roles: null, body: {} })).status).toBe(
      401,
    );
    expect((await h.request('GET', `/api/routings/${id}`, { token: 'not-a-jwt' })).status).toBe(401);
    const expired = await h.request('GET', `/api/routings/${id}`, {
      token: h.token(['admin'], { expiresInSeconds: -10 }),
    });
    expect(expired.status).toBe(401);
    expect(expired.body.error.message).toBe('token expired');

    expect((await h.getRouting(id)).status).toBe('PendingApproval');
    // An admin holds every lower role.
    expect((await post(id, 'approve', ['admin'])).status).toBe(200);
  });

  it('answers 400 naming every bad field, and 404 for a routing that does not exist', async () => {
    const bad = await h.request('POST', '/api/routings', {
      roles: ['editor'],
      body: { routingCode: '../etc', itemCode: '', extra: 1 },
    });
    expect(bad.status).toBe(400);
    expect(bad.body.error.code).toBe('validation_failed');
    const paths = new Set(bad.body.error.details.map((d: { path: string }) => d.path));
    expect([...paths].sort()).toEqual(['extra', 'itemCode', 'revisionCode', 'routingCode']);

    const { id } = await create();
    await post(id, 'request-approval', ['editor']);
    const noReason = await post(id, 'reject', ['approver'], { reason: '   ' });
    expect(noReason.status).toBe(400);
    expect(noReason.body.error.details).toEqual([expect.objectContaining({ path: 'reason' })]);
    const longComment = await post(id, 'approve', ['approver'], { comment: 'x'.repeat(4001) });
    expect(longComment.status).toBe(400);
    expect(longComment.body.error.details).toEqual([expect.objectContaining({ path: 'comment' })]);
    expect(
      (await h.request('GET', '/api/routings/not-a-uuid', { roles: ['viewer'] })).body.error.details,
    ).toEqual([expect.objectContaining({ path: 'id' })]);
    const badQuery = await h.request('GET', '/api/routings?status=Done&limit=0', { roles: ['viewer'] });
    expect(badQuery.status).toBe(400);
    expect(badQuery.body.error.details.map((d: { path: string }) => d.path).sort()).toEqual([
      'limit',
      'status',
    ]);

    const missing = randomUUID();
    expect((await h.request('GET', `/api/routings/${missing}`, { roles: ['viewer'] })).status).toBe(404);
    for (const action of ['request-approval', 'approve', 'regenerate']) {
      expect((await post(missing, action, ['admin'])).status).toBe(404);
    }
  });

  it('serves its OpenAPI document and reports itself ready', async () => {
    const openapi = await h.request('GET', '/openapi.json', { roles: null });
    expect(openapi.status).toBe(200);
    expect(openapi.body).toEqual(openApiFor('routing-worker'));
    expect(Object.keys(openapi.body.paths).sort()).toEqual([
      '/api/routings',
      '/api/routings/{id}',
      '/api/routings/{id}/approve',
      '/api/routings/{id}/regenerate',
      '/api/routings/{id}/reject',
      '/api/routings/{id}/request-approval',
    ]);
    const ready = await h.request('GET', '/readyz', { roles: null });
    expect(ready).toEqual({
      status: 200,
      body: { status: 'ready', checks: { database: 'ok', rabbitmq: 'ok' } },
    });
  });
});

describe('listing routings', () => {
  let lister: Harness;
  const ids: Record<string, string> = {};
  let newestFirst: string[] = [];

  beforeAll(async () => {
    // Two routings share each creation time, so the order (and the cursor) must break ties by id.
    let calls = 0;
    const start = Date.parse('2026-01-01T00:00:00.000Z');
    lister = await startHarness({ clock: () => new Date(start + Math.floor(calls++ / 2) * 1_000) });
    const created: Array<{ routingCode: string; id: string; createdAt: string }> = [];
    for (const name of ['a', 'b', 'c', 'd', 'e']) {
      const response = await lister.request('POST', '/api/routings', {
        roles: ['editor'],
        body: { routingCode: `LIST-${name}`, itemCode: 'ITEM-L', revisionCode: 'A' },
      });
      ids[name] = response.body.id;
      created.push(response.body);
    }
    expect(created[0]?.createdAt).toBe(created[1]?.createdAt);
    newestFirst = created
      .sort((x, y) =>
        x.createdAt !== y.createdAt ? y.createdAt.localeCompare(x.createdAt) : y.id.localeCompare(x.id),
      )
      .map((routing) => routing.routingCode);
    for (const name of ['b', 'd']) {
      await lister.request('POST', `/api/routings/${ids[name]}/request-approval`, {
        roles: ['editor'],
        body: {},
      });
      await lister.request('POST', `/api/routings/${ids[name]}/approve`, { roles: ['approver'], body: {} });
    }
    await lister.request('POST', `/api/routings/${ids.e}/request-approval`, { roles: ['editor'], body: {} });
  });

  afterAll(async () => {
    await lister?.close();
  });

  async function allPages(query: string, limit: number): Promise<string[]> {
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const response: { status: number; body: unknown } = await lister.request(
        'GET',
        `/api/routings?limit=${limit}${query}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`,
        { roles: ['viewer'] },
      );
      expect(response.status).toBe(200);
      const page = RoutingPage.parse(response.body);
      expect(page.items.length).toBeLessThanOrEqual(limit);
      seen.push(...page.items.map((item) => item.routingCode));
      cursor = page.nextCursor;
    } while (cursor !== null);
    return seen;
  }

  it('lists newest first, page by page with an opaque cursor, without repeating or skipping', async () => {
    expect(newestFirst[0]).toBe('LIST-e');
    expect(await allPages('', 2)).toEqual(newestFirst);
    expect(await allPages('', 1)).toEqual(newestFirst);
    const one = await lister.request('GET', '/api/routings', { roles: ['viewer'] });
    expect(one.body.nextCursor).toBeNull();
    expect(one.body.items).toHaveLength(5);
  });

  it('filters by status and by generation status', async () => {
    const only = (...codes: string[]) => newestFirst.filter((c) => codes.includes(c));
    expect(await allPages('&status=Approved', 1)).toEqual(only('LIST-b', 'LIST-d'));
    expect(await allPages('&status=PendingApproval', 10)).toEqual(['LIST-e']);
    expect(await allPages('&generationStatus=Queued', 10)).toEqual(only('LIST-b', 'LIST-d'));
    expect(await allPages('&status=Draft&generationStatus=Queued', 10)).toEqual([]);
    expect(await allPages('&status=Draft', 1)).toEqual(only('LIST-a', 'LIST-c'));
  });

  it('answers 400 for a cursor it did not issue', async () => {
    const response = await lister.request('GET', '/api/routings?cursor=bm9wZQ', { roles: ['viewer'] });
    expect(response.status).toBe(400);
    expect(response.body.error.details).toEqual([
      { path: 'cursor', message: 'not a cursor returned by this API' },
    ]);
  });
});

describe('changes of routings arriving together', () => {
  let batched: Harness;
  // Each call a millisecond later: the changes one transaction applies share its time, and no two do.
  let tick = Date.parse('2026-12-08T08:00:00.000Z');
  beforeAll(async () => {
    batched = await startHarness({ clock: () => new Date((tick += 1)) });
  });
  afterAll(async () => {
    await batched?.close();
  });

  const send = (id: string, action: string, roles: string[]) =>
    batched.request('POST', `/api/routings/${id}/${action}`, { roles, body: {} });

  it('applies them in shared transactions, each with its own answer and its own messages', async () => {
    const routings = await Promise.all(
      Array.from({ length: 12 }, async () => {
        const created = await batched.request('POST', '/api/routings', {
          roles: ['editor'],
          body: { routingCode: code(), itemCode: 'ITEM-9', revisionCode: 'A' },
        });
        expect((await send(created.body.id, 'request-approval', ['editor'])).status).toBe(200);
        return Routing.parse(created.body);
      }),
    );
    const [first] = routings as [Routing, ...Routing[]];

    const answers = await Promise.all([
      ...routings.map((r) => send(r.id, 'approve', ['approver'])),
      // The same routing twice: whichever comes second finds it Approved; and one that does not exist.
      send(first.id, 'approve', ['approver']),
      send(randomUUID(), 'approve', ['approver']),
    ]);

    const statuses = answers.map((a) => a.status);
    expect([[statuses[0], statuses[12]].sort(), statuses.slice(1, 12), statuses[13]]).toEqual([
      [200, 409],
      Array(11).fill(200),
      404,
    ]);
    const approved = answers.filter((a) => a.status === 200).map((a) => Routing.parse(a.body));
    expect(new Set(approved.map((r) => r.id))).toEqual(new Set(routings.map((r) => r.id)));
    expect(approved.map((r) => r.status)).toEqual(Array(12).fill('Approved'));
    // Fewer transactions than approvals: those of one transaction carry its one time.
    expect(new Set(approved.map((r) => r.updatedAt)).size).toBeLessThan(12);
    // One generation command each, for its own job.
    for (const routing of approved) {
      const command = await batched.waitForMessage(
        (m) =>
          m.routingKey === 'mcms.esprit-generation.request' && m.envelope.payload.routingId === routing.id,
        `the generation command of ${routing.routingCode}`,
      );
      expect(command.envelope.payload.jobId).toBe(routing.lastAddinJobId);
    }
    expect(new Set(approved.map((r) => r.lastAddinJobId)).size).toBe(12);
  });
});
