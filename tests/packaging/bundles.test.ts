// The CI proof of the images without a Docker engine: build each production bundle with the script the
// Dockerfiles run, then — from the bundle directory, outside the workspace — run the migration command
// deploy/compose.yaml names, start the Dockerfile's CMD with production settings, probe it with the
// Dockerfile's HEALTHCHECK, and stop it with SIGTERM as Docker does.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, lstatSync, readdirSync, readlinkSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { EXCHANGES } from '@mcms/contracts';
import { SERVICE_DATABASES } from '@mcms/db';
import { connect as amqpConnect } from 'amqplib';
import pg from 'pg';
import { DEFAULT_AMQP_URL, DEFAULT_DATABASE_URL } from '../support/infrastructure';
import {
  execForm,
  healthcheckCommand,
  instructionsOf,
  lastStage,
  readCompose,
  SERVICES,
  WORKSPACE_ROOT,
  type Service,
} from './support';

const run = promisify(execFile);
const amqpUrl = process.env.AMQP_URL || DEFAULT_AMQP_URL;
const databaseUrl = process.env.DATABASE_URL || DEFAULT_DATABASE_URL;
const id = randomBytes(4).toString('hex');
const prefix = `pkg-${id}.`;
// A production secret: 40 characters, not the development one.
const JWT_SECRET = `packaging-test-${randomBytes(24).toString('base64url')}`.slice(0, 40);
// Prisma's client and schema engine too: no service builds a Prisma client at run time (decision 0015) and the
// migrations are applied with node-postgres; the two were ~76 MB of a ~95 MB bundle.
const DEV_ONLY =
  /^(jest|@jest|typescript|@swc|prisma@|@prisma\+(studio|client@|schema-engine-wasm)|eslint|prettier|@types\+jest|playwright)/;

let outDir: string;
let sharedDrive: string;
const schemas: string[] = [];

function bundleOf(name: string): string {
  return path.join(outDir, name);
}

function envPrefix(service: Service): string {
  return SERVICE_DATABASES[service].toUpperCase();
}

/** Only what a container would have: nothing of the workspace or the developer's environment. */
function containerEnv(service: Service, port: number): NodeJS.ProcessEnv {
  const schema = `pkg_${id}_${SERVICE_DATABASES[service]}`;
  return {
    PATH: process.env.PATH,
    NODE_ENV: 'production',
    PORT: String(port),
    LOG_LEVEL: 'warn',
    AMQP_URL: amqpUrl,
    DATABASE_URL: databaseUrl,
    [`${envPrefix(service)}_DATABASE_SCHEMA`]: schema,
    MCMS_JWT_SECRET: JWT_SECRET,
    MCMS_TOPOLOGY_PREFIX: prefix,
    // Quorum queues cost a Raft group each: too slow to create per test run (compose and Kubernetes use quorum).
    MCMS_QUEUE_TYPE: 'classic',
    SHARED_DRIVE_ROOT: sharedDrive,
  };
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

/** Every symlink under `dir` (pnpm's node_modules are made of them). */
function symlinksUnder(dir: string): string[] {
  const found: string[] = [];
  const stack = [dir];
  while (stack.length > 0) {
    const current = stack.pop()!;
    for (const entry of readdirSync(current, { withFileTypes: true })) {
      const full = path.join(current, entry.name);
      if (entry.isSymbolicLink()) found.push(full);
      else if (entry.isDirectory()) stack.push(full);
    }
  }
  return found;
}

const BUILD_ONLY = ['test', 'tsconfig.json', 'tsconfig.tsbuildinfo', 'prisma.config.ts', 'schema.prisma'];

/** The @mcms/* packages deployed into a bundle's virtual store. */
function workspacePackagesIn(bundle: string): string[] {
  const store = path.join(bundle, 'node_modules', '.pnpm');
  return readdirSync(store)
    .filter((id) => id.startsWith('@mcms+'))
    .map((id) => path.join(store, id, 'node_modules', '@mcms', id.slice('@mcms+'.length).split('@')[0]!));
}

interface Started {
  child: ChildProcess;
  output: string[];
  exited: Promise<number | null>;
}

function start(command: string[], cwd: string, env: NodeJS.ProcessEnv): Started {
  const [file, ...args] = command;
  const child = spawn(file!, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
  const output: string[] = [];
  child.stdout!.on('data', (chunk: Buffer) => output.push(chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => output.push(chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, output, exited };
}

/** Polls `/readyz` until 200; fails at once, with the output, if the process exits first. */
async function waitUntilReady(port: number, started: Started, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let exitCode: number | null | undefined;
  void started.exited.then((code) => (exitCode = code));
  for (;;) {
    if (exitCode !== undefined)
      throw new Error(`exited with ${exitCode} before it was ready:\n${started.output.join('')}`);
    const status = await fetch(`http://127.0.0.1:${port}/readyz`).then(
      (response) => response.status,
      () => 0,
    );
    if (status === 200) return;
    if (Date.now() > deadline)
      throw new Error(`/readyz not 200 after ${timeoutMs} ms (last ${status}):\n${started.output.join('')}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

async function deleteBrokerObjects(): Promise<void> {
  // AMQP can't list queues: the names come from rabbitmqctl when there is one, else the known ones.
  let queues: string[];
  try {
    const { stdout } = await run('rabbitmqctl', ['list_queues', '-q', 'name', '--formatter', 'json'], {
      timeout: 15_000,
    });
    queues = (JSON.parse(stdout) as Array<{ name: string }>)
      .map((q) => q.name)
      .filter((n) => n.startsWith(prefix));
  } catch {
    queues = [
      'addin-gateway.esprit-generation',
      'routing-worker.addin-job-results',
      'routing-worker.job-progress',
      'history-service.events',
      'notification-service.alerts',
    ].flatMap((q) => [`${prefix}${q}`, `${prefix}${q}.dlq`]);
  }
  const connection = await amqpConnect(amqpUrl);
  connection.on('error', () => {});
  try {
    for (const [kind, names] of [
      ['queue', queues],
      ['exchange', Object.values(EXCHANGES).map((e) => `${prefix}${e}`)],
    ] as const) {
      for (const name of names) {
        // A failed delete closes its channel, so each gets its own.
        const channel = await connection.createChannel();
        channel.on('error', () => {});
        await (kind === 'queue' ? channel.deleteQueue(name) : channel.deleteExchange(name)).catch(() => {});
        await channel.close().catch(() => {});
      }
    }
  } finally {
    await connection.close().catch(() => {});
  }
}

beforeAll(async () => {
  for (const [dir, entry] of [
    ...SERVICES.map((s) => [`services/${s}`, 'dist/main.js']),
    ['packages/addin-client', 'dist/cli/simulate.js'],
  ]) {
    if (!existsSync(path.join(WORKSPACE_ROOT, dir!, entry!)))
      throw new Error(
        `${dir}/${entry} missing: the bundles copy the build. Run \`node packages/db/dist/cli.js generate && npx tsc -b\` (npm test does).`,
      );
  }
  // Under the OS temp dir, away from the workspace: a bundle that still needed the workspace's
  // node_modules could not find them from there.
  outDir = await mkdtemp(path.join(os.tmpdir(), 'mcms-bundles-'));
  sharedDrive = await mkdtemp(path.join(os.tmpdir(), 'mcms-bundles-drive-'));
  await run(
    process.execPath,
    [path.join(WORKSPACE_ROOT, 'scripts', 'bundle.mjs'), '--out', outDir, ...SERVICES, 'addin-client'],
    {
      cwd: WORKSPACE_ROOT,
      timeout: 120_000,
    },
  );
}, 150_000);

afterAll(async () => {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    for (const schema of schemas) await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  } finally {
    await client.end();
  }
  await deleteBrokerObjects();
  if (outDir) await rm(outDir, { recursive: true, force: true });
  if (sharedDrive) await rm(sharedDrive, { recursive: true, force: true });
}, 60_000);

describe('the production bundles', () => {
  it.each([...SERVICES, 'addin-client'])(
    '%s holds production dependencies only, all inside the bundle',
    (name) => {
      const bundle = bundleOf(name);
      const installed = readdirSync(path.join(bundle, 'node_modules', '.pnpm'));
      const escaping = symlinksUnder(path.join(bundle, 'node_modules'))
        .map((link) => path.resolve(path.dirname(link), readlinkSync(link)))
        .filter((target) => !target.startsWith(bundle + path.sep));

      expect(installed.filter((id) => DEV_ONLY.test(id))).toEqual([]);
      expect(installed.length).toBeGreaterThan(1);
      expect(escaping).toEqual([]);
      // Each package's `files` only: no sources, tests or build settings, in the bundle or its workspace packages.
      for (const dir of [bundle, ...workspacePackagesIn(bundle)])
        expect({ dir, extra: readdirSync(dir).filter((entry) => BUILD_ONLY.includes(entry)) }).toEqual({
          dir,
          extra: [],
        });
      expect(lstatSync(path.join(bundle, 'dist')).isDirectory()).toBe(true);
    },
  );

  it.each(SERVICES)(
    '%s migrates, starts, is healthy and ready, serves its OpenAPI document and exits 0 on SIGTERM, all from its bundle',
    async (service) => {
      const bundle = bundleOf(service);
      const port = await freePort();
      const env = containerEnv(service, port);
      schemas.push(env[`${envPrefix(service)}_DATABASE_SCHEMA`]!);
      const migrate = readCompose().services[`migrate-${service}`]!.command!;
      const runtime = lastStage(service);
      const [cmd] = instructionsOf(runtime, 'CMD');
      const [healthcheck] = instructionsOf(runtime, 'HEALTHCHECK');

      const migrated = await run(migrate[0]!, migrate.slice(1), { cwd: bundle, env, timeout: 30_000 });
      expect(migrated.stdout).toMatch(
        new RegExp(
          `^${service} \\(schema ${env[`${envPrefix(service)}_DATABASE_SCHEMA`]}\\): applied \\d{14}_`,
        ),
      );

      const started = start(execForm(cmd!.args)!, bundle, env);
      try {
        await waitUntilReady(port, started);
        const probe = healthcheckCommand(healthcheck!.args)!;
        await expect(
          run(probe[0]!, probe.slice(1), { cwd: bundle, env, timeout: 10_000 }),
        ).resolves.toBeDefined();
        const openapi = (await (await fetch(`http://127.0.0.1:${port}/openapi.json`)).json()) as {
          openapi: string;
          info: { title: string };
          paths: Record<string, unknown>;
        };
        expect(openapi.openapi).toMatch(/^3\./);
        expect(openapi.info.title).toContain(service);
        expect(Object.keys(openapi.paths).length).toBeGreaterThan(0);
        if (service === 'notification-service') {
          // The operator page is read from the bundle's src/ui at start.
          const page = await fetch(`http://127.0.0.1:${port}/`);
          expect(page.status).toBe(200);
          expect(page.headers.get('content-type')).toMatch(/^text\/html/);
          expect((await fetch(`http://127.0.0.1:${port}/ui/app.js`)).status).toBe(200);
        }
      } finally {
        started.child.kill('SIGTERM');
      }
      await expect(started.exited).resolves.toBe(0);
    },
    60_000,
  );

  it('runs the add-in simulator from its bundle', async () => {
    const { stdout } = await run(process.execPath, ['dist/cli/simulate.js', '--help'], {
      cwd: bundleOf('addin-client'),
      env: { PATH: process.env.PATH, NODE_ENV: 'production' },
    });

    expect(stdout).toContain('--devices');
  });
});
