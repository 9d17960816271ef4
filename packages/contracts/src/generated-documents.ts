import { buildAsyncApiDocument } from './asyncapi';
import { openApiFor, serviceApis, type ServiceWithApi } from './http/services';
import { CONTRACTS_VERSION } from './version';

/** Where the generated AsyncAPI document is committed, relative to the repository root. */
export const ASYNCAPI_PATH = 'docs/asyncapi.json';

const version = CONTRACTS_VERSION;

/** The exact bytes of the committed AsyncAPI document. */
export function asyncApiJson(): string {
  return `${JSON.stringify(buildAsyncApiDocument({ version }), null, 2)}\n`;
}

/** Every generated document, by path relative to the repository root, with its exact bytes. */
export function generatedDocuments(): Record<string, string> {
  const documents: Record<string, string> = { [ASYNCAPI_PATH]: asyncApiJson() };
  for (const service of Object.keys(serviceApis) as ServiceWithApi[]) {
    documents[`docs/openapi/${service}.json`] = `${JSON.stringify(openApiFor(service, version), null, 2)}\n`;
  }
  return documents;
}
