import { parseArgs } from 'node:util';
import { SIM_OUTCOMES, type OutcomeMix } from '../simulator';

/** The simulator command's settings, from flags first, then the environment. */
export interface SimulateCommand {
  baseUrl: string;
  key: string;
  sharedDriveRoot: string;
  devices: number;
  devicePrefix: string;
  mix: OutcomeMix;
  maxJobs?: number;
  durationMs?: number;
  waitSeconds: number;
  thinkMs: number | [number, number];
  slowWorkMs?: number;
  failureMessage?: string;
  json: boolean;
  quiet: boolean;
}

export const USAGE = `Usage: npm run simulate -- [options]
Simulated ESPRIT add-ins: take jobs from the addin-gateway, write output files to the shared drive, complete them.
Runs until --jobs or --duration is reached, or Ctrl-C (jobs in hand are finished; Ctrl-C twice quits at once).

  --url <url>              addin-gateway base URL      (env ADDIN_GATEWAY_URL; default http://127.0.0.1:8080)
  --key <key>              add-in key                  (env ADDIN_KEY; prefer the env: flags show in ps)
  --shared-drive <dir>     shared drive root           (env SHARED_DRIVE_ROOT)
  --devices <n>            simulated add-ins at once    (default 4; alias --concurrency)
  --mix <weights>          outcome weights, e.g. success=8,failure=1,crash=1,slow=0 (default success=1)
  --jobs <n>               stop after taking n jobs
  --duration <time>        stop taking jobs after this long (e.g. 90s, 5m)
  --wait-seconds <n>       long-poll wait of each next call, 0..30 (default 10)
  --think <time[-time]>    ESPRIT run time per job, fixed or a range (e.g. 200ms-2s; default 0)
  --slow-work <time>       how long a slow job works (default 1.5 x its lease, heartbeating every lease/3)
  --failure-message <text> message of simulated failures
  --device-prefix <text>   device ids are <prefix>01, <prefix>02, ... (default SIM-)
  --json                   print the summary as one JSON line
  --quiet                  no line per job, only progress and the summary
  --help                   this text`;

/** A duration like `250ms`, `10s`, `5m`, `1h` (a bare number is milliseconds). */
export function parseDuration(text: string, flag: string): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(text.trim());
  if (!match) throw new Error(`${flag}: "${text}" is not a duration like 500ms, 30s or 5m`);
  const factor = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 }[(match[2] ?? 'ms') as 'ms' | 's' | 'm' | 'h'];
  return Number(match[1]) * factor;
}

/** `success=8,failure=1` → the mix (missing outcomes weigh 0). */
export function parseMix(text: string): OutcomeMix {
  const mix: OutcomeMix = { success: 0, failure: 0, crash: 0, slow: 0 };
  for (const part of text
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean)) {
    const [name, weight] = part.split('=').map((p) => p.trim());
    if (!(SIM_OUTCOMES as readonly string[]).includes(name ?? '')) {
      throw new Error(`--mix: unknown outcome "${name}" (expected ${SIM_OUTCOMES.join(', ')})`);
    }
    const value = Number(weight);
    if (weight === undefined || weight === '' || !Number.isFinite(value) || value < 0) {
      throw new Error(`--mix: the weight of ${name} must be a number ≥ 0`);
    }
    mix[name as keyof OutcomeMix] = value;
  }
  if (Object.values(mix).every((weight) => weight === 0))
    throw new Error('--mix: at least one weight must be positive');
  return mix;
}

function positiveInt(text: string, flag: string, min = 1, max = Number.MAX_SAFE_INTEGER): number {
  const value = Number(text);
  if (!Number.isInteger(value) || value < min || value > max)
    throw new Error(`${flag}: expected a whole number ${min}..${max}`);
  return value;
}

/** Parses the command line; `'help'` when help was asked for. Throws an Error naming the bad flag. */
export function parseSimulateArgs(argv: readonly string[], env: NodeJS.ProcessEnv): SimulateCommand | 'help' {
  const { values } = parseArgs({
    args: [...argv],
    strict: true,
    allowPositionals: false,
    options: {
      url: { type: 'string' },
      key: { type: 'string' },
      'shared-drive': { type: 'string' },
      devices: { type: 'string' },
      concurrency: { type: 'string' },
      mix: { type: 'string' },
      jobs: { type: 'string' },
      duration: { type: 'string' },
      'wait-seconds': { type: 'string' },
      think: { type: 'string' },
      'slow-work': { type: 'string' },
      'failure-message': { type: 'string' },
      'device-prefix': { type: 'string' },
      json: { type: 'boolean', default: false },
      quiet: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) return 'help';
  const nonEmpty = (value: string | undefined) => (value?.trim() ? value.trim() : undefined);
  const key = nonEmpty(values.key) ?? nonEmpty(env.ADDIN_KEY);
  if (!key) throw new Error('an add-in key is required: set ADDIN_KEY (or --key)');
  const sharedDriveRoot = nonEmpty(values['shared-drive']) ?? nonEmpty(env.SHARED_DRIVE_ROOT);
  if (!sharedDriveRoot)
    throw new Error('the shared drive root is required: set SHARED_DRIVE_ROOT (or --shared-drive)');
  const baseUrl = nonEmpty(values.url) ?? nonEmpty(env.ADDIN_GATEWAY_URL) ?? 'http://127.0.0.1:8080';
  if (!/^https?:\/\//.test(baseUrl)) throw new Error(`--url: "${baseUrl}" is not an http(s) URL`);

  const devicesFlag = values.devices ?? values.concurrency;
  let thinkMs: number | [number, number] = 0;
  if (values.think !== undefined) {
    const [min, max] = values.think.split('-');
    thinkMs =
      max === undefined
        ? parseDuration(min ?? '', '--think')
        : [parseDuration(min ?? '', '--think'), parseDuration(max, '--think')];
    if (Array.isArray(thinkMs) && thinkMs[0] > thinkMs[1])
      throw new Error('--think: the range must be min-max');
  }
  return {
    baseUrl,
    key,
    sharedDriveRoot,
    devices: devicesFlag === undefined ? 4 : positiveInt(devicesFlag, '--devices', 1, 1_000),
    devicePrefix: values['device-prefix'] ?? 'SIM-',
    mix: values.mix === undefined ? { success: 1, failure: 0, crash: 0, slow: 0 } : parseMix(values.mix),
    ...(values.jobs === undefined ? {} : { maxJobs: positiveInt(values.jobs, '--jobs') }),
    ...(values.duration === undefined ? {} : { durationMs: parseDuration(values.duration, '--duration') }),
    waitSeconds:
      values['wait-seconds'] === undefined
        ? 10
        : positiveInt(values['wait-seconds'], '--wait-seconds', 0, 30),
    thinkMs,
    ...(values['slow-work'] === undefined
      ? {}
      : { slowWorkMs: parseDuration(values['slow-work'], '--slow-work') }),
    ...(values['failure-message'] === undefined
      ? {}
      : { failureMessage: values['failure-message'].slice(0, 4000) }),
    json: values.json ?? false,
    quiet: values.quiet ?? false,
  };
}
