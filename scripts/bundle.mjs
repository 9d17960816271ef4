#!/usr/bin/env node
// `node scripts/bundle.mjs [--out <dir>] [package...]`: the production bundle of each service — the one
// directory its Dockerfile copies into the runtime image, and the one CI starts (tests/packaging).
// A bundle is `pnpm deploy --prod` of the package: its `files` (dist/, prisma/migrations, the operator page),
// its production dependencies in a node_modules of its own, no workspace around it, nothing fetched at start.
//
// Build first (`tsc -b` after `node packages/db/dist/cli.js generate`): the bundle copies dist/, it never builds.
// Deploying is offline: `pnpm install --frozen-lockfile` already put every package in the store and checked the
// lock file, so deploy only copies.
import { spawnSync } from 'node:child_process';
import { existsSync, lstatSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';

const root = path.resolve(import.meta.dirname ?? new URL('.', import.meta.url).pathname, '..');

/** What can be bundled: the workspace directory and the file its image starts. */
const BUNDLES = {
  'addin-gateway': { dir: 'services/addin-gateway', entry: 'dist/main.js' },
  'routing-worker': { dir: 'services/routing-worker', entry: 'dist/main.js' },
  'history-service': { dir: 'services/history-service', entry: 'dist/main.js' },
  'notification-service': { dir: 'services/notification-service', entry: 'dist/main.js' },
  // The add-in simulator (compose profile `simulator`): demos only, never part of a plant's deployment.
  'addin-client': { dir: 'packages/addin-client', entry: 'dist/cli/simulate.js' },
};

// Optional peers the lock file links to @prisma/client (and friends) only because the workspace has them as
// devDependencies: the Prisma CLI and TypeScript. The runtime never loads them (the generated client needs
// only `@prisma/client/runtime`), yet `pnpm deploy --prod` keeps such peer links — about 150 MB of tooling.
const DEV_TOOL_PEERS = new Set(['prisma', 'typescript']);

function pnpmCommand() {
  const { packageManager } = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8'));
  const version = packageManager.replace(/^pnpm@/, '');
  const local = spawnSync('pnpm', ['--version'], { encoding: 'utf8' });
  if (local.status === 0 && local.stdout.trim() === version) return ['pnpm'];
  return ['npx', '--yes', `pnpm@${version}`];
}

function fail(message) {
  process.stderr.write(`bundle: ${message}\n`);
  process.exit(1);
}

function checkBuilt(name) {
  const { dir, entry } = BUNDLES[name];
  // The generated Prisma client is not checked: the services' `files` leave it out of the bundle (decision 0015).
  const missing = [entry].filter((file) => !existsSync(path.join(root, dir, file)));
  if (missing.length > 0)
    fail(
      `${dir}/${missing.join(', ')} missing: run \`node packages/db/dist/cli.js generate && npx tsc -b\` first`,
    );
}

/** The `.pnpm/<id>` a symlink in a node_modules points into, or null for anything else. */
function virtualStoreId(linkPath) {
  const target = path.resolve(path.dirname(linkPath), readlinkSync(linkPath));
  const parts = target.split(path.sep);
  const at = parts.lastIndexOf('.pnpm');
  return at === -1 ? null : parts[at + 1];
}

/** [name, path] of every package entry of a node_modules directory (scoped ones included). */
function entriesOf(nodeModules) {
  if (!existsSync(nodeModules)) return [];
  const entries = [];
  for (const name of readdirSync(nodeModules)) {
    if (name.startsWith('.')) continue;
    const full = path.join(nodeModules, name);
    if (name.startsWith('@')) {
      for (const scoped of readdirSync(full)) entries.push([`${name}/${scoped}`, path.join(full, scoped)]);
    } else entries.push([name, full]);
  }
  return entries;
}

function removeDanglingLinks(dir) {
  for (const [, full] of entriesOf(dir)) {
    if (lstatSync(full).isSymbolicLink() && !existsSync(full)) rmSync(full);
  }
}

/**
 * Drops the links to {@link DEV_TOOL_PEERS}, then every virtual-store package no longer reachable from the
 * bundle's own dependencies. Reachability, not a list of names: whatever only the tooling needed goes too.
 */
function pruneDevToolPeers(bundleDir) {
  const virtualStore = path.join(bundleDir, 'node_modules', '.pnpm');
  const reachable = new Set();
  const queue = [path.join(bundleDir, 'node_modules')];
  while (queue.length > 0) {
    for (const [name, full] of entriesOf(queue.pop())) {
      if (!lstatSync(full).isSymbolicLink()) continue; // the package itself, inside its own .pnpm/<id>
      if (DEV_TOOL_PEERS.has(name)) {
        rmSync(full);
        continue;
      }
      const id = virtualStoreId(full);
      if (id === null || reachable.has(id)) continue;
      reachable.add(id);
      queue.push(path.join(virtualStore, id, 'node_modules'));
    }
  }
  for (const id of readdirSync(virtualStore)) {
    if (id === 'node_modules' || id.startsWith('.') || reachable.has(id)) continue;
    rmSync(path.join(virtualStore, id), { recursive: true, force: true });
  }
  // pnpm's hoisted links (undeclared imports) and bins may now point at removed packages.
  removeDanglingLinks(path.join(virtualStore, 'node_modules'));
  removeDanglingLinks(path.join(bundleDir, 'node_modules', '.bin'));
}

function sizeOf(dir) {
  let bytes = 0;
  const stack = [dir];
  while (stack.length > 0) {
    const current = stack.pop();
    for (const entry of readdirSync(current, { withFileTypes: true })) {
      const full = path.join(current, entry.name);
      if (entry.isDirectory()) stack.push(full);
      else if (entry.isFile()) bytes += statSync(full).size;
    }
  }
  return bytes;
}

function bundle(name, outDir, pnpm) {
  const started = Date.now();
  const target = path.join(outDir, name);
  rmSync(target, { recursive: true, force: true });
  const [command, ...args] = pnpm;
  const result = spawnSync(
    command,
    [
      ...args,
      '--filter',
      `@mcms/${name}`,
      'deploy',
      '--prod',
      '--offline',
      // The workspace install verified the lock file; offline there is no metadata to verify it again.
      '--trust-lockfile',
      '--reporter',
      'append-only',
      target,
    ],
    { cwd: root, encoding: 'utf8' },
  );
  if (result.status !== 0)
    fail(
      `pnpm deploy of ${name} failed (exit ${result.status ?? result.signal}):\n${result.stdout}${result.stderr}`,
    );
  pruneDevToolPeers(target);
  // Install-time state, written owner-only: useless at run time and unreadable for the image's non-root user.
  for (const file of ['pnpm-lock.yaml', 'pnpm-workspace.yaml', 'node_modules/.pnpm-workspace-state-v1.json'])
    rmSync(path.join(target, file), { force: true });
  const megabytes = (sizeOf(target) / 1024 / 1024).toFixed(1);
  process.stdout.write(
    `bundle ${name}: ${path.relative(process.cwd(), target) || '.'} (${megabytes} MB, ${Date.now() - started} ms)\n`,
  );
}

function main() {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: { out: { type: 'string' }, help: { type: 'boolean' } },
  });
  if (values.help) {
    process.stdout.write(
      `Usage: node scripts/bundle.mjs [--out <dir>] [${Object.keys(BUNDLES).join('|')}]...\n`,
    );
    return;
  }
  const names =
    positionals.length > 0 ? positionals : Object.keys(BUNDLES).filter((n) => n !== 'addin-client');
  for (const name of names) if (!Object.hasOwn(BUNDLES, name)) fail(`unknown package ${name}`);
  names.forEach(checkBuilt);
  const outDir = path.resolve(values.out ?? path.join(root, 'bundles'));
  const pnpm = pnpmCommand();
  for (const name of names) bundle(name, outDir, pnpm);
}

main();
