/**
 * The version of the contracts: the `info.version` of every generated document. Bump it (in
 * package.json) when a message or a route changes.
 */
export const CONTRACTS_VERSION: string = (require('../package.json') as { version: string }).version;
