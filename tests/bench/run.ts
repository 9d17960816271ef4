// `npm run bench [-- --quick] [--jobs N] [--addins K] [--rates 100,250] [--profile] [--node-options …]`: runs the benchmark,
// prints the table and writes results/bench-<time>.json and .md (results/ is git-ignored) plus
// results/bench-latest.{json,md}. Loaded by scripts/bench.mjs, which compiles TypeScript on the fly.
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { WORKSPACE_ROOT } from '../support/system';
import { defaultOptions, runBenchmark, toMarkdown, type BenchOptions } from './harness';

function parseArgs(argv: readonly string[]): BenchOptions {
  const has = (flag: string) => argv.includes(flag);
  const value = (flag: string) => {
    const i = argv.indexOf(flag);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  if (has('--help')) {
    process.stdout.write(
      'usage: npm run bench -- [--quick] [--jobs N] [--warmup N] [--addins K] [--rates 100,250,500] [--seconds S] [--idle S]\n' +
        '                        [--growth 10000,200000] [--growth-jobs N] [--profile] [--classic]\n' +
        '                        [--node-options "--max-semi-space-size=4"]  (NODE_OPTIONS of the services)\n',
    );
    process.exit(0);
  }
  const flags = [
    '--quick',
    '--jobs',
    '--warmup',
    '--addins',
    '--rates',
    '--seconds',
    '--idle',
    '--growth',
    '--growth-jobs',
    '--classic',
    '--profile',
    '--node-options',
  ];
  // The value of --node-options starts with '--' itself.
  const nodeOptionsAt = argv.indexOf('--node-options');
  const unknown = argv.filter(
    (arg, i) =>
      arg.startsWith('-') && !flags.includes(arg) && !(nodeOptionsAt >= 0 && i === nodeOptionsAt + 1),
  );
  if (unknown.length > 0) throw new Error(`unknown option ${unknown.join(', ')} (see --help)`);
  const options = defaultOptions(has('--quick'));
  const int = (flag: string) => {
    const v = value(flag);
    if (v === undefined) return undefined;
    const n = Number(v);
    if (!Number.isInteger(n) || n < 0) throw new Error(`${flag} needs a whole number, got ${v}`);
    return n;
  };
  const list = (flag: string) => value(flag)?.split(',').filter(Boolean).map(Number);
  options.jobs = int('--jobs') ?? options.jobs;
  options.warmupJobs = int('--warmup') ?? options.warmupJobs;
  options.addins = int('--addins') ?? options.addins;
  options.rateSeconds = int('--seconds') ?? options.rateSeconds;
  options.idleSeconds = int('--idle') ?? options.idleSeconds;
  options.growthJobs = int('--growth-jobs') ?? options.growthJobs;
  options.rates = list('--rates') ?? options.rates;
  options.growth = list('--growth') ?? options.growth;
  if (has('--classic')) options.queueType = 'classic';
  const nodeOptions = value('--node-options');
  if (nodeOptions !== undefined) options.serviceNodeOptions = nodeOptions;
  if (has('--profile')) options.profileDir = path.join(WORKSPACE_ROOT, 'results', 'profiles');
  return options;
}

function progressLine(): (phase: string, done: number, total: number) => void {
  if (!process.stderr.isTTY) {
    // Not a terminal: a line per phase and every quarter, not a line per job.
    const lastQuarter = new Map<string, number>();
    return (phase, done, total) => {
      const quarter = Math.floor((4 * done) / Math.max(1, total));
      if (lastQuarter.get(phase) === quarter) return;
      lastQuarter.set(phase, quarter);
      process.stderr.write(`  ${phase}: ${done}/${total}\n`);
    };
  }
  let last = 0;
  return (phase, done, total) => {
    const now = Date.now();
    if (done < total && now - last < 100) return;
    last = now;
    const width = 30;
    const filled = Math.round((width * done) / Math.max(1, total));
    const bar = `${'█'.repeat(filled)}${'░'.repeat(width - filled)}`;
    process.stderr.write(`\r\x1b[2K  ${bar} ${done}/${total} ${phase}${done >= total ? '\n' : ''}`);
  };
}

export async function main(argv: readonly string[]): Promise<void> {
  const options = parseArgs(argv);
  options.progress = progressLine();
  options.log = (line) => process.stderr.write(`\r\x1b[2K▶ ${line}\n`);
  const report = await runBenchmark(options);
  const markdown = toMarkdown(report);
  const dir = path.join(WORKSPACE_ROOT, 'results');
  mkdirSync(dir, { recursive: true });
  const stamp = report.meta.date.replace(/[:.]/g, '-');
  for (const name of [`bench-${stamp}`, 'bench-latest']) {
    writeFileSync(path.join(dir, `${name}.json`), `${JSON.stringify(report, null, 2)}\n`);
    writeFileSync(path.join(dir, `${name}.md`), markdown);
  }
  process.stdout.write(
    `\n${markdown}\nwritten: results/bench-${stamp}.json and .md (also results/bench-latest.*)\n`,
  );
  const unaccounted = [
    ...(report.warmup ? [report.warmup] : []),
    report.completion,
    ...report.lifecycle,
    ...report.growth,
  ].filter((s) => !s.accounting.ok);
  if (unaccounted.length > 0) {
    process.stderr.write(
      `✗ ${unaccounted.length} scenario(s) did not account for every job (see the JSON)\n`,
    );
    process.exitCode = 1;
  }
}
