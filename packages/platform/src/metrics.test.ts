import { Counter } from 'prom-client';
import { createMetrics } from './metrics';

describe('createMetrics', () => {
  it('gives each call its own registry so two apps in one process do not collide', async () => {
    const first = createMetrics({ service: 'a', defaultMetrics: false });
    const second = createMetrics({ service: 'b', defaultMetrics: false });

    first.counter('jobs_total', 'jobs').inc();

    expect(first.registry).not.toBe(second.registry);
    expect(await first.registry.metrics()).toContain('jobs_total{service="a"} 1');
    expect(await second.registry.metrics()).not.toContain('jobs_total');
  });

  it('labels every metric, default process metrics included, with the service', async () => {
    const metrics = createMetrics({ service: 'routing-worker' });

    const text = await metrics.registry.metrics();

    expect(text).toMatch(/^process_cpu_user_seconds_total\{service="routing-worker"\} /m);
    expect(text).toContain('# TYPE http_request_duration_seconds histogram');
  });

  it('returns the same counter, gauge or histogram when asked twice for one name', () => {
    const metrics = createMetrics({ service: 's', defaultMetrics: false });

    const counter = metrics.counter('messages_consumed_total', 'consumed', ['queue', 'outcome']);
    const gauge = metrics.gauge('outbox_lag_seconds', 'lag');
    const histogram = metrics.histogram('handle_seconds', 'handling', ['queue'], { buckets: [0.1, 1] });

    expect(metrics.counter('messages_consumed_total', 'consumed', ['outcome', 'queue'])).toBe(counter);
    expect(metrics.gauge('outbox_lag_seconds', 'lag')).toBe(gauge);
    expect(metrics.histogram('handle_seconds', 'handling', ['queue'])).toBe(histogram);
    expect(counter).toBeInstanceOf(Counter);
  });

  it('refuses a second meaning for a registered name', () => {
    const metrics = createMetrics({ service: 's', defaultMetrics: false });
    metrics.counter('messages_total', 'messages', ['queue']);

    expect(() => metrics.gauge('messages_total', 'messages', ['queue'])).toThrow('another type');
    expect(() => metrics.counter('messages_total', 'messages', ['queue', 'outcome'])).toThrow(
      'labels [queue]',
    );
  });

  it('buckets the HTTP histogram from 1 ms to 5 s', async () => {
    const metrics = createMetrics({ service: 's', defaultMetrics: false });
    metrics.httpRequestDuration.observe({ method: 'GET', route: '/x', status_code: '200' }, 0.0005);

    const text = await metrics.registry.metrics();

    const buckets = [...text.matchAll(/^http_request_duration_seconds_bucket\{le="([^"]+)"/gm)].map(
      (m) => m[1],
    );

    expect(buckets).toEqual([
      '0.001',
      '0.0025',
      '0.005',
      '0.01',
      '0.025',
      '0.05',
      '0.1',
      '0.25',
      '0.5',
      '1',
      '2.5',
      '5',
      '+Inf',
    ]);
    expect(text).toMatch(
      /^http_request_duration_seconds_bucket\{le="0.001",service="s",method="GET",route="\/x",status_code="200"\} 1$/m,
    );
  });
});
