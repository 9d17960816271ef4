// Runs one of the TypeScript harnesses under tests/ (the benchmark, the chaos run) against the services'
// production builds: checks the builds exist (and says how to make them), lets Node load the harness's
// TypeScript through SWC (scripts/register-ts.cjs), calls its `main(args)` and exits with its code.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';

const root = join(import.meta.dirname ?? new URL('.', import.meta.url).pathname, '..');

/**
 * @param {{ harness: string; title: string; args: string[] }} run `harness`: the module under tests/
 *   (e.g. 'bench/run.ts'); `title`: how messages name the run.
 */
export function runHarness({ harness, title, args }) {
  const missing = [
    ...['contracts', 'platform', 'messaging', 'db', 'addin-client'].map((p) => `packages/${p}/dist/index.js`),
    ...['addin-gateway', 'routing-worker', 'history-service', 'notification-service'].map(
      (s) => `services/${s}/dist/main.js`,
    ),
  ].filter((file) => !existsSync(join(root, file)));
  if (missing.length > 0) {
    process.stderr.write(
      `The ${title} starts the production builds, and these are missing:\n  ${missing.join('\n  ')}\n` +
        'Build first: `npm test` (or `npm start`) does it, or `npx tsc -b packages/db && node packages/db/dist/cli.js generate && npx tsc -b`.\n',
    );
    process.exit(2);
  }
  const require = createRequire(join(root, 'tests', 'package.json'));
  require(join(root, 'scripts', 'register-ts.cjs'));
  const { main } = require(join(root, 'tests', harness));
  Promise.resolve(main(args)).then(
    (code) => process.exit(typeof code === 'number' ? code : process.exitCode),
    (err) => {
      process.stderr.write(
        `\n✗ ${title} failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
      );
      process.exit(1);
    },
  );
}
