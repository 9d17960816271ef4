import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';

const root = path.resolve(__dirname, '../../..');
const dashboard = JSON.parse(readFileSync(path.join(root, 'deploy/grafana/mcms-dashboard.json'), 'utf8')) as {
  templating: { list: Array<{ name: string; type: string }> };
  panels: Array<{ title: string; datasource: { uid: string }; targets: Array<{ expr: string }> }>;
};

/** Every non-test TypeScript source of packages/ and services/ (generated Prisma code aside). */
function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const full = path.join(dir, name);
    if (['node_modules', 'dist', 'generated', 'test'].includes(name)) return [];
    if (statSync(full).isDirectory()) return sources(full);
    return full.endsWith('.ts') && !full.endsWith('.test.ts') ? [full] : [];
  });
}

const code = ['packages', 'services']
  .flatMap((dir) => sources(path.join(root, dir)))
  .map((file) => readFileSync(file, 'utf8'))
  .join('\n');

/** The metric names a PromQL expression selects (a name before `{`), without the histogram series suffixes. */
function metricsOf(expr: string): string[] {
  return [...expr.matchAll(/([a-z_:][a-z0-9_:]*)\{/g)].map((m) => m[1]!.replace(/_(bucket|count|sum)$/, ''));
}

describe('the Grafana dashboard', () => {
  const queried = [
    ...new Set(dashboard.panels.flatMap((p) => p.targets.flatMap((t) => metricsOf(t.expr)))),
  ].sort();

  it('queries only metrics the services register', () => {
    expect(queried.length).toBeGreaterThan(10);
    const missing = queried.filter((name) => !code.includes(`'${name}'`));
    expect(missing).toEqual([]);
  });

  it('covers the main figures: HTTP latency, consumed/retried/dead-lettered, outbox lag, history events, alerts', () => {
    expect(queried).toEqual(
      expect.arrayContaining([
        'http_request_duration_seconds',
        'mcms_messages_consumed_total',
        'mcms_outbox_lag_seconds',
        'mcms_history_events_total',
        'mcms_notification_events_total',
      ]),
    );
    const exprs = dashboard.panels.flatMap((p) => p.targets.map((t) => t.expr)).join('\n');
    for (const outcome of ['ack', 'retry', 'dead_letter']) expect(exprs).toContain(`outcome="${outcome}"`);
  });

  it('takes its Prometheus datasource from a variable', () => {
    expect(dashboard.templating.list).toContainEqual(
      expect.objectContaining({ name: 'datasource', type: 'datasource' }),
    );
    for (const panel of dashboard.panels) expect(panel.datasource.uid).toBe('${datasource}');
  });
});
