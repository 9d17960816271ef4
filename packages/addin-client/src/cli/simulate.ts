#!/usr/bin/env node
// `npm run simulate`: simulated ESPRIT add-ins against a running addin-gateway. Started only by hand, the
// demo, tests and the benchmark — never by `npm start`, since a simulated add-in would take real jobs.
import { createAddinClient } from '../client';
import { runSimulator, type SimEvent, type SimulatorSummary } from '../simulator';
import { parseSimulateArgs, USAGE } from './options';

const PROGRESS_EVERY_MS = 5_000;

function short(id: string): string {
  return id.slice(0, 8);
}

function eventLine(event: SimEvent): string {
  switch (event.type) {
    case 'taken':
      return `[${event.deviceId}] took ${event.routingCode} (job ${short(event.jobId)}, attempt ${event.attempt}) → ${event.outcome}`;
    case 'heartbeat':
      return `[${event.deviceId}] heartbeat job ${short(event.jobId)}: lease until ${event.leaseExpiresAt}`;
    case 'completed':
      return `[${event.deviceId}] completed job ${short(event.jobId)} as ${event.resultStatus} (${event.latencyMs.toFixed(1)} ms)`;
    case 'crashed':
      return `[${event.deviceId}] crashed on job ${short(event.jobId)}: no completion, its lease will expire`;
    case 'lease-lost':
      return `[${event.deviceId}] lost the lease of job ${short(event.jobId)} (${event.reason})`;
    case 'error':
      return `[${event.deviceId}] error${event.jobId ? ` on job ${short(event.jobId)}` : ''}: ${event.message}`;
  }
}

function ms(value: number | null): string {
  return value === null ? '-' : `${value.toFixed(1)} ms`;
}

export function formatSummary(summary: SimulatorSummary): string {
  const { outcomes, reported, completeLatencyMs: l } = summary;
  return [
    `simulator summary (${summary.devices} device(s), ${(summary.elapsedMs / 1000).toFixed(1)} s)`,
    `  jobs taken:      ${summary.taken} (success ${outcomes.success}, failure ${outcomes.failure}, crash ${outcomes.crash}, slow ${outcomes.slow})`,
    `  reported:        completed ${reported.completed}, failed ${reported.failed}`,
    `  heartbeats:      ${summary.heartbeats}; leases lost: ${summary.leaseLost}; errors: ${summary.errors}`,
    `  /complete:       n=${l.count} p50 ${ms(l.p50)} p95 ${ms(l.p95)} p99 ${ms(l.p99)} max ${ms(l.max)}`,
    ...(summary.fatal ? [`  stopped by:      ${summary.fatal}`] : []),
  ].join('\n');
}

async function main(): Promise<number> {
  let command;
  try {
    command = parseSimulateArgs(process.argv.slice(2), process.env);
  } catch (err) {
    console.error(`${err instanceof Error ? err.message : String(err)}\n\n${USAGE}`);
    return 2;
  }
  if (command === 'help') {
    console.log(USAGE);
    return 0;
  }
  const { quiet, json } = command;
  const say = (line: string) => (json ? console.error(line) : console.log(line));

  const stop = new AbortController();
  process.on('SIGINT', () => {
    if (stop.signal.aborted) process.exit(130);
    say('stopping: finishing the jobs in hand (Ctrl-C again to quit at once)');
    stop.abort();
  });
  process.on('SIGTERM', () => stop.abort());

  const counts = { taken: 0, completed: 0, failed: 0, crashed: 0, errors: 0 };
  const progress = setInterval(() => {
    say(
      `progress: taken ${counts.taken}, completed ${counts.completed}, failed ${counts.failed}, crashed ${counts.crashed}, errors ${counts.errors}`,
    );
  }, PROGRESS_EVERY_MS);
  progress.unref();

  say(
    `simulating ${command.devices} add-in(s) against ${command.baseUrl}, shared drive ${command.sharedDriveRoot}`,
  );
  const summary = await runSimulator({
    createClient: (deviceId) => createAddinClient({ baseUrl: command.baseUrl, key: command.key, deviceId }),
    sharedDriveRoot: command.sharedDriveRoot,
    devices: command.devices,
    devicePrefix: command.devicePrefix,
    mix: command.mix,
    maxJobs: command.maxJobs,
    durationMs: command.durationMs,
    waitSeconds: command.waitSeconds,
    thinkMs: command.thinkMs,
    slowWorkMs: command.slowWorkMs,
    failureMessage: command.failureMessage,
    signal: stop.signal,
    onEvent: (event) => {
      if (event.type === 'taken') counts.taken += 1;
      if (event.type === 'completed')
        counts[event.resultStatus === 'completed' ? 'completed' : 'failed'] += 1;
      if (event.type === 'crashed') counts.crashed += 1;
      if (event.type === 'error') counts.errors += 1;
      if (!quiet || event.type === 'error') say(eventLine(event));
    },
  });
  clearInterval(progress);
  if (json) console.log(JSON.stringify(summary));
  else console.log(formatSummary(summary));
  return summary.fatal ? 1 : 0;
}

if (require.main === module) {
  main().then(
    (code) => process.exit(code),
    (err: unknown) => {
      console.error(err);
      process.exit(1);
    },
  );
}
