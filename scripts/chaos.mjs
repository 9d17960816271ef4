#!/usr/bin/env node
// `npm run chaos`: the fault-injection run of issue 7 (tests/chaos/). It starts its own RabbitMQ node and
// PostgreSQL cluster (root needed; docs/chaos.md) and runs the services' production builds, so it needs a
// build first (`npm test` or `npm start` do it). The harness is TypeScript shared with its CI test; SWC
// compiles it on load (scripts/register-ts.cjs), so it needs no build of its own.
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
    `The chaos run starts the production builds, and these are missing:\n  ${missing.join('\n  ')}\n` +
      'Build first: `npm test` (or `npm start`) does it, or `npx tsc -b packages/db && node packages/db/dist/cli.js generate && npx tsc -b`.\n',
  );
  process.exit(2);
}

const require = createRequire(join(root, 'tests', 'package.json'));
require(join(root, 'scripts', 'register-ts.cjs'));

const { main } = require(join(root, 'tests', 'chaos', 'run.ts'));
main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err) => {
    process.stderr.write(
      `\n✗ chaos run failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
    );
    process.exit(1);
  },
);
