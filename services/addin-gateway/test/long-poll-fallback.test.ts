import { randomUUID } from 'node:crypto';
import { startGateway, waitFor, type GatewayHarness } from './support/gateway';

let gw: GatewayHarness;

beforeAll(async () => {
  gw = await startGateway({ longPollFallbackMs: 300 });
});

afterAll(async () => {
  await gw?.close();
});

describe('the long poll without notifications', () => {
  it('still hands out a job whose NOTIFY never came, through the fallback timer', async () => {
    // As if the notification had been lost (the LISTEN connection was down when the job arrived).
    await gw.prisma.$executeRawUnsafe(
      'ALTER TABLE addin_job DISABLE TRIGGER addin_job_notify_pending_insert',
    );
    const waiting = gw.call('GET', '/api/addin/jobs/next?waitSeconds=10', {
      key: gw.bootstrapKey,
      device: `WS-${randomUUID()}`,
    });
    await waitFor(async () => (await gw.metric('mcms_addin_long_poll_waiters')) === 1, 'the request to wait');

    const queuedAt = performance.now();
    const jobId = await gw.queueJob();
    const answer = await waiting;

    expect([answer.status, answer.body.jobId]).toEqual([200, jobId]);
    expect(performance.now() - queuedAt).toBeLessThan(3_000);
  });

  it('refuses waiters beyond its bound with 503 and Retry-After', async () => {
    const bounded = await startGateway({ maxWaiters: 1 });
    try {
      const call = () =>
        bounded.call('GET', '/api/addin/jobs/next?waitSeconds=2', {
          key: bounded.bootstrapKey,
          device: `WS-${randomUUID()}`,
        });
      const first = call();
      await waitFor(
        async () => (await bounded.metric('mcms_addin_long_poll_waiters')) === 1,
        'the first request to wait',
      );

      const second = await call();

      expect([second.status, second.body.error.code, second.headers.get('retry-after')]).toEqual([
        503,
        'too_many_waiters',
        '1',
      ]);
      expect((await first).status).toBe(204);
    } finally {
      await bounded.close();
    }
  });
});
