// Property-based bad input (@mcms/fuzzing): every route of the history-service's contract and every queue it
// consumes, with generated hostile requests and malformed messages. MCMS_FUZZ_* sets the case counts.
import { CONSUMER_QUEUES, serviceApis } from '@mcms/contracts';
import { fuzzConsumer, fuzzRoutes, fuzzSettings, reportCases, routeTargets } from '@mcms/fuzzing';
import { metricValue, startHistoryService, type RunningHistoryService } from './support';

const SERVICE = 'history-service';
const settings = fuzzSettings();
const routes = serviceApis[SERVICE].routes;
const queues = Object.values(CONSUMER_QUEUES).filter((queue) => queue.startsWith(`${SERVICE}.`));
let history: RunningHistoryService;

beforeAll(async () => {
  history = await startHistoryService();
}, 60_000);
afterAll(() => history?.stop());

it(
  'answers every hostile request to every route with the 4xx that names the problem',
  async () => {
    const counts = await fuzzRoutes({
      baseUrl: history.baseUrl,
      targets: routeTargets(routes, { token: (roles) => history.token(roles) }),
      casesPerRoute: settings.httpCasesPerRoute,
      concurrency: settings.concurrency,
      seed: settings.seed,
    });
    reportCases(`${SERVICE} HTTP (seed ${settings.seed})`, counts);
    expect(Object.keys(counts)).toHaveLength(routes.length);
    expect((await fetch(`${history.baseUrl}/healthz`)).status).toBe(200);
  },
  120_000 + routes.length * settings.httpCasesPerRoute * 50,
);

it.each(queues)(
  'dead-letters every malformed message on %s exactly once, with its reason, never handling or retrying it',
  async (queue) => {
    const published = await fuzzConsumer({
      broker: history.broker,
      queue,
      cases: settings.messageCasesPerQueue,
      seed: settings.seed,
      handled: () => metricValue(history.metrics, 'mcms_messages_consumed_total', { queue, outcome: 'ack' }),
      retried: () =>
        metricValue(history.metrics, 'mcms_messages_consumed_total', { queue, outcome: 'retry' }),
    });
    reportCases(`${SERVICE} messages (seed ${settings.seed})`, { [queue]: published });
    expect(published).toBe(settings.messageCasesPerQueue + 1);
  },
  120_000 + settings.messageCasesPerQueue * 100,
);
