// Writes docs/asyncapi.json from the message definitions; `--check` fails when the committed file
// is stale, so a contract change can't land without its document.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { asyncApiJson, ASYNCAPI_PATH } from '../asyncapi-file';

const repoRoot = join(__dirname, '..', '..', '..', '..');
const target = join(repoRoot, ASYNCAPI_PATH);
const wanted = asyncApiJson();

if (process.argv.includes('--check')) {
  let current = '';
  try {
    current = readFileSync(target, 'utf8');
  } catch {
    current = '';
  }
  if (current !== wanted) {
    console.error(`${ASYNCAPI_PATH} is stale: run \`pnpm asyncapi\` and commit the result`);
    process.exit(1);
  }
  console.log(`${ASYNCAPI_PATH} is up to date`);
} else {
  writeFileSync(target, wanted);
  console.log(`wrote ${ASYNCAPI_PATH}`);
}
