// Lets Node load the TypeScript test harnesses (tests/bench, tests/chaos) without a build: SWC (already a
// dev dependency for Jest) compiles each `.ts` file on load, the same way Jest does. Used by
// scripts/bench.mjs and scripts/chaos.mjs, and with `node -r` by the processes the chaos run starts.
const { readFileSync } = require('node:fs');
const Module = require('node:module');
const { join } = require('node:path');

const root = join(__dirname, '..');
const swc = require(require.resolve('@swc/core', { paths: [root] }));

// Relative imports are extensionless: registering `.ts` makes CommonJS resolution try it, like tsc's nodenext.
Module._extensions['.ts'] = function compileTypeScript(module, filename) {
  const { code } = swc.transformSync(readFileSync(filename, 'utf8'), {
    filename,
    jsc: { parser: { syntax: 'typescript' }, target: 'es2022' },
    module: { type: 'commonjs' },
    sourceMaps: 'inline',
  });
  module._compile(code, filename);
};
