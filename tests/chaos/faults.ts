// The faults of the chaos run, each as inject → (hold) → heal. What a fault breaks is real: processes are
// killed with SIGKILL, the private broker and database are stopped or crashed, the shared drive's path is
// replaced by a file (services run as root, so removing permissions would not stop them).
import { rename, rm, symlink, writeFile } from 'node:fs/promises';
import { ALL_SERVICES, type System, type SystemService } from '../support/system';
import type { SimulatorProcess } from './load';
import type { PrivateInfrastructure } from './private-infra';

export type FaultKind =
  | `kill-9 ${SystemService}`
  | 'kill-9 simulator'
  | 'rabbitmq stop+start'
  | 'rabbitmq close_all_connections'
  | 'postgresql restart -m fast'
  | 'postgresql restart -m immediate'
  | 'shared drive unavailable';

/** Every kind, in the order a round injects them. */
export const FAULT_KINDS: readonly FaultKind[] = [
  ...ALL_SERVICES.map((s) => `kill-9 ${s}` as const),
  'kill-9 simulator',
  'rabbitmq stop+start',
  'rabbitmq close_all_connections',
  'postgresql restart -m fast',
  'postgresql restart -m immediate',
  'shared drive unavailable',
];

/** What a fault may act on. */
export interface FaultTargets {
  system: System;
  infra: PrivateInfrastructure;
  /** Kills the current simulator process; starts its successor. */
  simulator: { kill(): Promise<void>; startNext(): SimulatorProcess };
  /** How long an outage (broker down, drive away) lasts. */
  holdMs: number;
  sleep(ms: number): Promise<void>;
}

/** What injecting one fault did; times in ms since the epoch, durations in ms. */
export interface FaultRun {
  kind: FaultKind;
  /** When the fault began (the dependency became unavailable). */
  injectedAt: number;
  /** When the fault was healed (the process or server was back). */
  healedAt: number;
  /** What healing took (e.g. a service's start to /readyz 200, the broker's start), if measured. */
  healMs?: number;
}

/**
 * Turns the shared drive's root into a symbolic link to the real folder, before any load: from then on the
 * drive is taken away and given back by replacing the link in one atomic rename, which no add-in writing
 * at that moment can race (a plain rename of the folder could: `mkdir -p` recreates it). Returns the
 * clean-up (the system's own clean-up removes only the link).
 */
export async function prepareSharedDrive(root: string): Promise<() => Promise<void>> {
  const paths = sharedDrivePaths(root);
  await rename(root, paths.real);
  await symlink(paths.real, root);
  await writeFile(paths.unavailable, 'the shared drive is unavailable (chaos run)\n');
  return async () => {
    await rm(paths.real, { recursive: true, force: true });
    await rm(paths.unavailable, { force: true });
  };
}

function sharedDrivePaths(root: string) {
  return { real: `${root}.real`, unavailable: `${root}.unavailable`, link: `${root}.link` };
}

/** Points the root's link at `target` atomically (a new link renamed over the old one). */
async function pointSharedDrive(root: string, target: string): Promise<void> {
  const { link } = sharedDrivePaths(root);
  await rm(link, { force: true });
  await symlink(target, link);
  await rename(link, root);
}

const serviceOf = (kind: FaultKind): SystemService | undefined =>
  ALL_SERVICES.find((s) => kind === `kill-9 ${s}`);

/** Injects `kind` and heals it; resolves once healed. */
export async function injectFault(kind: FaultKind, t: FaultTargets): Promise<FaultRun> {
  const injectedAt = Date.now();
  const done = (healMs?: number): FaultRun => ({
    kind,
    injectedAt,
    healedAt: Date.now(),
    ...(healMs !== undefined && { healMs }),
  });
  const service = serviceOf(kind);
  if (service) {
    await t.system.kill(service, 'SIGKILL');
    return done(await t.system.restart(service, { readyTimeoutMs: 90_000 }));
  }
  switch (kind) {
    case 'kill-9 simulator':
      await t.simulator.kill();
      t.simulator.startNext();
      return done();
    case 'rabbitmq stop+start':
      await t.infra.rabbit.stop();
      await t.sleep(t.holdMs);
      return done(await t.infra.rabbit.start());
    case 'rabbitmq close_all_connections':
      await t.infra.rabbit.closeAllConnections();
      return done();
    case 'postgresql restart -m fast':
      return done(await t.infra.postgres.restart('fast'));
    case 'postgresql restart -m immediate':
      return done(await t.infra.postgres.restart('immediate'));
    case 'shared drive unavailable': {
      // The mount point now leads to a file: every path below it fails with ENOTDIR, as on a dead share.
      const root = t.system.sharedDriveRoot;
      await pointSharedDrive(root, sharedDrivePaths(root).unavailable);
      try {
        await t.sleep(t.holdMs);
      } finally {
        await pointSharedDrive(root, sharedDrivePaths(root).real);
      }
      return done();
    }
    default:
      throw new Error(`unknown fault ${String(kind)}`);
  }
}
