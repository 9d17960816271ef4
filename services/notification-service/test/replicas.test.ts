import { RoutingGenerationCompleted, RoutingGenerationFailed } from '@mcms/contracts';
import {
  allNotifications,
  completedEvent,
  connectClient,
  createSharedInfrastructure,
  eventually,
  failedEvent,
  idsOf,
  metricValue,
  routingRef,
  startNotificationService,
  type RunningNotificationService,
  type SharedInfrastructure,
  type TestClient,
} from './support';

let shared: SharedInfrastructure;
let replicas: RunningNotificationService[] = [];
const clients: TestClient[] = [];

beforeAll(async () => {
  shared = await createSharedInfrastructure();
  replicas = [await startNotificationService(shared, 'a'), await startNotificationService(shared, 'b')];
});

afterAll(async () => {
  for (const client of clients) client.close();
  for (const replica of replicas) await replica.stop();
  await shared?.destroy();
});

it('delivers each alert exactly once to every client, whichever of two replicas it is connected to', async () => {
  const [a, b] = replicas as [RunningNotificationService, RunningNotificationService];
  const token = shared.token(['viewer']);
  for (const replica of [a, b, a, b]) clients.push(await connectClient(replica.baseUrl, { token }));
  const ref = routingRef();
  const COUNT = 30;

  // Both replicas compete on the one durable queue: each event is stored by one of them.
  for (let i = 0; i < COUNT; i++) {
    const event = i % 3 === 0 ? completedEvent(ref) : failedEvent(ref, `failure ${i}`);
    await a.publish(event, i % 3 === 0 ? RoutingGenerationCompleted : RoutingGenerationFailed);
  }
  const stored = await eventually(async () => {
    const all = await allNotifications(a.baseUrl, token);
    return all.length >= COUNT ? all : undefined;
  }, `${COUNT} stored alerts`);

  for (const client of clients) {
    await client.waitFor((got) => got.length >= COUNT, `${COUNT} alerts`);
    expect(idsOf(client.received)).toBe(idsOf(stored));
  }
  expect(stored).toHaveLength(COUNT);
  const storedBy = await Promise.all(
    [a, b].map((replica) =>
      metricValue(replica.metrics, 'mcms_notification_events_total', { outcome: 'stored' }),
    ),
  );
  expect(storedBy[0]! + storedBy[1]!).toBe(COUNT);
});

it('lets a client that moves to the other replica resume where it stopped, with no gap and no duplicate', async () => {
  const [a, b] = replicas as [RunningNotificationService, RunningNotificationService];
  const token = shared.token(['viewer']);
  const ref = routingRef();
  const first = await connectClient(a.baseUrl, { token });
  clients.push(first);
  const before = failedEvent(ref, 'before the move');
  await a.publish(before, RoutingGenerationFailed);
  await first.waitFor(
    (got) => got.some((n) => n.jobId === before.payload.jobId),
    'the alert before the move',
  );
  first.close();

  const missed = [failedEvent(ref, 'missed 1'), failedEvent(ref, 'missed 2')];
  for (const event of missed) await a.publish(event, RoutingGenerationFailed);
  const moved = await connectClient(b.baseUrl, { token, lastNotificationId: first.received.at(-1)!.id });
  clients.push(moved);
  const after = failedEvent(ref, 'after the move');
  await b.publish(after, RoutingGenerationFailed);
  await moved.waitFor((got) => got.some((n) => n.jobId === after.payload.jobId), 'the alert after the move');

  // Every alert after the last one seen, once each, in id order. Not necessarily in publishing order: the two
  // missed events may go one to each replica, and the one stored first gets the lower id.
  const messages = moved.received.map((n) => n.message.replace(/^.*failed: /, ''));
  expect([...messages].sort()).toEqual(['after the move', 'missed 1', 'missed 2']);
  const ids = moved.received.map((n) => Number(n.id));
  expect(ids).toEqual([...ids].sort((x, y) => x - y));
  expect(ids[0]).toBeGreaterThan(Number(first.received.at(-1)!.id));
});
