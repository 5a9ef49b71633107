// infra/prometheus and infra/grafana, checked without running them:
// Prometheus scrapes exactly the compose file's raftline replicas, and the
// Grafana dashboard parses and reads only metrics that replicas serve.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { METRICS, SERVICE_METRICS, type MetricSpec } from '@raftline/cli';
import { bindMountsOf, commandOf, environmentOf, loadCompose, ROOT } from './lib/compose';
import { metricNamesIn, PromQlSyntaxError, splitHistogramSeries } from './lib/promql';

const compose = loadCompose();
const infra = join(ROOT, 'infra');
const readYaml = (...path: string[]): Record<string, unknown> =>
  parse(readFileSync(join(infra, ...path), 'utf8')) as Record<string, unknown>;

interface ScrapeConfig {
  job_name: string;
  metrics_path?: string;
  static_configs: { targets: string[]; labels?: Record<string, string> }[];
}

describe('infra/prometheus - scrape targets', () => {
  const prometheus = readYaml('prometheus', 'prometheus.yml') as { scrape_configs: ScrapeConfig[] };
  const raftlineJobs = prometheus.scrape_configs.filter((j) => j.job_name.startsWith('raftline-'));
  const targets = raftlineJobs.flatMap((j) => j.static_configs.flatMap((c) => c.targets));

  /** Each compose replica's host:port, the port as its mounted config file says. */
  const expected = Object.entries(compose.services)
    .filter(([, s]) => commandOf(s)[0] === 'serve')
    .map(([name, s]) => {
      const args = commandOf(s);
      const file = args[args.indexOf('-c') + 1]!;
      const mount = bindMountsOf(s).find((m) => file.startsWith(`${m.container}/`))!;
      const config = parse(
        readFileSync(join(mount.host, file.slice(mount.container.length + 1)), 'utf8'),
      ) as {
        metrics?: { port?: number };
      };
      const port = environmentOf(s).RAFTLINE_METRICS_PORT ?? String(config.metrics?.port ?? 9464);
      return `${name}:${port}`;
    });

  it('scrapes every raftline replica of the compose file, and nothing else, on its metrics port', () => {
    expect(expected).toHaveLength(9);
    expect([...targets].sort()).toEqual([...expected].sort());
  });

  it("labels each job's targets with the service they run", () => {
    for (const job of raftlineJobs) {
      for (const c of job.static_configs) {
        for (const t of c.targets) expect(t.startsWith(`${c.labels?.service}-`)).toBe(true);
      }
      expect(job.metrics_path ?? '/metrics').toBe('/metrics');
    }
  });

  it('the compose Prometheus mounts this file where it reads its config', () => {
    const p = compose.services.prometheus!;
    const mount = bindMountsOf(p).find((m) => m.host === join(infra, 'prometheus', 'prometheus.yml'));
    expect(commandOf(p)).toContain(`--config.file=${mount?.container}`);
  });
});

describe('infra/grafana - the raftline dashboard', () => {
  const dashboardsDir = join(infra, 'grafana', 'dashboards');
  const files = readdirSync(dashboardsDir).filter((f) => f.endsWith('.json'));
  const dashboard = JSON.parse(readFileSync(join(dashboardsDir, 'raftline.json'), 'utf8')) as {
    uid: string;
    panels: { id: number; type: string; title: string; targets?: { expr: string }[] }[];
    templating: { list: { query: { query: string } }[] };
  };
  const exprs = dashboard.panels.flatMap((p) => (p.targets ?? []).map((t) => t.expr));
  exprs.push(
    ...dashboard.templating.list.map((v) => v.query.query.replace(/^label_values\((\w+),.*$/, '$1')),
  );

  /** Every metric a replica serves: raftline's own and the sample services' (names.ts). */
  const ALL: Readonly<Record<string, MetricSpec>> = { ...METRICS, ...SERVICE_METRICS };
  /** A series name a replica serves: a metric of names.ts, or a histogram's _bucket/_sum/_count. */
  const served = (name: string): boolean => {
    if (name in ALL) return ALL[name]!.type !== 'histogram';
    const h = splitHistogramSeries(name);
    return h !== undefined && ALL[h.metric]?.type === 'histogram';
  };

  it('parses, and every panel has a unique id and a title', () => {
    expect(files).toContain('raftline.json');
    const ids = dashboard.panels.map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const p of dashboard.panels) expect(p.title.length).toBeGreaterThan(0);
    expect(exprs.length).toBeGreaterThan(20);
  });

  it('names only metrics that exist (METRICS and SERVICE_METRICS of packages/cli/src/metrics/names.ts), besides Prometheus up', () => {
    const unknown = exprs.flatMap(metricNamesIn).filter((n) => n !== 'up' && !served(n));
    expect(unknown).toEqual([]);
  });

  it("shows every metric a replica serves, the services' own included", () => {
    const shown = new Set(
      exprs.flatMap(metricNamesIn).map((n) => (n in ALL ? n : (splitHistogramSeries(n)?.metric ?? n))),
    );
    expect(Object.keys(ALL).filter((m) => !shown.has(m))).toEqual([]);
  });

  it('the metric-name reader tells metrics from functions, labels, strings and keywords', () => {
    expect(
      metricNamesIn(
        'histogram_quantile(0.99, sum by (group, le) (rate(raftline_x_bucket{role="leader", a=~"b{c}"}[5m]))) / on (group) up offset 1h',
      ),
    ).toEqual(['raftline_x_bucket', 'up']);
    expect(metricNamesIn('sum(a) without (b) + count(c) and d')).toEqual(['a', 'c', 'd']);
    expect(() => metricNamesIn('a{b="c"')).toThrow(PromQlSyntaxError);
    expect(served('raftline_term')).toBe(true);
    expect(served('raftline_term_bucket')).toBe(false);
    expect(served('raftline_proposal_apply_seconds_bucket')).toBe(true);
    expect(served('raftline_proposal_apply_seconds')).toBe(false);
  });

  it('provisioning points Grafana at the compose Prometheus and at the mounted dashboards', () => {
    const datasources = readYaml('grafana', 'provisioning', 'datasources', 'prometheus.yml') as {
      datasources: { uid: string; url: string; type: string }[];
    };
    const providers = readYaml('grafana', 'provisioning', 'dashboards', 'raftline.yml') as {
      providers: { options: { path: string } }[];
    };
    const [ds] = datasources.datasources;
    expect(ds?.type).toBe('prometheus');
    expect(new URL(ds!.url).hostname).toBe('prometheus');
    expect(new URL(ds!.url).port).toBe(
      (compose.services.prometheus!.ports ?? []).map(String)[0]!.split(':').pop(),
    );
    const grafana = compose.services.grafana!;
    const mounts = bindMountsOf(grafana);
    expect(mounts.find((m) => m.host === dashboardsDir)?.container).toBe(
      providers.providers[0]!.options.path,
    );
    expect(mounts.find((m) => m.host === join(infra, 'grafana', 'provisioning'))?.container).toBe(
      '/etc/grafana/provisioning',
    );
    // Every panel's data source is the provisioned one.
    const uids = new Set(
      (dashboard.panels as { datasource?: { uid: string } }[]).flatMap((p) =>
        p.datasource ? [p.datasource.uid] : [],
      ),
    );
    expect([...uids]).toEqual([ds!.uid]);
  });
});
