// The quick variant of the benchmark (issue 6) in the test run: a few hundred jobs through every scenario,
// to prove the harness works and produces every figure. It asserts that every job was accounted for and
// that each figure exists, never a speed: speeds depend on the machine, and belong to `npm run bench`.
import { costPerProcess, defaultOptions, runBenchmark, toMarkdown, type BenchReport } from './harness';

const isRate = (n: unknown) => typeof n === 'number' && Number.isFinite(n) && n > 0;

describe('the quick benchmark', () => {
  let report: BenchReport;

  beforeAll(async () => {
    report = await runBenchmark({
      ...defaultOptions(true),
      jobs: 120,
      warmupJobs: 40,
      addins: 8,
      rates: [40],
      rateSeconds: 2,
      growth: [300, 600],
      growthJobs: 50,
      raw: { amqpMessages: 2_000, messagingMessages: 2_000, pgMs: 400, httpMs: 400 },
      queueType: 'classic',
    });
  }, 120_000);

  it('accounts for every job of the completion path in the routings, the history and one alert each', () => {
    const { accounting } = report.completion;
    expect(accounting).toMatchObject({
      jobs: 120,
      expectedCompleted: 108,
      expectedFailed: 12,
      routingsCompleted: 108,
      routingsFailed: 12,
      historyFinal: 120,
      historyFinalEntries: 120,
      alertedOnce: 120,
      alertsReceived: 120,
      ok: true,
    });
    expect(report.completion.complete.count).toBe(120);
    expect(report.completion.completeToAlert.count).toBe(120);
  });

  it('warms up on jobs of its own before the timed completion path, and accounts for them too', () => {
    expect(report.warmup?.accounting).toMatchObject({
      jobs: 40,
      expectedFailed: 4,
      routingsCompleted: 36,
      routingsFailed: 4,
      historyFinal: 40,
      alertedOnce: 40,
      ok: true,
    });
    expect(report.warmup!.complete.count).toBe(40);
    expect(isRate(report.warmup!.cpuMsPerResult)).toBe(true);
    expect(toMarkdown(report)).toContain('warm-up before it (40 jobs, not timed)');
  });

  it('accounts for every job of the fixed-rate lifecycle and of both growth runs', () => {
    for (const scenario of [...report.lifecycle, ...report.growth]) {
      expect(scenario.accounting.ok).toBe(true);
      expect(scenario.accounting.alertedOnce).toBe(scenario.accounting.jobs);
    }
    expect(report.lifecycle.map((l) => l.jobs)).toEqual([80]);
    expect(report.growth.map((g) => [g.priorJobs, g.accounting.jobs])).toEqual([
      [300, 50],
      [600, 50],
    ]);
  });

  it('produces every raw limit, the messaging ratio, the bound and the resources of every process', () => {
    expect(
      [
        report.raw.amqp.perSecond,
        report.raw.postgres.perSecond,
        report.raw.http.server.perSecond,
        report.raw.http.fetchClient.perSecond,
        report.raw.http.benchClient.perSecond,
        report.messaging.perSecond,
        report.messaging.ratioToRaw,
        report.raw.amqpShaped.perSecond,
        report.messaging.ratioToShaped,
        report.messaging.shapedToRaw,
        report.bound.min,
        report.bound.shared,
        report.ratioToBound.min,
        report.completion.resultsPerSec,
        report.completion.cpuMsPerResult,
        report.growthCostRatio,
      ].every(isRate),
    ).toBe(true);
    // Raw amqplib and our messaging in alternating rounds, each round's ratio kept.
    expect(report.messaging.roundRatios).toHaveLength(3);
    expect(report.messaging.roundRatios.every(isRate)).toBe(true);
    expect(report.messaging.shapedRoundRatios).toHaveLength(3);
    expect(report.messaging.shapedRoundRatios.every(isRate)).toBe(true);
    const l = report.lifecycle[0]!;
    for (const stage of Object.values(l.stages)) expect(stage.count).toBe(l.jobs);
    expect([l.cpuMsPerJob, l.dbTxPerJob].every(isRate)).toBe(true);
    expect(l.backlog.samples.length).toBeGreaterThan(0);
    const names = report.completion.resources.map((r) => r.name);
    expect(names).toEqual(
      expect.arrayContaining([
        'addin-gateway',
        'routing-worker',
        'history-service',
        'notification-service',
        'rabbitmq',
      ]),
    );
    for (const scenario of [report.completion, report.idle!, ...report.lifecycle, ...report.growth]) {
      expect(scenario.host.busyCores).toBeGreaterThan(0);
      expect(scenario.host.stealPercent).toBeGreaterThanOrEqual(0);
    }
    for (const usage of report.completion.resources) {
      expect(usage.processes).toBeGreaterThan(0);
      expect(usage.peakRssMb).toBeGreaterThan(0);
    }
    // The idle phase: every add-in of the lifecycle's fleet polled (and got nothing), every process sampled.
    expect(report.idle).toMatchObject({ addins: l.addins, seconds: 2 });
    expect(report.idle!.polls).toBeGreaterThanOrEqual(l.addins);
    expect(report.idle!.resources.map((r) => r.name)).toEqual(names);
  });

  it("splits each scenario's CPU per result or per job by process, adding up to the scenario's cost", () => {
    const costs = costPerProcess(report);
    expect(costs.map((c) => c.scenario)).toEqual([
      'warm-up (not timed)',
      'completion',
      'lifecycle 40/s',
      'growth 300',
      'growth 600',
    ]);
    const totals = [
      report.warmup!.cpuMsPerResult,
      report.completion.cpuMsPerResult,
      report.lifecycle[0]!.cpuMsPerJob,
      ...report.growth.map((g) => g.cpuMsPerResult),
    ];
    costs.forEach((cost, i) => {
      // The system's processes (the harness's own column aside) add up to the scenario's cost per result/job,
      // within the rounding of each process to 0.01 ms.
      const system = cost.cpuMs.filter((_, j) => !cost.names[j]!.startsWith('bench'));
      expect(system.length).toBeGreaterThanOrEqual(6);
      expect(system.every((ms) => ms >= 0)).toBe(true);
      expect(Math.abs(system.reduce((a, b) => a + b, 0) - totals[i]!)).toBeLessThanOrEqual(0.05);
    });
    expect(toMarkdown(report)).toContain('CPU ms per result (completion, growth) / per job (lifecycle)');
  });

  it('prints one table with every target of the issue', () => {
    const markdown = toMarkdown(report);
    for (const target of [
      `idle (${report.lifecycle[0]!.addins} add-ins long-polling, 2 s)`,
      'completion path ≥ 1,000 results/s',
      'full lifecycle holds ≥ 500 jobs/s',
      'p99 /complete ≤ 50 ms',
      'p99 complete → alert ≤ 250 ms',
      'per-result cost at 200k prior jobs',
      'every service < 200 MB RSS',
      '≥ 50% of the bound',
      '≥ 0.9× raw amqplib',
    ])
      expect(markdown).toContain(target);
  });
});
