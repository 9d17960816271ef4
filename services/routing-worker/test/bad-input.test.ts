// Property-based bad input (@mcms/fuzzing): every route of the routing-worker's contract and every queue it
// consumes, with generated hostile requests and malformed messages. MCMS_FUZZ_* sets the case counts.
import { CONSUMER_QUEUES, serviceApis } from '@mcms/contracts';
import { fuzzConsumer, fuzzRoutes, fuzzSettings, reportCases, routeTargets } from '@mcms/fuzzing';
import { startHarness, type Harness } from './support/harness';

const SERVICE = 'routing-worker';
const settings = fuzzSettings();
const routes = serviceApis[SERVICE].routes;
const queues = Object.values(CONSUMER_QUEUES).filter((queue) => queue.startsWith(`${SERVICE}.`));
let worker: Harness;

beforeAll(async () => {
  worker = await startHarness();
}, 60_000);
afterAll(() => worker?.close());

it(
  'answers every hostile request to every route with the 4xx that names the problem',
  async () => {
    const counts = await fuzzRoutes({
      baseUrl: worker.baseUrl,
      targets: routeTargets(routes, { token: (roles) => worker.token(roles) }),
      casesPerRoute: settings.httpCasesPerRoute,
      concurrency: settings.concurrency,
      seed: settings.seed,
    });
    reportCases(`${SERVICE} HTTP (seed ${settings.seed})`, counts);
    expect(Object.keys(counts)).toHaveLength(routes.length);
    expect((await fetch(`${worker.baseUrl}/healthz`)).status).toBe(200);
  },
  120_000 + routes.length * settings.httpCasesPerRoute * 50,
);

it.each(queues)(
  'dead-letters every malformed message on %s exactly once, with its reason, never handling or retrying it',
  async (queue) => {
    const published = await fuzzConsumer({
      broker: worker.broker,
      queue,
      cases: settings.messageCasesPerQueue,
      seed: settings.seed,
      handled: () => worker.counter('mcms_messages_consumed_total', { queue, outcome: 'ack' }),
      retried: () => worker.counter('mcms_messages_consumed_total', { queue, outcome: 'retry' }),
    });
    reportCases(`${SERVICE} messages (seed ${settings.seed})`, { [queue]: published });
    expect(published).toBe(settings.messageCasesPerQueue + 1);
  },
  120_000 + settings.messageCasesPerQueue * 100,
);
