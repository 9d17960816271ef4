#!/usr/bin/env node
// `npm run chaos`: the fault-injection run of issue 7 (tests/chaos/). It starts its own RabbitMQ node and
// PostgreSQL cluster (root needed; docs/chaos.md) and runs the services' production builds, so it needs a
// build first (`npm test` or `npm start` do it). The harness is TypeScript shared with its CI test; SWC
// compiles it on load (scripts/register-ts.cjs), so it needs no build of its own.
import { runHarness } from './run-harness.mjs';

runHarness({ harness: 'chaos/run.ts', title: 'chaos run', args: process.argv.slice(2) });
