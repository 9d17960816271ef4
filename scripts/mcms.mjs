#!/usr/bin/env node
// The README's two commands, `npm start` and `npm test`, on a machine that has only Node and npm:
// each step below is what a new engineer would otherwise have to know to type.
import { spawnSync, spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const root = join(import.meta.dirname ?? new URL('.', import.meta.url).pathname, '..');
const { packageManager } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const pnpmVersion = packageManager.replace(/^pnpm@/, '');

function pnpmCommand() {
  const local = spawnSync('pnpm', ['--version'], { encoding: 'utf8' });
  if (local.status === 0 && local.stdout.trim() === pnpmVersion) return ['pnpm'];
  // No pnpm (or another version): npx fetches the pinned one from the npm registry, nothing else.
  return ['npx', '--yes', `pnpm@${pnpmVersion}`];
}

function step(title, command, args, options = {}) {
  const started = Date.now();
  process.stdout.write(`\n▶ ${title}\n`);
  const result = spawnSync(command, args, { cwd: root, stdio: 'inherit', ...options });
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  if (result.status !== 0) {
    process.stderr.write(`✗ ${title} failed after ${seconds}s (exit ${result.status ?? result.signal})\n`);
    process.exit(result.status ?? 1);
  }
  process.stdout.write(`✓ ${title} (${seconds}s)\n`);
}

function prepare() {
  const [pnpm, ...pnpmArgs] = pnpmCommand();
  step('install dependencies (frozen lock file)', pnpm, [...pnpmArgs, 'install', '--frozen-lockfile']);
  step('build the database tooling', 'node_modules/.bin/tsc', ['-b', 'packages/db']);
  step('generate Prisma clients (offline)', 'node', ['packages/db/dist/cli.js', 'generate']);
  step('type-check and build everything (tsc -b)', 'node_modules/.bin/tsc', ['-b']);
}

function services() {
  return readdirSync(join(root, 'services')).filter((name) =>
    existsSync(join(root, 'services', name, 'dist', 'main.js')),
  );
}

const command = process.argv[2];
if (command === 'test') {
  prepare();
  step('lint (eslint)', 'node_modules/.bin/eslint', ['.']);
  step('format check (prettier)', 'node_modules/.bin/prettier', ['--check', '.', '--log-level', 'warn']);
  step('generated AsyncAPI/OpenAPI documents are up to date', 'node', [
    'packages/contracts/dist/scripts/write-docs.js',
    '--check',
  ]);
  step('tests (jest: unit, component, end-to-end)', 'node_modules/.bin/jest', [
    '--ci',
    ...process.argv.slice(3),
  ]);
} else if (command === 'start') {
  prepare();
  step('apply database migrations', 'node', ['packages/db/dist/cli.js', 'migrate']);
  const names = services();
  if (names.length === 0) {
    console.log('\nNo service has been built yet: the database is migrated and ready.');
    process.exit(0);
  }
  // Each service is its own process, as in production; Ctrl-C stops them all.
  const children = names.map((name) => {
    const child = spawn('node', [join('services', name, 'dist', 'main.js')], { cwd: root, stdio: 'inherit' });
    child.on('exit', (code) => console.log(`${name} exited (${code})`));
    return child;
  });
  const stop = () => children.forEach((child) => child.kill('SIGTERM'));
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
} else {
  console.error('usage: node scripts/mcms.mjs start|test [jest args]');
  process.exit(2);
}
