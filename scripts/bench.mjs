#!/usr/bin/env node
// `npm run bench`: the benchmark of issue 6 (tests/bench/). It runs the services' production builds, so it
// needs a build first (`npm test` or `npm start` do it; or `npx tsc -b` after `node packages/db/dist/cli.js
// generate`). The harness itself is TypeScript shared with its CI test; SWC (already a dev dependency for
// Jest) compiles it on load, the same way Jest does, so the benchmark needs no build of its own.
import { runHarness } from './run-harness.mjs';

runHarness({ harness: 'bench/run.ts', title: 'benchmark', args: process.argv.slice(2) });
