import { DbError } from './errors';

// Lower case only: PostgreSQL folds unquoted names to lower case, so a mixed-case schema would behave differently
// wherever someone forgets the quotes (psql, the outbox channel name `mcms_outbox_<schema>`, ad-hoc SQL).
// `pg_` is reserved for system schemas. 51 characters, not PostgreSQL's 63: the outbox's NOTIFY channel
// `mcms_outbox_<schema>` (12 more) must fit the 63-byte identifier limit too, or every outbox insert fails.
const SCHEMA_NAME = /^(?!pg_)[a-z_][a-z0-9_]{0,50}$/;

/**
 * Returns `schema` if it is a safe PostgreSQL schema name (lower-case identifier, not `pg_*`), else throws.
 * Schema names are spliced into SQL and connection options, so nothing else may get through.
 */
export function assertSchemaName(schema: string): string {
  if (!SCHEMA_NAME.test(schema)) {
    throw new DbError(
      'INVALID_SCHEMA_NAME',
      `Invalid schema name ${JSON.stringify(schema)}: expected a lower-case identifier matching ${SCHEMA_NAME}`,
    );
  }
  return schema;
}

/** The schema name as a quoted SQL identifier, after validating it. */
export function quoteSchema(schema: string): string {
  return `"${assertSchemaName(schema)}"`;
}
