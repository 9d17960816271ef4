import { isDbError } from './errors';
import {
  databaseSchemaFor,
  databaseUrlFor,
  DEFAULT_DATABASE_URL,
  servicePrismaPaths,
} from './service-databases';

describe('databaseUrlFor', () => {
  it("prefers the service's own URL, then the shared one, then the local default", () => {
    const own = 'postgresql://gw@db-a/gateway_db';
    const shared = 'postgresql://all@db-b/shared';

    expect(databaseUrlFor('addin-gateway', { GATEWAY_DATABASE_URL: own, DATABASE_URL: shared })).toBe(own);
    expect(databaseUrlFor('routing-worker', { GATEWAY_DATABASE_URL: own, DATABASE_URL: shared })).toBe(
      shared,
    );
    expect(databaseUrlFor('history-service', { HISTORY_DATABASE_URL: ' ' })).toBe(DEFAULT_DATABASE_URL);
    expect(databaseUrlFor('notification-service', { NOTIFICATION_DATABASE_URL: own })).toBe(own);
  });
});

describe('databaseSchemaFor', () => {
  it('uses the registry default unless <PREFIX>_DATABASE_SCHEMA overrides it', () => {
    expect(databaseSchemaFor('addin-gateway', {})).toBe('gateway');
    expect(databaseSchemaFor('routing-worker', {})).toBe('routing');
    expect(databaseSchemaFor('history-service', { HISTORY_DATABASE_SCHEMA: 'history_blue' })).toBe(
      'history_blue',
    );
    expect(databaseSchemaFor('notification-service', {})).toBe('notification');
  });

  it('accepts a schema name whose outbox channel still fits PostgreSQL limits (51 characters)', () => {
    const longest = 'a'.repeat(51);
    expect(databaseSchemaFor('addin-gateway', { GATEWAY_DATABASE_SCHEMA: longest })).toBe(longest);
    expect(`mcms_outbox_${longest}`.length).toBeLessThanOrEqual(63);
  });

  it('rejects an override that is not a safe schema name', () => {
    for (const bad of ['Gateway', 'pg_gateway', 'a-b', 'x"; DROP SCHEMA public; --', 'a'.repeat(52)]) {
      let error: unknown;
      try {
        databaseSchemaFor('addin-gateway', { GATEWAY_DATABASE_SCHEMA: bad });
      } catch (err) {
        error = err;
      }
      expect(isDbError(error, 'INVALID_SCHEMA_NAME')).toBe(true);
    }
  });
});

describe('servicePrismaPaths', () => {
  it("points at the service's prisma folder under the workspace root", () => {
    expect(servicePrismaPaths('routing-worker', '/repo')).toEqual({
      schemaPath: '/repo/services/routing-worker/prisma/schema.prisma',
      migrationsDir: '/repo/services/routing-worker/prisma/migrations',
    });
  });
});
