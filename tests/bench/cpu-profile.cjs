// Preloaded into each service by `npm run bench -- --profile` (NODE_OPTIONS=--require …): Node 20 refuses
// `--cpu-prof` in NODE_OPTIONS, and the harness starts the services as tests/support/system.ts does, with
// environment only. Writes <dir>/<service>-<pid>.cpuprofile (open in Chrome DevTools) when the process exits.
const inspector = require('node:inspector');
const fs = require('node:fs');
const path = require('node:path');

const dir = process.env.MCMS_BENCH_PROFILE_DIR;
const service = path.basename(path.resolve(process.argv[1] ?? 'node', '..', '..'));
if (dir) {
  const session = new inspector.Session();
  session.connect();
  session.post('Profiler.enable');
  // Finer than the default 1 ms: the hot paths being looked for take tens of microseconds a call.
  session.post('Profiler.setSamplingInterval', { interval: 200 });
  session.post('Profiler.start');
  let written = false;
  // A same-thread inspector session answers synchronously, so this works inside 'exit'.
  process.on('exit', () => {
    if (written) return;
    written = true;
    session.post('Profiler.stop', (err, result) => {
      if (err || !result) return;
      fs.mkdirSync(dir, { recursive: true });
      fs.writeFileSync(
        path.join(dir, `${service}-${process.pid}.cpuprofile`),
        JSON.stringify(result.profile),
      );
    });
  });
}
