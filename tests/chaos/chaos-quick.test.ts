// The quick chaos run in CI (issue 7): every fault kind once, under a small load, on a private RabbitMQ
// node and PostgreSQL cluster (never the shared ones other test files use). It asserts the invariants
// and that every fault was really injected — never a speed or a recovery time: those depend on the
// machine and belong to the report of `npm run chaos`.
import { FAULT_KINDS } from './faults';
import { chaosToMarkdown, defaultChaosOptions, runChaos, type ChaosReport } from './harness';

describe('the quick chaos run', () => {
  let report: ChaosReport;

  beforeAll(async () => {
    report = await runChaos(defaultChaosOptions(true));
  }, 300_000);

  it('injects every fault kind at least once, and recovers from each', () => {
    expect(report.byKind.map((k) => k.kind)).toEqual(FAULT_KINDS);
    const missed = report.byKind.filter((k) => k.injected < 1 || k.recoverMsMax === null).map((k) => k.kind);
    expect(missed).toEqual([]);
    // The simulator's kill is real: a second process took over.
    expect(report.simulators).toBeGreaterThanOrEqual(2);
  });

  it('loses nothing and doubles nothing: every invariant holds over every job', () => {
    // The whole report on failure: which job, which queue, which answer.
    const violations = report.result.violations;
    expect({ violations, lost: report.result.lost, duplicated: report.result.duplicated }).toEqual({
      violations: [],
      lost: 0,
      duplicated: 0,
    });
    expect(report.result.jobs.total).toBeGreaterThan(0);
    expect(report.result.jobs.completeAnswered200).toBeGreaterThan(0);
    expect(report.result.jobs.completed + report.result.jobs.failed).toBe(report.result.jobs.total);
    expect(report.ok).toBe(true);
  });

  it('finds exactly the poisoned messages in the dead-letter queues, each with its reason', () => {
    expect(report.result.deadLetters.poisoned).toBeGreaterThan(0);
    expect(report.result.deadLetters.found).toBe(report.result.deadLetters.poisoned);
    expect(Object.keys(report.result.deadLetters.reasons)).not.toContain('(none)');
  });

  it('records every HTTP answer, and no 5xx but 503', () => {
    expect(report.result.http.unexpected5xx).toBe(0);
    const answered = Object.entries(report.result.http.byStatus)
      .filter(([status]) => /^\d+$/.test(status))
      .reduce((sum, [, n]) => sum + n, 0);
    expect(answered).toBeGreaterThan(report.result.jobs.completeAnswered200);
  });

  it('prints a report with every fault kind and the lost and duplicated counts', () => {
    const markdown = chaosToMarkdown(report);
    for (const kind of FAULT_KINDS) expect(markdown).toContain(`| ${kind} |`);
    expect(markdown).toContain('| **lost** | **0** |');
    expect(markdown).toContain('| **duplicated** | **0** |');
  });
});
