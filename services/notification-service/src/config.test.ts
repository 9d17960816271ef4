import { DEV_JWT_SECRET, isConfigError } from '@mcms/platform';
import { loadNotificationServiceConfig } from './config';

it('defaults to port 8083, quorum queues, no prefix, 1s,5s,30s,2m retries, the notification schema and local upstreams', () => {
  const config = loadNotificationServiceConfig({});

  expect(config).toMatchObject({
    port: 8083,
    topologyPrefix: '',
    queueType: 'quorum',
    retryDelaysMs: [1_000, 5_000, 30_000, 120_000],
    databaseUrl: 'postgresql://postgres@127.0.0.1:5432/postgres',
    databaseSchema: 'notification',
    jwtSecret: DEV_JWT_SECRET,
    routingWorkerUrl: 'http://127.0.0.1:8081',
    historyServiceUrl: 'http://127.0.0.1:8082',
    allowDevSignIn: true,
  });
});

it('reads the shared keys, the notification-only database overrides and the upstream URLs', () => {
  const config = loadNotificationServiceConfig({
    PORT: '9003',
    MCMS_TOPOLOGY_PREFIX: 'bench-1.',
    MCMS_QUEUE_TYPE: 'classic',
    MCMS_RETRY_DELAYS: '200ms,1s',
    DATABASE_URL: 'postgresql://shared@db/mcms',
    NOTIFICATION_DATABASE_URL: 'postgresql://notify@db/notify',
    NOTIFICATION_DATABASE_SCHEMA: 'notification_blue',
    ROUTING_WORKER_URL: 'http://routing-worker:8081',
    HISTORY_SERVICE_URL: 'http://history-service:8082',
  });

  expect(config).toMatchObject({
    port: 9003,
    topologyPrefix: 'bench-1.',
    queueType: 'classic',
    retryDelaysMs: [200, 1_000],
    databaseUrl: 'postgresql://notify@db/notify',
    databaseSchema: 'notification_blue',
    routingWorkerUrl: 'http://routing-worker:8081',
    historyServiceUrl: 'http://history-service:8082',
  });
});

it('never allows the development sign-in in production', () => {
  const config = loadNotificationServiceConfig({ NODE_ENV: 'production', MCMS_JWT_SECRET: 's'.repeat(40) });

  expect(config.allowDevSignIn).toBe(false);
});

it('names every bad key at once', () => {
  let error: unknown;
  try {
    loadNotificationServiceConfig({
      PORT: 'eighty',
      ROUTING_WORKER_URL: 'routing-worker',
      MCMS_QUEUE_TYPE: 'lazy',
    });
  } catch (err) {
    error = err;
  }

  expect(isConfigError(error)).toBe(true);
  expect((error as Error).message).toMatch(/PORT: .*MCMS_QUEUE_TYPE: .*ROUTING_WORKER_URL: /);
});
