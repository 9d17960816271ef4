#!/usr/bin/env node
// `npm run demo`: the whole flow on this machine, start to finish, in about half a minute. It starts the
// three services as separate processes (in throw-away database schemas and a private topology prefix), creates
// and approves four routings, lets simulated ESPRIT add-ins complete three and fail one, and prints what
// happened: the routings' states, each routing's history, and the alert the failure raises. Then it stops
// everything and removes what it created (`--keep` keeps the schemas, queues and shared drive to look at).

import { spawn, spawnSync, execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, openSync, readFileSync, readdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';

const root = path.join(import.meta.dirname ?? new URL('.', import.meta.url).pathname, '..');
const keep = process.argv.includes('--keep');
const SERVICES = [
  { name: 'addin-gateway', schemaEnv: 'GATEWAY_DATABASE_SCHEMA', schema: 'gateway' },
  { name: 'routing-worker', schemaEnv: 'ROUTING_DATABASE_SCHEMA', schema: 'routing' },
  { name: 'history-service', schemaEnv: 'HISTORY_DATABASE_SCHEMA', schema: 'history' },
];
const started = Date.now();
const since = (iso) => `+${((Date.parse(iso) - started) / 1000).toFixed(2).padStart(6)}s`;
const say = (line = '') => process.stdout.write(`${line}\n`);

// ── 1. builds ─────────────────────────────────────────────────────────────────────────────────────────
if (!existsSync(path.join(root, 'node_modules', '.bin', 'tsc'))) {
  say(
    'The dependencies are not installed yet: run `npm start` or `npm test` once (they install and build), then `npm run demo`.',
  );
  process.exit(1);
}
const needed = [
  'packages/db/dist/index.js',
  'packages/platform/dist/index.js',
  'packages/addin-client/dist/index.js',
  ...SERVICES.map((s) => `services/${s.name}/dist/main.js`),
];
if (needed.some((file) => !existsSync(path.join(root, file)))) {
  say('▶ building (tsc -b, Prisma clients) — the first run only');
  for (const [command, args] of [
    ['node_modules/.bin/tsc', ['-b', 'packages/db']],
    ['node', ['packages/db/dist/cli.js', 'generate']],
    ['node_modules/.bin/tsc', ['-b']],
  ]) {
    const result = spawnSync(command, args, { cwd: root, stdio: 'inherit' });
    if (result.status !== 0) {
      say(`✗ ${command} ${args.join(' ')} failed: run \`npm start\` once to see why.`);
      process.exit(1);
    }
  }
}

// The workspace packages are CommonJS builds with their own dependencies: load each from where it lives.
const load = (pkg) =>
  createRequire(path.join(root, pkg, 'package.json'))(path.join(root, pkg, 'dist', 'index.js'));
const db = load('packages/db');
const platform = load('packages/platform');
const addin = load('packages/addin-client');
const amqp = createRequire(path.join(root, 'packages/messaging/package.json'))('amqplib');
const pg = createRequire(path.join(root, 'packages/db/package.json'))('pg');

const amqpUrl = process.env.AMQP_URL || 'amqp://guest:guest@127.0.0.1:5672';
const databaseUrl = process.env.DATABASE_URL || db.DEFAULT_DATABASE_URL;
const id = randomBytes(3).toString('hex');
const prefix = `demo-${id}.`;
const work = mkdtempSync(path.join(os.tmpdir(), 'mcms-demo-'));
const sharedDriveRoot = path.join(work, 'shared-drive');
const addinKey = `mcms_ak_demo_${randomBytes(18).toString('base64url')}`;
const schemas = Object.fromEntries(SERVICES.map((s) => [s.name, `demo_${id}_${s.schema}`]));
const children = [];
let alertConnection;

function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

async function waitFor(probe, what, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

async function stopAll() {
  await Promise.all(
    children.map(
      ({ child }) =>
        new Promise((resolve) => {
          if (child.exitCode !== null || child.signalCode !== null) return resolve();
          child.once('exit', resolve);
          child.kill('SIGTERM');
        }),
    ),
  );
  await alertConnection?.close().catch(() => {});
  if (keep) {
    say(`\nKept: schemas ${Object.values(schemas).join(', ')}; topology prefix ${prefix}; files in ${work}`);
    return;
  }
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  for (const schema of Object.values(schemas))
    await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  await client.end();
  await deleteBrokerObjects();
  rmSync(work, { recursive: true, force: true });
}

async function deleteBrokerObjects() {
  let names = { queues: [], exchanges: [] };
  try {
    for (const kind of ['queues', 'exchanges']) {
      const out = execFileSync('rabbitmqctl', [`list_${kind}`, '-q', 'name', '--formatter', 'json'], {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'ignore'],
      });
      names[kind] = JSON.parse(out)
        .map((row) => row.name)
        .filter((name) => name.startsWith(prefix));
    }
  } catch {
    names = { queues: [], exchanges: [`${prefix}mcms.commands`, `${prefix}mcms.events`] }; // no rabbitmqctl here: the exchanges at least
  }
  const connection = await amqp.connect(amqpUrl);
  connection.on('error', () => {});
  for (const [kind, list] of Object.entries(names)) {
    for (const name of list) {
      const channel = await connection.createChannel();
      channel.on('error', () => {});
      await (kind === 'queues' ? channel.deleteQueue(name) : channel.deleteExchange(name)).catch(() => {});
      await channel.close().catch(() => {});
    }
  }
  await connection.close();
}

function tail(file, lines = 25) {
  try {
    return readFileSync(file, 'utf8').trim().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no output)';
  }
}

async function main() {
  // ── 2. database schemas and services ───────────────────────────────────────────────────────────────
  say(
    `MCMS demo ${id}: services in schemas ${Object.values(schemas).join(', ')}, topology prefix "${prefix}"`,
  );
  say(`shared drive: ${sharedDriveRoot}\n`);
  for (const service of SERVICES) {
    await db.applyMigrations({
      databaseUrl,
      schema: schemas[service.name],
      migrationsDir: db.servicePrismaPaths(service.name, root).migrationsDir,
    });
  }
  const urls = {};
  for (const service of SERVICES) {
    const port = await freePort();
    urls[service.name] = `http://127.0.0.1:${port}`;
    const logFile = path.join(work, `${service.name}.log`);
    const out = openSync(logFile, 'a');
    const child = spawn(process.execPath, [path.join(root, 'services', service.name, 'dist', 'main.js')], {
      cwd: root,
      stdio: ['ignore', out, out],
      env: {
        ...process.env,
        NODE_ENV: 'development',
        LOG_LEVEL: process.env.LOG_LEVEL || 'info',
        PORT: String(port),
        AMQP_URL: amqpUrl,
        DATABASE_URL: databaseUrl,
        ...Object.fromEntries(SERVICES.map((s) => [s.schemaEnv, schemas[s.name]])),
        MCMS_TOPOLOGY_PREFIX: prefix,
        MCMS_QUEUE_TYPE: 'classic',
        SHARED_DRIVE_ROOT: sharedDriveRoot,
        ADDIN_BOOTSTRAP_KEY: addinKey,
      },
    });
    children.push({ name: service.name, child, logFile });
  }
  for (const { name, child, logFile } of children) {
    await waitFor(async () => {
      if (child.exitCode !== null)
        throw Object.assign(new Error(`${name} exited (${child.exitCode})`), { fatal: true });
      return (await fetch(`${urls[name]}/readyz`)).status === 200;
    }, `${name} to be ready`).catch((err) => {
      throw new Error(`${name} did not start: ${err.message}\n${tail(logFile)}`);
    });
    say(`✓ ${name.padEnd(16)} ${urls[name]}   (log: ${logFile})`);
  }

  // The notification-service (next issue) will alert on routing.generation.failed: listen where it will.
  alertConnection = await amqp.connect(amqpUrl);
  const channel = await alertConnection.createChannel();
  const { queue } = await channel.assertQueue('', { exclusive: true });
  await channel.bindQueue(queue, `${prefix}mcms.events`, 'routing.generation.*');
  const generationEvents = [];
  await channel.consume(
    queue,
    (message) => message && generationEvents.push(JSON.parse(message.content.toString())),
    { noAck: true },
  );

  // ── 3. routings: create, request approval, approve ───────────────────────────────────────────────────
  const jwt = platform.createJwtAuth({ secret: platform.DEV_JWT_SECRET });
  const as = (sub, role) => ({
    authorization: `Bearer ${jwt.sign({ sub, roles: [role] })}`,
    'content-type': 'application/json',
  });
  const editor = as('erin.editor', 'editor');
  const approver = as('alex.approver', 'approver');
  const viewer = as('vic.viewer', 'viewer');
  const call = async (service, method, urlPath, headers, body) => {
    const response = await fetch(`${urls[service]}${urlPath}`, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    if (!response.ok) throw new Error(`${method} ${urlPath} → ${response.status} ${text}`);
    return text ? JSON.parse(text) : undefined;
  };

  const suffix = id.toUpperCase();
  const plans = [
    { routingCode: `GT31-${suffix}-1`, itemCode: 'BRACKET-100', revisionCode: 'C' },
    { routingCode: `GT31-${suffix}-2`, itemCode: 'HOUSING-220', revisionCode: 'A' },
    { routingCode: `GT31-${suffix}-3`, itemCode: 'SHAFT-045', revisionCode: 'B' },
    { routingCode: `GT31-${suffix}-4`, itemCode: 'FLANGE-310', revisionCode: 'D' },
  ];
  say('\n▶ an editor creates four routings and asks for approval; an approver approves them');
  const routings = [];
  for (const plan of plans) {
    const routing = await call('routing-worker', 'POST', '/api/routings', editor, plan);
    await call('routing-worker', 'POST', `/api/routings/${routing.id}/request-approval`, editor, {
      comment: 'ready for review',
    });
    const approved = await call('routing-worker', 'POST', `/api/routings/${routing.id}/approve`, approver, {
      comment: 'approved for production',
    });
    routings.push(approved);
    say(
      `  ${approved.routingCode}  ${approved.status}, generation ${approved.lastGenerationStatus}, job ${approved.lastAddinJobId.slice(0, 8)}`,
    );
  }

  // ── 4. simulated add-ins: three jobs succeed, the third job taken fails ────────────────────────────
  say('\n▶ two simulated ESPRIT add-ins take the jobs (the third one taken fails)');
  let draws = 0;
  const summary = await addin.runSimulator({
    createClient: (deviceId) =>
      addin.createAddinClient({ baseUrl: urls['addin-gateway'], key: addinKey, deviceId }),
    sharedDriveRoot,
    devices: 2,
    devicePrefix: 'CAM-WS-',
    mix: { success: 3, failure: 1 },
    random: () => (++draws === 3 ? 0.99 : 0.1),
    thinkMs: 600, // fixed, so random() draws only outcomes: the third job taken is the one that fails
    maxJobs: plans.length,
    waitSeconds: 10,
    durationMs: 60_000,
    onEvent: (event) => {
      if (event.type === 'taken')
        say(
          `  [${event.deviceId}] took ${event.routingCode} → ${event.outcome === 'failure' ? 'ESPRIT fails' : 'runs ESPRIT'}`,
        );
      if (event.type === 'completed')
        say(
          `  [${event.deviceId}] reported ${event.resultStatus} for job ${event.jobId.slice(0, 8)} (${event.latencyMs.toFixed(0)} ms)`,
        );
      if (event.type === 'error') say(`  [${event.deviceId}] error: ${event.message}`);
    },
  });

  const final = await waitFor(async () => {
    const all = await Promise.all(
      routings.map((r) => call('routing-worker', 'GET', `/api/routings/${r.id}`, viewer)),
    );
    return all.every((r) => r.lastGenerationStatus === 'Completed' || r.lastGenerationStatus === 'Failed')
      ? all
      : undefined;
  }, 'every generation to finish');
  const histories = await waitFor(async () => {
    const all = await Promise.all(
      routings.map((r) => call('history-service', 'GET', `/api/routings/${r.id}/history`, viewer)),
    );
    const done = all.every((entries) =>
      entries.some((e) => e.changeType === 'AddinJobCompleted' || e.changeType === 'AddinJobFailed'),
    );
    return done ? all : undefined;
  }, 'the history of every routing');
  await waitFor(async () => generationEvents.length >= plans.length, 'the generation events');

  // ── 5. the timeline ──────────────────────────────────────────────────────────────────────────────────
  say('\n════ routings ════');
  say(
    `  ${'routing'.padEnd(18)} ${'status'.padEnd(9)} ${'CAM rev'.padEnd(8)} ${'generation'.padEnd(10)} message`,
  );
  for (const r of final) {
    say(
      `  ${r.routingCode.padEnd(18)} ${r.status.padEnd(9)} ${r.camRevision.padEnd(8)} ${r.lastGenerationStatus.padEnd(10)} ${r.lastGenerationMessage ?? ''}`,
    );
  }
  say('\n════ history (time since the demo started) ════');
  for (const [i, entries] of histories.entries()) {
    say(`  ${final[i].routingCode} (${final[i].itemCode} rev ${final[i].revisionCode})`);
    for (const e of entries) {
      const change = e.field ? ` ${e.field}: ${e.previousValue ?? '∅'} → ${e.currentValue ?? '∅'}` : '';
      const comment = e.comment ? `  “${e.comment}”` : '';
      say(
        `    ${since(e.createdAt)}  ${e.changeType.padEnd(18)} ${(e.outcome ?? '').padEnd(9)} by ${e.createdBy}${change}${comment}`,
      );
    }
  }
  say('\n════ alerts (routing.generation.failed: what the notification-service will push to the UI) ════');
  const failures = generationEvents.filter((e) => e.type === 'routing.generation.failed');
  for (const event of failures) {
    const p = event.payload;
    say(
      `  ⚠ ${since(event.occurredAt)}  CAM generation FAILED for routing ${p.routingCode} (job ${p.jobId.slice(0, 8)}): ${p.message}`,
    );
    say(`     event ${event.messageId}, correlation ${event.correlationId}`);
  }
  if (failures.length === 0) say('  (none)');
  const ok = final.find((r) => r.lastGenerationStatus === 'Completed');
  if (ok) {
    const folder = path.join(sharedDriveRoot, ok.itemCode, ok.revisionCode, 'Routings', ok.routingCode);
    say(`\n════ shared drive: ${path.relative(sharedDriveRoot, folder)} ════`);
    for (const file of readdirSync(folder).sort()) say(`  ${file}`);
    const meta = JSON.parse(readFileSync(path.join(folder, 'meta.json'), 'utf8'));
    say(
      `  meta.json: CAM revision ${meta.camRevision}, job ${String(meta.jobId).slice(0, 8)}, ${meta.files.length} files with SHA-256`,
    );
  }
  const l = summary.completeLatencyMs;
  say(
    `\nsimulator: ${summary.taken} jobs taken, ${summary.reported.completed} completed, ${summary.reported.failed} failed; /complete p50 ${l.p50?.toFixed(1)} ms, max ${l.max?.toFixed(1)} ms`,
  );
  return failures.length === 1 && final.filter((r) => r.lastGenerationStatus === 'Completed').length === 3;
}

let exitCode = 0;
process.on('SIGINT', () => {
  say('\ninterrupted: stopping the services');
  stopAll().finally(() => process.exit(130));
});
try {
  const asExpected = await main();
  if (!asExpected) {
    say('\n✗ the demo did not end as expected (3 completed, 1 failed alert); the services printed:');
    for (const { name, logFile } of children) say(`──── ${name} ────\n${tail(logFile)}`);
    exitCode = 1;
  }
} catch (err) {
  say(`\n✗ demo failed: ${err instanceof Error ? err.message : String(err)}`);
  for (const { name, logFile } of children) say(`──── ${name} ────\n${tail(logFile)}`);
  exitCode = 1;
} finally {
  await stopAll().catch((err) => say(`cleanup failed: ${err.message}`));
  say(`\ndone in ${((Date.now() - started) / 1000).toFixed(1)} s`);
}
process.exit(exitCode);
