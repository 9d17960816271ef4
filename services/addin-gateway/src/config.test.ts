import { ConfigError, loadConfig } from '@mcms/platform';
import { gatewayConfig } from './config';

describe('the gateway configuration', () => {
  it('has the documented defaults', () => {
    expect(loadConfig(gatewayConfig, {})).toMatchObject({
      PORT: 8080,
      MCMS_TOPOLOGY_PREFIX: '',
      MCMS_QUEUE_TYPE: 'quorum',
      MCMS_RETRY_DELAYS: [1_000, 5_000, 30_000, 120_000],
      JOB_LEASE: 600_000,
      JOB_MAX_ATTEMPTS: 5,
      JOB_PENDING_TIMEOUT: 86_400_000,
      LEASE_SWEEP_INTERVAL: 5_000,
      ADDIN_KEY_TTL_DAYS: 30,
      LONG_POLL_MAX_WAITERS: 1_000,
      LONG_POLL_FALLBACK: 5_000,
    });
    expect(loadConfig(gatewayConfig, {}).ADDIN_BOOTSTRAP_KEY).toBeUndefined();
  });

  it('reads durations, lists of durations and numbers from the environment', () => {
    const config = loadConfig(gatewayConfig, {
      PORT: '9000',
      MCMS_RETRY_DELAYS: '100ms,2s',
      JOB_LEASE: '90s',
      JOB_PENDING_TIMEOUT: '2h',
      JOB_MAX_ATTEMPTS: '3',
      MCMS_QUEUE_TYPE: 'classic',
    });
    expect(config).toMatchObject({
      PORT: 9000,
      MCMS_RETRY_DELAYS: [100, 2_000],
      JOB_LEASE: 90_000,
      JOB_PENDING_TIMEOUT: 7_200_000,
      JOB_MAX_ATTEMPTS: 3,
      MCMS_QUEUE_TYPE: 'classic',
    });
  });

  it('names every bad key at once, never a value', () => {
    let error: unknown;
    try {
      loadConfig(gatewayConfig, {
        MCMS_RETRY_DELAYS: '1s,soon',
        JOB_MAX_ATTEMPTS: '0',
        ADDIN_BOOTSTRAP_KEY: 'short-secret',
        MCMS_QUEUE_TYPE: 'lazy',
      });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).issues.map((issue) => issue.key).sort()).toEqual([
      'ADDIN_BOOTSTRAP_KEY',
      'JOB_MAX_ATTEMPTS',
      'MCMS_QUEUE_TYPE',
      'MCMS_RETRY_DELAYS',
    ]);
    expect((error as ConfigError).message).not.toContain('short-secret');
  });
});
