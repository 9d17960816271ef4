import { buildAsyncApiDocument } from './asyncapi';

/** Where the generated AsyncAPI document is committed, relative to the repository root. */
export const ASYNCAPI_PATH = 'docs/asyncapi.json';

/** The exact bytes of the committed document. */
export function asyncApiJson(): string {
  // The document's version follows the contracts package, bumped when a message changes.
  const { version } = require('../package.json') as { version: string };
  return `${JSON.stringify(buildAsyncApiDocument({ version }), null, 2)}\n`;
}
