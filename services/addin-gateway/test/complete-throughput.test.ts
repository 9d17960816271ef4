import { randomUUID } from 'node:crypto';
import { AddinJobResultCommand } from '@mcms/contracts';
import { startGateway, type GatewayHarness } from './support/gateway';

// Reports how fast `/complete` answers concurrent add-ins (a figure for docs/performance.md) and asserts only
// correctness: every job completed once, one result command each. Speed is the benchmark's business.
let gw: GatewayHarness;

beforeAll(async () => {
  gw = await startGateway({ longPollFallbackMs: 60_000 });
});

afterAll(async () => {
  await gw?.close();
});

const JOBS = Number(process.env.GW_THROUGHPUT_JOBS ?? 40);
const ADDINS = 8;

it('records every concurrent completion exactly once and reports completions per second', async () => {
  await gw.prisma.$executeRaw`DELETE FROM addin_job`;
  const claimed: Array<{ jobId: string; device: string }> = [];
  for (let i = 0; i < JOBS; i += 1) await gw.queueJob();
  for (let i = 0; i < JOBS; i += 1) {
    const device = `WS-${randomUUID().slice(0, 8)}`;
    const answer = await gw.call('GET', '/api/addin/jobs/next?waitSeconds=0', {
      key: gw.bootstrapKey,
      device,
    });
    expect(answer.status).toBe(200);
    claimed.push({ jobId: answer.body.jobId, device });
  }
  const outputs = [{ path: 'GT.nc', sha256: 'a'.repeat(64), sizeBytes: 10 }];

  const latencies: number[] = [];
  const queue = [...claimed];
  const cpu = process.cpuUsage();
  const started = performance.now();
  await Promise.all(
    Array.from({ length: ADDINS }, async () => {
      for (let job = queue.shift(); job !== undefined; job = queue.shift()) {
        const sent = performance.now();
        const answer = await gw.call('POST', `/api/addin/jobs/${job.jobId}/complete`, {
          key: gw.bootstrapKey,
          device: job.device,
          body: { resultStatus: 'completed', outputs },
        });
        latencies.push(performance.now() - sent);
        expect(answer.status).toBe(200);
      }
    }),
  );
  const seconds = (performance.now() - started) / 1_000;
  const used = process.cpuUsage(cpu);
  const cpuMs = ((used.user + used.system) / 1_000 / JOBS).toFixed(2);
  latencies.sort((a, b) => a - b);
  const p = (q: number) =>
    latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))]?.toFixed(1);
  console.log(
    `addin-gateway: ${JOBS} completions by ${ADDINS} add-ins in ${seconds.toFixed(2)} s = ` +
      `${(JOBS / seconds).toFixed(0)}/s; p50 ${p(0.5)} ms, p99 ${p(0.99)} ms, ${cpuMs} ms CPU per completion (whole test process)`,
  );

  await gw.settle();
  expect(await gw.prisma.addinJob.count({ where: { status: 'Completed' } })).toBe(JOBS);
  for (const { jobId } of claimed) expect(gw.messagesOf(AddinJobResultCommand, jobId)).toHaveLength(1);
}, 300_000);
