/**
 * The files of a generated project, as text. One function per file so each
 * reads as the file it writes; `projectFiles` lists them all.
 */

/** What the templates are filled with. */
export interface TemplateValues {
  /** The package name (validated by scaffold: an npm name). */
  readonly name: string;
  /** The version range of the @raftline/* packages the project depends on. */
  readonly raftlineRange: string;
  /** The TypeScript version range of the project. */
  readonly typescriptRange: string;
  /** The @types/node version range of the project. */
  readonly nodeTypesRange: string;
}

function packageJson(v: TemplateValues): string {
  const pkg = {
    name: v.name,
    version: '0.1.0',
    private: true,
    description: 'A replicated state machine on raftline',
    type: 'commonjs',
    engines: { node: '>=20' },
    scripts: {
      build: 'tsc -p tsconfig.json',
      test: 'tsc -p tsconfig.json && node --test dist/test/',
      prestart: 'npm run build',
      start: 'raftline serve -c raftline.yaml',
      status: 'raftline status -c raftline.yaml',
    },
    dependencies: {
      '@raftline/cli': v.raftlineRange,
      '@raftline/core': v.raftlineRange,
    },
    devDependencies: {
      '@raftline/testing': v.raftlineRange,
      '@types/node': v.nodeTypesRange,
      typescript: v.typescriptRange,
    },
  };
  return `${JSON.stringify(pkg, null, 2)}\n`;
}

function tsconfig(): string {
  const config = {
    compilerOptions: {
      // Standard (TC39) decorators, TypeScript's default: no flag needed.
      // ES2022 makes tsc lower them to code Node runs.
      target: 'es2022',
      module: 'commonjs',
      moduleResolution: 'node10',
      strict: true,
      skipLibCheck: false,
      esModuleInterop: true,
      forceConsistentCasingInFileNames: true,
      types: ['node'],
      rootDir: '.',
      outDir: 'dist',
    },
    include: ['src', 'test'],
  };
  return `${JSON.stringify(config, null, 2)}\n`;
}

function machine(): string {
  return `import { Command, Query, ReplicatedStateMachine, StateMachine, Validate } from '@raftline/core';

/**
 * A replicated counter per name. Commands run on every replica in log order
 * and must be deterministic; queries read the state and never change it.
 */
@StateMachine('counter')
export class Counter extends ReplicatedStateMachine {
  private counts: Record<string, number> = {};

  /** Adds \`by\` to the counter \`name\`; returns its new value. */
  @Command()
  add(name: string, by: number): number {
    this.counts[name] = (this.counts[name] ?? 0) + by;
    return this.counts[name];
  }

  /** Runs on the leader before replication: a refused command never enters the log. */
  @Validate('add')
  protected checkAdd(name: string, by: number): string | undefined {
    if (typeof name !== 'string' || name === '') return 'name must be a non-empty string';
    return Number.isInteger(by) ? undefined : 'by must be an integer';
  }

  /** The counter's value (0 when it was never added to). */
  @Query()
  get(name: string): number {
    return this.counts[name] ?? 0;
  }
}
`;
}

function machineTest(): string {
  return `// A whole 3-replica cluster in this process, on a virtual clock, with
// faults: deterministic from the seed, so a failing seed replays exactly.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SimCluster } from '@raftline/testing';
import { Counter } from '../src/counter';

test('a command commits on 3 replicas and survives a crash of one', async () => {
  const cluster = await SimCluster.create({ nodes: 3, seed: 1, stateMachine: () => new Counter() });
  try {
    await cluster.advance(1000); // virtual time: an election happens
    assert.equal(await cluster.propose({ name: 'add', args: ['apples', 2] }), 2);
    cluster.crash(cluster.ids[0]!);
    await cluster.advance(2000);
    assert.equal(await cluster.propose({ name: 'add', args: ['apples', 3] }), 5); // two of three still commit
    cluster.check(); // throws naming the violated safety property, if any
  } finally {
    await cluster.stop();
  }
});

test('a bad command is refused before it is replicated', async () => {
  const cluster = await SimCluster.create({ nodes: 3, seed: 2, stateMachine: () => new Counter() });
  try {
    await cluster.advance(1000);
    await assert.rejects(cluster.propose({ name: 'add', args: ['apples', 1.5] }), {
      name: 'CommandRejectedError',
    });
    cluster.check();
  } finally {
    await cluster.stop();
  }
});
`;
}

function serveConfig(v: TemplateValues): string {
  return `# raftline serve -c raftline.yaml (npm start): one replica of the counter.
# Each setting can also come from a RAFTLINE_* variable or a flag
# (npx raftline serve --help). For three replicas, copy this file per node
# (node: n2, n3; their own store and metrics.port) and list all three in voters.
node: n1
cluster: ${v.name}
nats:
  servers: [127.0.0.1:4222] # nats-server -js
store: ./data/n1 # embedded PostgreSQL (PGlite); or postgres://user@host:5432/db, or memory
metrics: { port: 9464 } # /metrics, /healthz, /readyz
groups:
  counter:
    machine: ./dist/src/counter.js # built by npm run build (npm start runs it)
    voters: [n1]
`;
}

function readme(v: TemplateValues): string {
  return `# ${v.name}

A replicated state machine on [raftline](https://www.npmjs.com/package/@raftline/core):
\`src/counter.ts\` is the machine, \`test/counter.test.ts\` tests it on a
simulated 3-replica cluster, and \`raftline.yaml\` runs it with \`raftline serve\`.

\`\`\`sh
npm install
npm test        # compiles, then runs the SimCluster tests (node --test)
\`\`\`

## Run it

Start NATS with JetStream (\`nats-server -js\`, listening on 127.0.0.1:4222), then:

\`\`\`sh
npm start       # builds, then: raftline serve -c raftline.yaml
\`\`\`

and from another terminal:

\`\`\`sh
npx raftline call add '["apples", 2]' -c raftline.yaml    # 2
npx raftline query get '"apples"' -c raftline.yaml        # 2
npx raftline status -c raftline.yaml
curl -s 127.0.0.1:9464/readyz
\`\`\`

The log lives in \`./data/n1\` (embedded PostgreSQL); stop and start again and the
counts are still there. To use a PostgreSQL server, set \`store\` to a
\`postgres://\` URL.

## Three replicas

Copy \`raftline.yaml\` to \`n1.yaml\`, \`n2.yaml\` and \`n3.yaml\`; in each set
\`node\` (n1, n2, n3), its own \`store\` directory and \`metrics.port\`, and
\`voters: [n1, n2, n3]\`; start one \`npx raftline serve -c nN.yaml\` per file.
Commands go to the leader wherever they are sent; any two replicas keep the
service up.

## Change the machine

Add a \`@Command()\` method for each change of state and a \`@Query()\` method for
each read; keep commands deterministic (no clock, no randomness, no I/O: use
\`this.context.time\` for time). \`@Validate('name')\` checks a command on the
leader before it is replicated. Test every change with \`SimCluster\`: faults
(\`partition\`, \`crash\`, \`restart\`), then \`cluster.check()\`.
`;
}

function gitignore(): string {
  return 'node_modules/\ndist/\ndata/\n';
}

/**
 * Every file of a new project, by path relative to its directory.
 * @returns a map from relative path (forward slashes) to the file's text
 */
export function projectFiles(values: TemplateValues): Map<string, string> {
  return new Map([
    ['package.json', packageJson(values)],
    ['tsconfig.json', tsconfig()],
    ['src/counter.ts', machine()],
    ['test/counter.test.ts', machineTest()],
    ['raftline.yaml', serveConfig(values)],
    ['README.md', readme(values)],
    ['.gitignore', gitignore()],
  ]);
}
