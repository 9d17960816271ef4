/** Stable codes for everything `@mcms/db` refuses to do, so callers can branch without parsing messages. */
export type DbErrorCode =
  | 'INVALID_SCHEMA_NAME'
  | 'UNKNOWN_SERVICE'
  | 'MIGRATIONS_DIR_INVALID'
  | 'MIGRATION_CHECKSUM_MISMATCH'
  | 'MIGRATION_PREVIOUSLY_FAILED'
  | 'MIGRATION_FAILED'
  | 'SCHEMA_DIFF_FAILED'
  | 'PRISMA_GENERATE_FAILED';

/**
 * The one error type this package throws on purpose. `migrationName` is set whenever a specific migration is
 * to blame, so a deploy log names the folder to look at.
 */
export class DbError extends Error {
  override readonly name = 'DbError';

  constructor(
    readonly code: DbErrorCode,
    message: string,
    readonly details: { migrationName?: string; cause?: unknown } = {},
  ) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
  }

  /** The migration folder this error is about, if any. */
  get migrationName(): string | undefined {
    return this.details.migrationName;
  }
}

/** True for errors thrown by `@mcms/db` (optionally with the given code). */
export function isDbError(err: unknown, code?: DbErrorCode): err is DbError {
  return err instanceof DbError && (code === undefined || err.code === code);
}
