// Property-based bad input (@mcms/fuzzing): every route of the gateway's contract and every queue it
// consumes, with generated hostile requests and malformed messages. MCMS_FUZZ_* sets the case counts.
import { CONSUMER_QUEUES, serviceApis } from '@mcms/contracts';
import { fuzzConsumer, fuzzRoutes, fuzzSettings, reportCases, routeTargets } from '@mcms/fuzzing';
import { startGateway, type GatewayHarness } from './support/gateway';

const SERVICE = 'addin-gateway';
const settings = fuzzSettings();
const routes = serviceApis[SERVICE].routes;
const queues = Object.values(CONSUMER_QUEUES).filter((queue) => queue.startsWith(`${SERVICE}.`));
let gateway: GatewayHarness;

beforeAll(async () => {
  gateway = await startGateway();
}, 60_000);
afterAll(() => gateway?.close());

it(
  'answers every hostile request to every route with the 4xx that names the problem',
  async () => {
    const counts = await fuzzRoutes({
      baseUrl: gateway.baseUrl,
      targets: routeTargets(
        routes,
        {
          token: (roles) => gateway.token(roles),
          addin: { key: gateway.bootstrapKey, device: 'fuzz-device' },
        },
        // A valid wait is a wait (up to 30 s, covered by jobs.test.ts); invalid ones are still generated.
        { takeNextJob: { waitSeconds: '0' } },
      ),
      casesPerRoute: settings.httpCasesPerRoute,
      concurrency: settings.concurrency,
      seed: settings.seed,
    });
    reportCases(`${SERVICE} HTTP (seed ${settings.seed})`, counts);
    expect(Object.keys(counts)).toHaveLength(routes.length);
    expect((await fetch(`${gateway.baseUrl}/healthz`)).status).toBe(200);
  },
  120_000 + routes.length * settings.httpCasesPerRoute * 50,
);

it.each(queues)(
  'dead-letters every malformed message on %s exactly once, with its reason, never handling or retrying it',
  async (queue) => {
    const published = await fuzzConsumer({
      broker: gateway.broker,
      queue,
      cases: settings.messageCasesPerQueue,
      seed: settings.seed,
      handled: () => gateway.metric('mcms_messages_consumed_total', { queue, outcome: 'ack' }),
      retried: () => gateway.metric('mcms_messages_consumed_total', { queue, outcome: 'retry' }),
    });
    reportCases(`${SERVICE} messages (seed ${settings.seed})`, { [queue]: published });
    expect(published).toBe(settings.messageCasesPerQueue + 1);
  },
  120_000 + settings.messageCasesPerQueue * 100,
);
