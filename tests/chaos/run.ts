// `npm run chaos [-- --quick] [--rate N] [--devices N] [--rounds N] [--hold-ms N] [--steady-ms N] [--classic]`:
// runs the chaos experiment, prints the report and writes results/chaos-<time>.{json,md} (results/ is
// git-ignored) plus results/chaos-latest.*; exits 1 when an invariant was violated. Loaded by
// scripts/chaos.mjs, which compiles TypeScript on the fly.
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { WORKSPACE_ROOT } from '../support/system';
import { chaosToMarkdown, defaultChaosOptions, runChaos, type ChaosOptions } from './harness';
import { killPrivateInfrastructureNow } from './private-infra';

const USAGE =
  'usage: npm run chaos -- [--quick] [--rate approvals/s] [--devices N] [--rounds N] [--hold-ms N]\n' +
  '                        [--steady-ms N] [--classic | --quorum]\n';

const FLAGS = [
  '--quick',
  '--rate',
  '--devices',
  '--rounds',
  '--hold-ms',
  '--steady-ms',
  '--classic',
  '--quorum',
];

function parseArgs(argv: readonly string[]): ChaosOptions {
  const unknown = argv.filter((arg) => arg.startsWith('-') && !FLAGS.includes(arg));
  if (unknown.length > 0) throw new Error(`unknown option ${unknown.join(', ')}\n${USAGE}`);
  const options = defaultChaosOptions(argv.includes('--quick'));
  const int = (flag: string): number | undefined => {
    const i = argv.indexOf(flag);
    if (i < 0) return undefined;
    const n = Number(argv[i + 1]);
    if (!Number.isInteger(n) || n <= 0)
      throw new Error(`${flag} needs a positive whole number, got ${argv[i + 1]}`);
    return n;
  };
  options.rate = int('--rate') ?? options.rate;
  options.devices = int('--devices') ?? options.devices;
  options.rounds = int('--rounds') ?? options.rounds;
  options.holdMs = int('--hold-ms') ?? options.holdMs;
  options.steadyMs = int('--steady-ms') ?? options.steadyMs;
  if (argv.includes('--classic')) options.queueType = 'classic';
  if (argv.includes('--quorum')) options.queueType = 'quorum';
  return options;
}

export async function main(argv: readonly string[]): Promise<number> {
  if (argv.includes('--help')) {
    process.stdout.write(USAGE);
    return 0;
  }
  const options = parseArgs(argv);
  const interrupt = new AbortController();
  // First Ctrl-C: stop after the current fault and clean up. Second: kill the private servers now and leave.
  process.on('SIGINT', () => {
    if (interrupt.signal.aborted) {
      killPrivateInfrastructureNow();
      process.exit(130);
    }
    process.stderr.write('\ninterrupted: cleaning up (Ctrl-C again to kill everything at once)…\n');
    interrupt.abort();
  });
  options.signal = interrupt.signal;
  options.log = (line) => process.stderr.write(`▶ ${line}\n`);
  const dir = path.join(WORKSPACE_ROOT, 'results');
  mkdirSync(dir, { recursive: true });
  options.serviceLogFile = path.join(dir, 'chaos-latest-services.log');
  writeFileSync(options.serviceLogFile, '');
  const report = await runChaos(options);
  const markdown = chaosToMarkdown(report);
  const stamp = report.meta.date.replace(/[:.]/g, '-');
  for (const name of [`chaos-${stamp}`, 'chaos-latest']) {
    writeFileSync(path.join(dir, `${name}.json`), `${JSON.stringify(report, null, 2)}\n`);
    writeFileSync(path.join(dir, `${name}.md`), markdown);
  }
  process.stdout.write(
    `\n${markdown}\nwritten: results/chaos-${stamp}.json and .md (also results/chaos-latest.*)\n`,
  );
  return report.ok ? 0 : 1;
}
