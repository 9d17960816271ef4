// A RabbitMQ node and a PostgreSQL cluster of the chaos run's own, started from the Debian binaries on
// free ports in a temporary directory, so the run can stop, restart and kill them without touching the
// shared ones that parallel test runs use (docs/decisions/0008-fault-injection-on-private-infrastructure.md).
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, chownSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { connect as amqpConnect } from 'amqplib';
import pg from 'pg';
import { freePort, waitFor } from '../support/system';

const run = promisify(execFile);

const PG_BIN = process.env.MCMS_CHAOS_PG_BIN ?? '/usr/lib/postgresql/15/bin';
const RABBITMQ_SERVER = '/usr/sbin/rabbitmq-server';
const RABBITMQCTL = '/usr/sbin/rabbitmqctl';
const START_TIMEOUT_MS = 90_000;

/** How long each start, stop and restart of the private infrastructure took, in milliseconds. */
export interface InfraTimings {
  rabbitStartMs: number[];
  rabbitStopMs: number[];
  postgresInitMs: number;
  postgresStartMs: number[];
  postgresStopMs: number[];
  postgresRestartMs: { fast: number[]; immediate: number[] };
}

/** The private RabbitMQ node. */
export interface PrivateRabbit {
  readonly url: string;
  readonly node: string;
  /** Starts the node (again) and resolves once it accepts AMQP connections; returns the milliseconds. */
  start(): Promise<number>;
  /** Stops the node (`rabbitmqctl stop`, messages on disk are kept); returns the milliseconds. */
  stop(): Promise<number>;
  /** Closes every client connection (`rabbitmqctl close_all_connections`). */
  closeAllConnections(): Promise<void>;
}

/** The private PostgreSQL cluster. */
export interface PrivatePostgres {
  readonly url: string;
  readonly dataDir: string;
  start(): Promise<number>;
  stop(mode?: 'fast' | 'immediate'): Promise<number>;
  /** `pg_ctl restart -m fast|immediate` (immediate = crash recovery at start); returns the milliseconds. */
  restart(mode: 'fast' | 'immediate'): Promise<number>;
}

/** Both, with their timings and one way to get rid of them. */
export interface PrivateInfrastructure {
  readonly dir: string;
  readonly rabbit: PrivateRabbit;
  readonly postgres: PrivatePostgres;
  readonly timings: InfraTimings;
  /** Stops both (killing what does not stop) and removes the directory; safe to call twice. */
  dispose(): Promise<void>;
}

function uidOf(user: string): { uid: number; gid: number } {
  const line = readFileSync('/etc/passwd', 'utf8')
    .split('\n')
    .find((l) => l.startsWith(`${user}:`));
  if (!line) throw new Error(`no user ${user}: is the Debian package installed?`);
  const [, , uid, gid] = line.split(':');
  return { uid: Number(uid), gid: Number(gid) };
}

/** A directory owned by `user` (the RabbitMQ and PostgreSQL servers refuse to run as root). */
function ownedDir(dir: string, user: string): string {
  mkdirSync(dir, { recursive: true });
  const { uid, gid } = uidOf(user);
  chownSync(dir, uid, gid);
  return dir;
}

async function timed(work: () => Promise<unknown>): Promise<number> {
  const started = performance.now();
  await work();
  return Math.round(performance.now() - started);
}

async function amqpAnswers(url: string): Promise<boolean> {
  try {
    const connection = await amqpConnect(url, { timeout: 2_000 });
    connection.on('error', () => {});
    await connection.close().catch(() => {});
    return true;
  } catch {
    return false;
  }
}

async function postgresAnswers(url: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2_000 });
  client.on('error', () => {});
  try {
    await client.connect();
    await client.query('SELECT 1');
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => {});
  }
}

function createRabbit(
  dir: string,
  port: number,
  distPort: number,
  timings: InfraTimings,
): PrivateRabbit & { kill(): void } {
  const base = ownedDir(path.join(dir, 'rabbitmq'), 'rabbitmq');
  const node = `mcms-chaos-${randomBytes(3).toString('hex')}@localhost`;
  const files = {
    // Only the AMQP listener: no plugins (so no management port that would clash with the shared node).
    plugins: path.join(base, 'enabled_plugins'),
    // Our own, so the system's /etc/rabbitmq (which names port 5672 and the node rabbit@localhost) is not read.
    config: path.join(base, 'rabbitmq.conf'),
    envConf: path.join(base, 'rabbitmq-env.conf'),
    pid: path.join(base, 'rabbitmq.pid'),
  };
  writeFileSync(files.plugins, '[].\n');
  writeFileSync(files.config, `listeners.tcp.local = 127.0.0.1:${port}\nloopback_users = none\n`);
  writeFileSync(files.envConf, '');
  const { uid, gid } = uidOf('rabbitmq');
  for (const file of [files.plugins, files.config, files.envConf]) chownSync(file, uid, gid);

  // The Debian wrappers switch to the rabbitmq user (its Erlang cookie) and keep this environment.
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    RABBITMQ_NODENAME: node,
    RABBITMQ_NODE_IP_ADDRESS: '127.0.0.1',
    RABBITMQ_NODE_PORT: String(port),
    RABBITMQ_DIST_PORT: String(distPort),
    RABBITMQ_MNESIA_BASE: path.join(base, 'mnesia'),
    RABBITMQ_LOG_BASE: path.join(base, 'log'),
    RABBITMQ_ENABLED_PLUGINS_FILE: files.plugins,
    RABBITMQ_CONFIG_FILE: files.config,
    RABBITMQ_CONF_ENV_FILE: files.envConf,
    RABBITMQ_PID_FILE: files.pid,
    RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS: '-kernel inet_dist_use_interface {127,0,0,1}',
    ERL_EPMD_ADDRESS: '127.0.0.1',
  };
  const url = `amqp://guest:guest@127.0.0.1:${port}`;
  const ctl = (...args: string[]) => run(RABBITMQCTL, ['-n', node, ...args], { env, timeout: 60_000 });

  const rabbit = {
    url,
    node,
    async start() {
      const ms = await timed(async () => {
        await run(RABBITMQ_SERVER, ['-detached'], { env, timeout: 30_000 });
        await waitFor(() => amqpAnswers(url), {
          timeoutMs: START_TIMEOUT_MS,
          intervalMs: 100,
          what: `the private RabbitMQ node ${node} to accept connections`,
        });
      });
      timings.rabbitStartMs.push(ms);
      return ms;
    },
    async stop() {
      const ms = await timed(async () => {
        await ctl('stop');
        await waitFor(async () => !(await amqpAnswers(url)), {
          timeoutMs: 30_000,
          intervalMs: 100,
          what: `the private RabbitMQ node ${node} to stop`,
        });
      });
      timings.rabbitStopMs.push(ms);
      return ms;
    },
    async closeAllConnections() {
      await ctl('close_all_connections', 'chaos: close_all_connections');
    },
    kill() {
      killPidFile(files.pid, 'SIGKILL');
    },
  };
  return rabbit;
}

function killPidFile(file: string, signal: NodeJS.Signals): void {
  if (!existsSync(file)) return;
  const pid = Number(readFileSync(file, 'utf8').split('\n')[0]);
  if (!Number.isInteger(pid) || pid <= 1) return;
  try {
    process.kill(pid, signal);
  } catch {
    // Already gone.
  }
}

function createPostgres(
  dir: string,
  port: number,
  timings: InfraTimings,
): PrivatePostgres & { init(): Promise<void>; kill(): void } {
  const base = ownedDir(path.join(dir, 'postgresql'), 'postgres');
  const dataDir = path.join(base, 'data');
  const logFile = path.join(base, 'postgresql.log');
  const asPostgres = (command: string, args: string[]) =>
    run('runuser', ['-u', 'postgres', '--', path.join(PG_BIN, command), ...args], { timeout: 120_000 });
  const serverOptions = `-p ${port} -k ${base} -c listen_addresses=127.0.0.1 -c max_connections=300`;
  const pgCtl = (...args: string[]) =>
    asPostgres('pg_ctl', ['-D', dataDir, '-l', logFile, '-o', serverOptions, '-w', '-t', '90', ...args]);
  const url = `postgresql://postgres@127.0.0.1:${port}/postgres`;
  const ready = () =>
    waitFor(() => postgresAnswers(url), {
      timeoutMs: START_TIMEOUT_MS,
      intervalMs: 100,
      what: 'the private PostgreSQL to accept connections',
    });

  const postgres = {
    url,
    dataDir,
    async init() {
      timings.postgresInitMs = await timed(() =>
        asPostgres('initdb', ['-D', dataDir, '-A', 'trust', '-U', 'postgres', '--no-sync']),
      );
    },
    async start() {
      const ms = await timed(async () => {
        await pgCtl('start');
        await ready();
      });
      timings.postgresStartMs.push(ms);
      return ms;
    },
    async stop(mode: 'fast' | 'immediate' = 'fast') {
      const ms = await timed(() => pgCtl('stop', '-m', mode));
      timings.postgresStopMs.push(ms);
      return ms;
    },
    async restart(mode: 'fast' | 'immediate') {
      const ms = await timed(async () => {
        await pgCtl('restart', '-m', mode);
        await ready();
      });
      timings.postgresRestartMs[mode].push(ms);
      return ms;
    },
    kill() {
      // SIGQUIT is PostgreSQL's immediate shutdown: the postmaster takes its backends with it.
      killPidFile(path.join(dataDir, 'postmaster.pid'), 'SIGQUIT');
    },
  };
  return postgres;
}

const live = new Set<() => void>();
let exitHookInstalled = false;

// Whatever happens to the run (an exception, Ctrl-C, a Jest worker torn down), no private server may
// outlive it: the last resort is synchronous, so it works in an `exit` handler too.
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const kill of live) kill();
  });
}

/**
 * Starts a private RabbitMQ node and PostgreSQL cluster (PostgreSQL initialised once per run) in a new
 * temporary directory. Needs root (the servers run as their Debian users).
 */
export async function startPrivateInfrastructure(): Promise<PrivateInfrastructure> {
  if (process.getuid?.() !== 0) {
    throw new Error(
      'the chaos run starts its own RabbitMQ and PostgreSQL as their system users: run it as root',
    );
  }
  const dir = await mkdtemp(path.join(os.tmpdir(), 'mcms-chaos-infra-'));
  // The servers run as their own users: they must reach their directories below this one.
  chmodSync(dir, 0o755);
  const timings: InfraTimings = {
    rabbitStartMs: [],
    rabbitStopMs: [],
    postgresInitMs: 0,
    postgresStartMs: [],
    postgresStopMs: [],
    postgresRestartMs: { fast: [], immediate: [] },
  };
  const [amqpPort, distPort, postgresPort] = [await freePort(), await freePort(), await freePort()];
  const rabbit = createRabbit(dir, amqpPort, distPort, timings);
  const postgres = createPostgres(dir, postgresPort, timings);
  installExitHook();
  const killAll = () => {
    rabbit.kill();
    postgres.kill();
  };
  live.add(killAll);
  let disposed = false;
  const dispose = async (): Promise<void> => {
    if (disposed) return;
    disposed = true;
    await Promise.all([
      rabbit.stop().catch(() => rabbit.kill()),
      postgres.stop('immediate').catch(() => postgres.kill()),
    ]);
    killAll(); // anything that ignored the stop
    live.delete(killAll);
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await Promise.all([rabbit.start(), postgres.init().then(() => postgres.start())]);
  } catch (err) {
    await dispose(); // what did start must not be left behind
    throw err;
  }
  return { dir, rabbit, postgres, timings, dispose };
}

/** Kills every private server still running, synchronously (for signal handlers). */
export function killPrivateInfrastructureNow(): void {
  for (const kill of live) kill();
  live.clear();
}
