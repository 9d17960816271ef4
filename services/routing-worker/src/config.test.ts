import { ConfigError, loadConfig } from '@mcms/platform';
import { routingWorkerConfig } from './config';

describe('routing-worker configuration', () => {
  it('has defaults for a developer machine', () => {
    expect(loadConfig(routingWorkerConfig, {})).toMatchObject({
      PORT: 8081,
      MCMS_TOPOLOGY_PREFIX: '',
      MCMS_QUEUE_TYPE: 'quorum',
      MCMS_RETRY_DELAYS: [1_000, 5_000, 30_000, 120_000],
      SHARED_DRIVE_ROOT: 'var/shared-drive',
      SHARED_DRIVE_TIMEOUT: 5_000,
    });
  });

  it('reads every setting from the environment', () => {
    const config = loadConfig(routingWorkerConfig, {
      PORT: '9000',
      MCMS_TOPOLOGY_PREFIX: 'bench.',
      MCMS_QUEUE_TYPE: 'classic',
      MCMS_RETRY_DELAYS: '200ms, 1s,1.5s',
      SHARED_DRIVE_ROOT: '/mnt/w/MCMS',
      SHARED_DRIVE_TIMEOUT: '750ms',
    });
    expect(config).toMatchObject({
      PORT: 9000,
      MCMS_TOPOLOGY_PREFIX: 'bench.',
      MCMS_QUEUE_TYPE: 'classic',
      MCMS_RETRY_DELAYS: [200, 1_000, 1_500],
      SHARED_DRIVE_ROOT: '/mnt/w/MCMS',
      SHARED_DRIVE_TIMEOUT: 750,
    });
  });

  it('names every bad key at once, and requires the shared drive in production', () => {
    let error: unknown;
    try {
      loadConfig(routingWorkerConfig, {
        NODE_ENV: 'production',
        MCMS_RETRY_DELAYS: '1s,soon',
        MCMS_QUEUE_TYPE: 'lazy',
      });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).issues.map((issue) => issue.key).sort()).toEqual([
      'MCMS_QUEUE_TYPE',
      'MCMS_RETRY_DELAYS',
      'SHARED_DRIVE_ROOT',
    ]);
    expect(
      loadConfig(routingWorkerConfig, { NODE_ENV: 'production', SHARED_DRIVE_ROOT: '/mnt/w' })
        .SHARED_DRIVE_ROOT,
    ).toBe('/mnt/w');
  });
});
