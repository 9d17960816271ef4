// Writes the generated contract documents (AsyncAPI, one OpenAPI per service) from the schemas;
// `--check` fails when a committed file is stale, so a contract change can't land without them.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { generatedDocuments } from '../generated-documents';

const repoRoot = join(__dirname, '..', '..', '..', '..');
const check = process.argv.includes('--check');
const stale: string[] = [];

for (const [path, wanted] of Object.entries(generatedDocuments())) {
  const target = join(repoRoot, path);
  if (check) {
    let current = '';
    try {
      current = readFileSync(target, 'utf8');
    } catch {
      current = '';
    }
    if (current !== wanted) stale.push(path);
  } else {
    mkdirSync(dirname(target), { recursive: true });
    writeFileSync(target, wanted);
    console.log(`wrote ${path}`);
  }
}

if (check && stale.length > 0) {
  console.error(`stale generated documents: ${stale.join(', ')} — run \`pnpm docs\` and commit the result`);
  process.exit(1);
}
if (check) console.log('generated documents are up to date');
