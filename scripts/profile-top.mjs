// Lists the functions with the most self time in V8 .cpuprofile files (as `npm run bench -- --profile`
// writes them): `node scripts/profile-top.mjs results/profiles/*.cpuprofile [--top 25] [--by package]`.
// `--by package` adds up the self time of each package instead (a dependency by its node_modules name, our own
// code by its packages/ or services/ folder, Node's own as node:, native and V8 work as they are named).
import { readFileSync } from 'node:fs';
import path from 'node:path';

const args = process.argv.slice(2);
const topAt = args.indexOf('--top');
const top = topAt >= 0 ? Number(args.splice(topAt, 2)[1]) : 25;
const byAt = args.indexOf('--by');
const byPackage = byAt >= 0 && args.splice(byAt, 2)[1] === 'package';

/** The package a script belongs to: the last node_modules/<name> in its path, else our folder, else node:. */
function packageOf(url) {
  const modules = url.match(/.*node_modules\/((?:@[^/]+\/)?[^/]+)/);
  if (modules) return modules[1];
  const ours = url.match(/\/((?:packages|services|tests)\/[^/]+)\//);
  if (ours) return ours[1];
  return url.startsWith('node:') ? 'node:' : url;
}

for (const file of args) {
  const profile = JSON.parse(readFileSync(file, 'utf8'));
  const self = new Map();
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  // Sample intervals: timeDeltas[i] is the time before sample i.
  let total = 0;
  profile.samples.forEach((id, i) => {
    const delta = profile.timeDeltas[i] ?? 0;
    total += delta;
    const { callFrame } = byId.get(id);
    const where = callFrame.url ? `${path.basename(callFrame.url)}:${callFrame.lineNumber + 1}` : '';
    const key =
      byPackage && callFrame.url
        ? packageOf(callFrame.url)
        : `${callFrame.functionName || '(anonymous)'} ${byPackage ? '' : where}`.trim();
    self.set(key, (self.get(key) ?? 0) + delta);
  });
  const idle = self.get('(idle)') ?? 0;
  const busy = total - idle;
  console.log(
    `\n${path.basename(file)}: ${(total / 1e6).toFixed(1)} s sampled, ${(busy / 1e6).toFixed(1)} s busy`,
  );
  const rows = [...self]
    .filter(([key]) => key !== '(idle)')
    .sort((a, b) => b[1] - a[1])
    .slice(0, top);
  for (const [key, us] of rows) {
    console.log(
      `${((100 * us) / busy).toFixed(1).padStart(5)} %  ${(us / 1e3).toFixed(0).padStart(6)} ms  ${key}`,
    );
  }
}
