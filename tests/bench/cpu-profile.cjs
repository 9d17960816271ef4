// Preloaded into each service by `npm run bench -- --profile` (NODE_OPTIONS=--require …): Node 20 refuses
// `--cpu-prof` in NODE_OPTIONS, and the harness starts the services as tests/support/system.ts does, with
// environment only. Profiles only the timed phases, not the setup around them: the harness writes the
// phase's name to <dir>/.phase and sends SIGUSR2 to start; the next SIGUSR2 stops and writes
// <dir>/<service>-<phase>.cpuprofile (open in Chrome DevTools, or `node scripts/profile-top.mjs`).
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
  let phase; // the name of the running phase, or undefined
  const stop = () => {
    const name = phase;
    phase = undefined;
    // A same-thread inspector session answers synchronously, so this also works inside 'exit'.
    session.post('Profiler.stop', (err, result) => {
      if (err || !result) return;
      fs.mkdirSync(dir, { recursive: true });
      fs.writeFileSync(path.join(dir, `${service}-${name}.cpuprofile`), JSON.stringify(result.profile));
    });
  };
  process.on('SIGUSR2', () => {
    if (phase !== undefined) return stop();
    let name = 'run';
    try {
      name =
        fs
          .readFileSync(path.join(dir, '.phase'), 'utf8')
          .trim()
          .replace(/[^\w.-]+/g, '-') || name;
    } catch {
      // no phase file: one profile named 'run'
    }
    phase = name;
    session.post('Profiler.start');
  });
  process.on('exit', () => {
    if (phase !== undefined) stop();
  });
}
