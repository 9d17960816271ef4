// The add-in simulator as a process of its own, so the chaos run can `kill -9` it like a crashed
// workstation. Started by tests/chaos/load.ts as `node -r scripts/register-ts.cjs <this file>` with its
// settings in MCMS_CHAOS_SIMULATOR (JSON). It prints one JSON line per HTTP answer it received (status 0:
// no answer) and per simulator event; stdout to a pipe is synchronous on Linux, so a line printed is a line
// the parent gets, even if the process is killed right after.
import { createAddinClient, runSimulator, type OutcomeMix } from '@mcms/addin-client';

/** What the parent passes in MCMS_CHAOS_SIMULATOR. */
export interface SimulatorProcessSettings {
  gatewayUrl: string;
  key: string;
  sharedDriveRoot: string;
  devices: number;
  devicePrefix: string;
  mix: Partial<OutcomeMix>;
  thinkMs: [number, number];
  waitSeconds: number;
}

/** One line the process prints. */
export type SimulatorRecord =
  | { e: 'http'; method: string; path: string; status: number; at: number; error?: string }
  | { e: 'completed'; jobId: string; resultStatus: 'completed' | 'failed'; at: number }
  | { e: 'taken'; jobId: string; outcome: string; at: number }
  | { e: 'summary'; taken: number; errors: number; leaseLost: number; fatal: string | null };

function print(record: SimulatorRecord): void {
  process.stdout.write(`${JSON.stringify(record)}\n`);
}

function recordingFetch(): typeof fetch {
  return async (input, init) => {
    const url = new URL(typeof input === 'string' || input instanceof URL ? input : input.url);
    const base = { e: 'http' as const, method: init?.method ?? 'GET', path: url.pathname, at: Date.now() };
    try {
      const response = await fetch(input, init);
      print({ ...base, status: response.status });
      return response;
    } catch (err) {
      const cause = (err as { cause?: { code?: string } }).cause;
      print({ ...base, status: 0, error: cause?.code ?? (err as Error).name });
      throw err;
    }
  };
}

async function main(): Promise<void> {
  const settings = JSON.parse(process.env.MCMS_CHAOS_SIMULATOR ?? '') as SimulatorProcessSettings;
  const stop = new AbortController();
  // SIGTERM: stop taking jobs, finish the ones in hand (a graceful add-in shutdown).
  process.once('SIGTERM', () => stop.abort());
  const doFetch = recordingFetch();
  const summary = await runSimulator({
    createClient: (deviceId) =>
      createAddinClient({ baseUrl: settings.gatewayUrl, key: settings.key, deviceId, fetch: doFetch }),
    sharedDriveRoot: settings.sharedDriveRoot,
    devices: settings.devices,
    devicePrefix: settings.devicePrefix,
    mix: settings.mix,
    thinkMs: settings.thinkMs,
    waitSeconds: settings.waitSeconds,
    signal: stop.signal,
    onEvent(event) {
      if (event.type === 'completed')
        print({ e: 'completed', jobId: event.jobId, resultStatus: event.resultStatus, at: Date.now() });
      else if (event.type === 'taken')
        print({ e: 'taken', jobId: event.jobId, outcome: event.outcome, at: Date.now() });
    },
  });
  print({
    e: 'summary',
    taken: summary.taken,
    errors: summary.errors,
    leaseLost: summary.leaseLost,
    fatal: summary.fatal,
  });
}

main().catch((err) => {
  process.stderr.write(`simulator process failed: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
