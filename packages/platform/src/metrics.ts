import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

/** HTTP latency buckets in seconds, 1 ms to 5 s: our handlers are small and anything slower is an incident. */
export const HTTP_DURATION_BUCKETS: readonly number[] = [
  0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5,
];

/** Options for {@link createMetrics}. */
export interface MetricsOptions {
  /** Added as a `service` label to every metric of the registry. */
  service: string;
  /** Collect process metrics (CPU, memory, event loop lag, GC); default true. */
  defaultMetrics?: boolean;
}

/** A service's metrics: its own registry and idempotent constructors for metrics in it. */
export interface Metrics {
  readonly registry: Registry;
  /** `http_request_duration_seconds{method, route, status_code}`, observed by the HTTP skeleton. */
  readonly httpRequestDuration: Histogram<'method' | 'route' | 'status_code'>;
  /** The counter called `name`, registering it on first use. */
  counter<L extends string = never>(name: string, help: string, labelNames?: readonly L[]): Counter<L>;
  /** The gauge called `name`, registering it on first use. */
  gauge<L extends string = never>(name: string, help: string, labelNames?: readonly L[]): Gauge<L>;
  /** The histogram called `name`, registering it on first use; buckets in the metric's unit. */
  histogram<L extends string = never>(
    name: string,
    help: string,
    labelNames?: readonly L[],
    options?: { buckets?: number[] },
  ): Histogram<L>;
}

type MetricClass = typeof Counter | typeof Gauge | typeof Histogram;

/**
 * Creates a service's metrics in a registry of its own, never prom-client's global one: tests build
 * many apps in one process, and a shared registry would reject the second app's metrics.
 *
 * `counter`/`gauge`/`histogram` return the existing metric when one of that name is registered, so
 * two consumers in one process can both ask for `messages_consumed_total`. Asking for an existing
 * name with another type or other label names throws: that is two meanings for one name.
 */
export function createMetrics(options: MetricsOptions): Metrics {
  const registry = new Registry();
  registry.setDefaultLabels({ service: options.service });
  if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: registry });

  function existing<M>(type: MetricClass, name: string, labelNames: readonly string[]): M | undefined {
    const metric = registry.getSingleMetric(name);
    if (metric === undefined) return undefined;
    if (!(metric instanceof type)) {
      throw new Error(`metric ${name} is already registered with another type`);
    }
    // prom-client keeps the label names on the instance but does not declare them in its types.
    const registered = (metric as unknown as { labelNames?: readonly string[] }).labelNames ?? [];
    if ([...registered].sort().join() !== [...labelNames].sort().join()) {
      throw new Error(`metric ${name} is already registered with labels [${registered.join(', ')}]`);
    }
    return metric as M;
  }

  function counter<L extends string = never>(name: string, help: string, labelNames: readonly L[] = []) {
    return (
      existing<Counter<L>>(Counter, name, labelNames) ??
      new Counter({ name, help, labelNames, registers: [registry] })
    );
  }

  function gauge<L extends string = never>(name: string, help: string, labelNames: readonly L[] = []) {
    return (
      existing<Gauge<L>>(Gauge, name, labelNames) ??
      new Gauge({ name, help, labelNames, registers: [registry] })
    );
  }

  function histogram<L extends string = never>(
    name: string,
    help: string,
    labelNames: readonly L[] = [],
    histogramOptions: { buckets?: number[] } = {},
  ) {
    return (
      existing<Histogram<L>>(Histogram, name, labelNames) ??
      new Histogram({ name, help, labelNames, registers: [registry], ...histogramOptions })
    );
  }

  const metrics: Metrics = {
    registry,
    httpRequestDuration: histogram(
      'http_request_duration_seconds',
      'HTTP request duration in seconds, by route pattern',
      ['method', 'route', 'status_code'],
      { buckets: [...HTTP_DURATION_BUCKETS] },
    ),
    counter,
    gauge,
    histogram,
  };
  return metrics;
}
