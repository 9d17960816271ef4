#!/usr/bin/env node
// `npm run bench`: the benchmark of issue 6 (tests/bench/). It runs the services' production builds, so it
// needs a build first (`npm test` or `npm start` do it; or `npx tsc -b` after `node packages/db/dist/cli.js
// generate`). The harness itself is TypeScript shared with its CI test; SWC (already a dev dependency for
// Jest) compiles it on load, the same way Jest does, so the benchmark needs no build of its own.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';

const root = join(import.meta.dirname ?? new URL('.', import.meta.url).pathname, '..');
const missing = [
  ...['contracts', 'platform', 'messaging', 'db', 'addin-client'].map((p) => `packages/${p}/dist/index.js`),
  ...['addin-gateway', 'routing-worker', 'history-service', 'notification-service'].map(
    (s) => `services/${s}/dist/main.js`,
  ),
].filter((file) => !existsSync(join(root, file)));
if (missing.length > 0) {
  process.stderr.write(
    `The benchmark runs the production builds, and these are missing:\n  ${missing.join('\n  ')}\n` +
      'Build first: `npm test` (or `npm start`) does it, or `npx tsc -b packages/db && node packages/db/dist/cli.js generate && npx tsc -b`.\n',
  );
  process.exit(2);
}

const require = createRequire(join(root, 'tests', 'package.json'));
require(join(root, 'scripts', 'register-ts.cjs'));

const { main } = require(join(root, 'tests', 'bench', 'run.ts'));
main(process.argv.slice(2)).catch((err) => {
  process.stderr.write(
    `\n✗ benchmark failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
  );
  process.exit(1);
});
