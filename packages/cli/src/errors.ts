/** A wrong command line or configuration: the CLI prints it with the usage and exits 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** An operation that could not be done (broker or API refused, nothing matched when something had to): exit 1. */
export class CommandError extends Error {
  override readonly name = 'CommandError';
}
