import { randomBytes } from 'node:crypto';
import { eventually, startHarness, type Harness } from './support/harness';

// Reports how fast results are applied (a figure for docs/performance.md) and asserts only that every
// result was applied exactly once: speed is the benchmark's business, never a test's.
let h: Harness;

beforeAll(async () => {
  h = await startHarness();
});

afterAll(async () => {
  await h?.close();
});

const RESULTS = Number(process.env.RW_THROUGHPUT_RESULTS ?? 40);
const FILE_BYTES = Number(process.env.RW_THROUGHPUT_FILE_BYTES ?? 290_000);

it('applies every one of many concurrent results exactly once and reports results per second', async () => {
  const prepared = [];
  for (let i = 0; i < RESULTS; i += 1) {
    const routing = await h.approvedRouting();
    const outputs = await h.writeOutputs(routing, {
      'GT.nc': randomBytes(FILE_BYTES / 2).toString('hex'),
      'GT.esp': randomBytes(FILE_BYTES / 2).toString('hex'),
      'fixtures/GT.stl': randomBytes(FILE_BYTES / 2).toString('hex'),
    });
    prepared.push({ routing, outputs });
  }

  const cpu = process.cpuUsage();
  const started = performance.now();
  await Promise.all(
    prepared.map(({ routing, outputs }) =>
      h.publishResult({ jobId: routing.lastAddinJobId, routingId: routing.id, outputs }),
    ),
  );
  await eventually(
    async () => ((await h.prisma.generationResult.count()) === RESULTS ? true : undefined),
    `${RESULTS} results applied`,
    120_000,
  );
  const seconds = (performance.now() - started) / 1_000;
  const used = process.cpuUsage(cpu);
  const cpuMs = ((used.user + used.system) / 1_000 / RESULTS).toFixed(2);
  console.log(
    `routing-worker: ${RESULTS} results in ${seconds.toFixed(2)} s = ${(RESULTS / seconds).toFixed(0)} results/s, ${cpuMs} ms CPU per result (whole test process)`,
  );

  const completed = await h.prisma.routing.count({ where: { lastGenerationStatus: 'Completed' } });
  expect(completed).toBe(RESULTS);
  expect(await h.prisma.generationResult.count()).toBe(RESULTS);
  // One routing.generation.completed per result, none doubled (the relay may still be publishing the last).
  const ids = new Set(prepared.map(({ routing }) => routing.id));
  const events = () =>
    h.observed.filter(
      (m) =>
        m.routingKey === 'routing.generation.completed' &&
        ids.has((m.envelope.payload as { routingId: string }).routingId),
    ).length;
  await eventually(() => events() >= RESULTS, `${RESULTS} routing.generation.completed events`);
  expect(events()).toBe(RESULTS);
}, 300_000);
