// Property-based bad input (@mcms/fuzzing): every route of the notification-service's contract and every queue it
// consumes, with generated hostile requests and malformed messages. MCMS_FUZZ_* sets the case counts.
import { CONSUMER_QUEUES, NotificationHandshake, serviceApis, SOCKET_UNAUTHORIZED } from '@mcms/contracts';
import {
  fuzzConsumer,
  fuzzRoutes,
  fuzzSettings,
  hostileJson,
  hostileString,
  reportCases,
  routeTargets,
} from '@mcms/fuzzing';
import fc from 'fast-check';
import { io } from 'socket.io-client';
import { DEFAULT_SOCKET_LIMITS, SOCKET_INVALID_HANDSHAKE } from '../src/adapters/notification-socket';
import {
  createSharedInfrastructure,
  metricValue,
  startNotificationService,
  type RunningNotificationService,
  type SharedInfrastructure,
} from './support';

const SERVICE = 'notification-service';
const settings = fuzzSettings();
const routes = serviceApis[SERVICE].routes;
const queues = Object.values(CONSUMER_QUEUES).filter((queue) => queue.startsWith(`${SERVICE}.`));
let shared: SharedInfrastructure;
let service: RunningNotificationService;

beforeAll(async () => {
  shared = await createSharedInfrastructure();
  service = await startNotificationService(shared);
}, 60_000);
afterAll(async () => {
  await service?.stop();
  await shared?.destroy();
});

it(
  'answers every hostile request to every route with the 4xx that names the problem',
  async () => {
    const counts = await fuzzRoutes({
      baseUrl: service.baseUrl,
      targets: routeTargets(routes, { token: (roles) => shared.token(roles) }),
      casesPerRoute: settings.httpCasesPerRoute,
      concurrency: settings.concurrency,
      seed: settings.seed,
    });
    reportCases(`${SERVICE} HTTP (seed ${settings.seed})`, counts);
    expect(Object.keys(counts)).toHaveLength(routes.length);
    expect((await fetch(`${service.baseUrl}/healthz`)).status).toBe(200);
  },
  120_000 + routes.length * settings.httpCasesPerRoute * 50,
);

it.each(queues)(
  'dead-letters every malformed message on %s exactly once, with its reason, never handling or retrying it',
  async (queue) => {
    const published = await fuzzConsumer({
      broker: service.broker,
      queue,
      cases: settings.messageCasesPerQueue,
      seed: settings.seed,
      handled: () => metricValue(service.metrics, 'mcms_messages_consumed_total', { queue, outcome: 'ack' }),
      retried: () =>
        metricValue(service.metrics, 'mcms_messages_consumed_total', { queue, outcome: 'retry' }),
    });
    reportCases(`${SERVICE} messages (seed ${settings.seed})`, { [queue]: published });
    expect(published).toBe(settings.messageCasesPerQueue + 1);
  },
  120_000 + settings.messageCasesPerQueue * 100,
);

/** How one handshake ended: `connected`, `refused: <message>`, or `closed` (the server dropped it). */
function handshake(auth: unknown): Promise<string> {
  const socket = io(service.baseUrl, {
    auth: auth as Record<string, unknown>,
    transports: ['websocket'],
    reconnection: false,
    forceNew: true,
    timeout: 10_000,
  });
  return new Promise<string>((resolve) => {
    socket.once('connect', () => resolve('connected'));
    socket.once('connect_error', (err) =>
      resolve(/timeout|websocket error/.test(err.message) ? 'closed' : `refused: ${err.message}`),
    );
    // The client closes its manager just before it reports a refusal: let the refusal win.
    socket.io.once('close', () => setImmediate(() => resolve('closed')));
  }).finally(() => socket.close());
}

it(
  'connects every valid socket.io handshake and refuses every other one by name, and keeps serving',
  async () => {
    const viewer = shared.token(['viewer']);
    const lastNotificationId = fc.oneof(
      fc.constantFrom('0', '42', '9223372036854775807', '9223372036854775808', '9'.repeat(19), '-1', '1.5'),
      fc.nat().map(String),
      fc.integer(),
      hostileJson(),
    );
    const auth = fc.oneof(
      fc.record({ token: fc.constant(viewer), lastNotificationId }, { requiredKeys: ['token'] }),
      fc.record(
        { token: fc.oneof(hostileString(), hostileJson()), lastNotificationId },
        { requiredKeys: [] },
      ),
      fc.record({
        token: fc.constant(viewer),
        padding: fc.constant('x'.repeat(DEFAULT_SOCKET_LIMITS.maxMessageBytes)),
      }),
      hostileJson(),
    );
    const batch = settings.concurrency;
    let sent = 0;
    const result = await fc.check(
      fc.asyncProperty(fc.array(auth, { minLength: batch, maxLength: batch }), async (auths) => {
        const outcomes = await Promise.all(auths.map(handshake));
        sent += auths.length;
        auths.forEach((a, i) => {
          const outcome = outcomes[i];
          const size = Buffer.byteLength(JSON.stringify(a) ?? '');
          const expected =
            size > DEFAULT_SOCKET_LIMITS.maxMessageBytes
              ? ['closed']
              : typeof a !== 'object' || a === null || Array.isArray(a)
                ? // socket.io itself drops a CONNECT whose auth is not an object (or the client sends {}).
                  ['closed', `refused: ${SOCKET_UNAUTHORIZED}`]
                : (a as { token?: unknown } | null)?.token !== viewer
                  ? [`refused: ${SOCKET_UNAUTHORIZED}`]
                  : NotificationHandshake.safeParse(a).success
                    ? ['connected']
                    : [`refused: ${SOCKET_INVALID_HANDSHAKE}`];
          if (!expected.includes(outcome as string)) {
            throw new Error(
              `handshake ${JSON.stringify(a)?.slice(0, 300)} → ${outcome}, expected ${expected.join(' or ')}`,
            );
          }
        });
      }),
      { numRuns: Math.ceil(settings.httpCasesPerRoute / batch), seed: settings.seed, endOnFailure: true },
    );
    reportCases(`${SERVICE} socket.io handshakes (seed ${settings.seed})`, { handshake: sent });
    if (result.failed) throw result.errorInstance;
    expect(await handshake({ token: viewer })).toBe('connected');
  },
  120_000 + settings.httpCasesPerRoute * 50,
);
