// The public surface of @mcms/cli: the `mcms` command as a function, for tests and for embedding.
export { runCli, USAGE, type CliContext } from './cli';
export type { CliIo } from './output';
