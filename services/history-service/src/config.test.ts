import { DEV_JWT_SECRET, isConfigError } from '@mcms/platform';
import { loadHistoryServiceConfig } from './config';

it('defaults to port 8082, quorum queues, no prefix, 1s,5s,30s,2m retries and the history schema', () => {
  const config = loadHistoryServiceConfig({});

  expect(config).toMatchObject({
    port: 8082,
    topologyPrefix: '',
    queueType: 'quorum',
    retryDelaysMs: [1_000, 5_000, 30_000, 120_000],
    databaseUrl: 'postgresql://postgres@127.0.0.1:5432/postgres',
    databaseSchema: 'history',
    jwtSecret: DEV_JWT_SECRET,
  });
});

it('reads the shared keys and the history-only database overrides', () => {
  const config = loadHistoryServiceConfig({
    PORT: '9000',
    MCMS_TOPOLOGY_PREFIX: 'bench-1.',
    MCMS_QUEUE_TYPE: 'classic',
    MCMS_RETRY_DELAYS: '200ms, 1s,1.5m',
    DATABASE_URL: 'postgresql://shared@db/mcms',
    HISTORY_DATABASE_URL: 'postgresql://history@db/history',
    HISTORY_DATABASE_SCHEMA: 'history_blue',
    MCMS_JWT_SECRET: 's'.repeat(40),
  });

  expect(config).toMatchObject({
    port: 9000,
    topologyPrefix: 'bench-1.',
    queueType: 'classic',
    retryDelaysMs: [200, 1_000, 90_000],
    databaseUrl: 'postgresql://history@db/history',
    databaseSchema: 'history_blue',
    jwtSecret: 's'.repeat(40),
  });
});

it('names every bad key at once', () => {
  let error: unknown;
  try {
    loadHistoryServiceConfig({ PORT: 'eighty', MCMS_QUEUE_TYPE: 'lazy', MCMS_RETRY_DELAYS: '1s,soon' });
  } catch (err) {
    error = err;
  }

  expect(isConfigError(error)).toBe(true);
  expect((error as Error).message).toMatch(/PORT: .*MCMS_QUEUE_TYPE: .*MCMS_RETRY_DELAYS: /);
});

it('refuses to start in production without a real JWT secret', () => {
  expect(() => loadHistoryServiceConfig({ NODE_ENV: 'production' })).toThrow(/MCMS_JWT_SECRET/);
});

it('reports an invalid schema name as a configuration error', () => {
  expect(() => loadHistoryServiceConfig({ HISTORY_DATABASE_SCHEMA: 'drop table;' })).toThrow(
    /HISTORY_DATABASE_SCHEMA/,
  );
});
