import {
  AddinJobExpired,
  generatedDocuments,
  RoutingGenerationCompleted,
  RoutingGenerationFailed,
  SubscribeAck,
  type Notification,
} from '@mcms/contracts';
import {
  allNotifications,
  completedEvent,
  connectClient,
  createSharedInfrastructure,
  eventually,
  expiredEvent,
  failedEvent,
  idsOf,
  listNotifications,
  metricValue,
  routingRef,
  startNotificationService,
  type RunningNotificationService,
  type SharedInfrastructure,
  type TestClient,
} from './support';

let shared: SharedInfrastructure;
let service: RunningNotificationService;
const clients: TestClient[] = [];

beforeAll(async () => {
  shared = await createSharedInfrastructure();
  service = await startNotificationService(shared);
});

afterEach(() => {
  for (const client of clients.splice(0)) client.close();
});

afterAll(async () => {
  await service?.stop();
  await shared?.destroy();
});

const viewer = () => shared.token(['viewer']);

async function connect(auth: { token?: string; lastNotificationId?: string }): Promise<TestClient> {
  const client = await connectClient(service.baseUrl, auth);
  clients.push(client);
  return client;
}

/** The stored alerts of `routingId` once there are `count`. */
function storedFor(routingId: string, count: number): Promise<Notification[]> {
  return eventually(async () => {
    const all = (await allNotifications(service.baseUrl, viewer())).filter((n) => n.routingId === routingId);
    return all.length >= count ? all : undefined;
  }, `${count} alerts of routing ${routingId}`);
}

async function newestId(): Promise<string> {
  const all = await allNotifications(service.baseUrl, viewer());
  return all.at(-1)?.id ?? '0';
}

describe('the socket.io handshake', () => {
  it.each([
    ['no token', {}],
    ['a token signed with another secret', { token: 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.bad' }],
    ['an expired token', { token: 'expired' }],
    ['a token without the viewer role', { token: 'no-role' }],
  ])('refuses a connection with %s as unauthorized', async (_name, auth: { token?: string }) => {
    const token =
      auth.token === 'expired'
        ? shared.token(['viewer'], { expiresInSeconds: -10 })
        : auth.token === 'no-role'
          ? shared.token([])
          : auth.token;

    const refused = connectClient(service.baseUrl, token === undefined ? {} : { token });

    await expect(refused).rejects.toThrow(/^unauthorized$/);
  });

  it('accepts a viewer and any higher role', async () => {
    for (const roles of [['viewer'], ['admin']] as const) {
      const client = await connect({ token: shared.token([...roles]) });
      expect(client.socket.connected).toBe(true);
    }
  });
});

describe('alerts from events', () => {
  it('pushes a red alert for a failed generation and an info alert for a completed one to a connected client', async () => {
    const client = await connect({ token: viewer() });
    const ref = routingRef();
    const failed = failedEvent(ref, 'ESPRIT license missing');
    const completed = completedEvent(ref);

    await service.publish(failed, RoutingGenerationFailed);
    await service.publish(completed, RoutingGenerationCompleted);
    await client.waitFor(
      (got) => got.filter((n) => n.routingId === ref.routingId).length === 2,
      'two alerts',
    );

    expect(client.received.filter((n) => n.routingId === ref.routingId)).toEqual([
      expect.objectContaining({
        type: 'generation.failed',
        severity: 'error',
        routingCode: ref.routingCode,
        jobId: failed.payload.jobId,
        message: `Generation of ${ref.routingCode} failed: ESPRIT license missing`,
        createdAt: failed.payload.failedAt,
      }),
      expect.objectContaining({
        type: 'generation.completed',
        severity: 'info',
        jobId: completed.payload.jobId,
      }),
    ]);
  });

  it('warns of a job requeued by expiry and stays quiet for an expiry that failed the job', async () => {
    const ref = routingRef();
    const client = await connect({ token: viewer() });
    client.socket.emit('subscribe', { routingId: ref.routingId }, () => undefined);
    const requeued = expiredEvent('requeued', ref);

    await service.publish(expiredEvent('failed', ref), AddinJobExpired);
    await service.publish(requeued, AddinJobExpired);
    // The failure that follows a failed expiry is the one alert of that job.
    const sentinel = failedEvent(ref);
    await service.publish(sentinel, RoutingGenerationFailed);
    await client.waitFor((got) => got.some((n) => n.jobId === sentinel.payload.jobId), 'the sentinel alert');

    expect(client.received.map((n) => [n.type, n.severity, n.jobId])).toEqual([
      ['job.requeued', 'warning', requeued.payload.jobId],
      ['generation.failed', 'error', sentinel.payload.jobId],
    ]);
  });

  it('stores and emits one alert for a redelivered event', async () => {
    const ref = routingRef();
    const client = await connect({ token: viewer() });
    const event = failedEvent(ref);
    const duplicatesBefore = await metricValue(service.metrics, 'mcms_notification_events_total', {
      outcome: 'duplicate',
    });

    await service.publish(event, RoutingGenerationFailed);
    await service.publish(event, RoutingGenerationFailed);
    await eventually(async () => {
      const duplicates = await metricValue(service.metrics, 'mcms_notification_events_total', {
        outcome: 'duplicate',
      });
      return duplicates > duplicatesBefore ? true : undefined;
    }, 'the second delivery handled as a duplicate');
    // Anything the duplicate could have emitted would arrive before an alert stored after it.
    const sentinel = failedEvent(ref);
    await service.publish(sentinel, RoutingGenerationFailed);
    await client.waitFor((got) => got.some((n) => n.jobId === sentinel.payload.jobId), 'the sentinel alert');

    expect(client.received.filter((n) => n.jobId === event.payload.jobId)).toHaveLength(1);
    expect((await storedFor(ref.routingId, 2)).filter((n) => n.jobId === event.payload.jobId)).toHaveLength(
      1,
    );
  });
});

describe('replay', () => {
  it('replays every alert after lastNotificationId in order, then goes live, with no gap and no duplicate at the seam', async () => {
    const ref = routingRef();
    const before = await newestId();
    for (let i = 0; i < 5; i++)
      await service.publish(failedEvent(ref, `early ${i}`), RoutingGenerationFailed);
    const early = await storedFor(ref.routingId, 5);
    const resumeFrom = early[1]!.id;

    // Alerts keep coming while clients connect: some replayed, some live, some at the seam.
    const LATE = 40;
    const publishing = (async () => {
      for (let i = 0; i < LATE; i++)
        await service.publish(failedEvent(ref, `late ${i}`), RoutingGenerationFailed);
    })();
    const resumed: TestClient[] = [];
    for (let i = 0; i < 6; i++)
      resumed.push(await connect({ token: viewer(), lastNotificationId: resumeFrom }));
    await publishing;
    const stored = await storedFor(ref.routingId, 5 + LATE);
    const expected = (await allNotifications(service.baseUrl, viewer(), before)).filter(
      (n) => BigInt(n.id) > BigInt(resumeFrom),
    );
    expect(expected).toHaveLength(stored.length - 2);

    for (const client of resumed) {
      await client.waitFor((got) => got.length >= expected.length, `${expected.length} alerts`);
      expect(idsOf(client.received)).toBe(idsOf(expected));
    }
  });

  it('sends nothing old to a client that connects without lastNotificationId', async () => {
    const ref = routingRef();
    await service.publish(failedEvent(ref, 'old'), RoutingGenerationFailed);
    await storedFor(ref.routingId, 1);

    const client = await connect({ token: viewer() });
    const fresh = failedEvent(ref, 'new');
    await service.publish(fresh, RoutingGenerationFailed);
    await client.waitFor((got) => got.some((n) => n.jobId === fresh.payload.jobId), 'the new alert');

    expect(client.received.map((n) => n.message)).toEqual([`Generation of ${ref.routingCode} failed: new`]);
  });

  it('refuses an unreadable lastNotificationId', async () => {
    await expect(
      connectClient(service.baseUrl, { token: viewer(), lastNotificationId: 'yesterday' }),
    ).rejects.toThrow(/^invalid_handshake$/);
  });
});

describe('subscribe', () => {
  it("narrows a client to one routing's alerts while others still get every alert", async () => {
    const a = routingRef();
    const b = routingRef();
    const narrowed = await connect({ token: viewer() });
    const everything = await connect({ token: viewer() });

    const ack = await narrowed.socket.emitWithAck('subscribe', { routingId: a.routingId });
    expect(SubscribeAck.parse(ack)).toEqual({ ok: true });
    const events = [failedEvent(a), failedEvent(b), completedEvent(b), completedEvent(a)];
    for (const event of events)
      await service.publish(
        event,
        event.type === 'routing.generation.failed' ? RoutingGenerationFailed : RoutingGenerationCompleted,
      );
    const last = events.at(-1)!.payload.jobId;
    await everything.waitFor((got) => got.some((n) => n.jobId === last), 'the last alert');
    await narrowed.waitFor((got) => got.some((n) => n.jobId === last), 'the last alert');

    expect(narrowed.received.map((n) => n.routingId)).toEqual([a.routingId, a.routingId]);
    expect(everything.received.map((n) => n.jobId)).toEqual(events.map((e) => e.payload.jobId));
  });

  it('answers a subscribe without a routing id with an error and keeps the client unfiltered', async () => {
    const client = await connect({ token: viewer() });

    const ack = await client.socket.emitWithAck('subscribe', { routingId: 'GT1' } as never);

    expect(SubscribeAck.parse(ack)).toEqual({ ok: false, error: expect.stringMatching(/routingId/) });
  });
});

describe('GET /api/notifications', () => {
  it('pages oldest first after a cursor, with a next cursor until the newest', async () => {
    const after = await newestId();
    const ref = routingRef();
    const events = Array.from({ length: 5 }, () => failedEvent(ref));
    for (const event of events) await service.publish(event, RoutingGenerationFailed);
    await storedFor(ref.routingId, 5);

    const first = await listNotifications(service.baseUrl, viewer(), { after, limit: 2 });
    const second = await listNotifications(service.baseUrl, viewer(), { after: first.nextCursor!, limit: 2 });
    const third = await listNotifications(service.baseUrl, viewer(), { after: second.nextCursor!, limit: 2 });

    const jobs = (page: { items: Notification[] }) => page.items.map((n) => n.jobId);
    const published = events.map((e) => e.payload.jobId);
    expect([jobs(first), jobs(second), jobs(third)]).toEqual([
      published.slice(0, 2),
      published.slice(2, 4),
      published.slice(4),
    ]);
    expect(first.nextCursor).toBe(first.items[1]!.id);
    expect(third.nextCursor).toBeNull();
    expect(BigInt(first.items[0]!.id)).toBeGreaterThan(BigInt(after));
  });

  it('answers 401 without a token, 403 without the viewer role and 400 for a bad cursor', async () => {
    const get = (query: string, token?: string) =>
      fetch(`${service.baseUrl}/api/notifications${query}`, {
        headers: token === undefined ? {} : { authorization: `Bearer ${token}` },
      });

    expect((await get('')).status).toBe(401);
    expect((await get('', shared.token([]))).status).toBe(403);
    const bad = await get('?after=-1&limit=0', viewer());
    expect(bad.status).toBe(400);
    expect(JSON.stringify(await bad.json())).toMatch(/after.*limit|limit.*after/);
  });

  it('serves its OpenAPI document, the one checked in', async () => {
    const response = await fetch(`${service.baseUrl}/openapi.json`);

    expect(response.status).toBe(200);
    const served = (await response.json()) as { paths: Record<string, unknown> };
    expect(Object.keys(served.paths)).toEqual(['/api/notifications']);
    const checkedIn = JSON.parse(generatedDocuments()['docs/openapi/notification-service.json']!) as {
      paths: unknown;
    };
    expect(served.paths).toEqual(checkedIn.paths);
  });
});

it('is ready when its database and broker are', async () => {
  const response = await fetch(`${service.baseUrl}/readyz`);

  expect(response.status).toBe(200);
});
