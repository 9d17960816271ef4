// Static checks of the Dockerfiles and deploy/compose.yaml: no Docker engine runs here, so what can be
// known without one is checked here, and bundles.test.ts runs the very commands these files name.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import {
  DEPLOY_DIR,
  DOCKER_DIR,
  execForm,
  healthcheckCommand,
  instructionsOf,
  lastStage,
  parseDockerfile,
  readCompose,
  SERVICES,
  WORKSPACE_ROOT,
} from './support';
import { SERVICE_NODE_OPTIONS } from '../bench/harness';

const DOCKERFILES = readdirSync(DOCKER_DIR).filter((name) => name.endsWith('.Dockerfile'));
const SLIM_NODE = /^node:(22|24)(\.\d+){0,2}-slim$/;
const DEFAULT_PORTS = {
  'addin-gateway': 8080,
  'routing-worker': 8081,
  'history-service': 8082,
  'notification-service': 8083,
};

describe('the Dockerfiles', () => {
  it('exist for every service under services/', () => {
    const services = readdirSync(path.join(WORKSPACE_ROOT, 'services')).sort();

    expect(services).toEqual([...SERVICES].sort());
    for (const service of services) expect(DOCKERFILES).toContain(`${service}.Dockerfile`);
  });

  it.each(DOCKERFILES)('%s builds and runs on a Node 22 or 24 slim image in every stage', (file) => {
    const stages = parseDockerfile(path.join(DOCKER_DIR, file));

    expect(stages.length).toBeGreaterThanOrEqual(2);
    for (const stage of stages) expect(stage.from).toMatch(SLIM_NODE);
  });

  it.each(DOCKERFILES)('%s copies only the production bundle into its runtime stage', (file) => {
    const stages = parseDockerfile(path.join(DOCKER_DIR, file));
    const runtime = stages.at(-1)!;
    const build = stages[0]!;
    const bundle = file.replace('.Dockerfile', '').replace('addin-simulator', 'addin-client');

    expect(instructionsOf(runtime, 'ADD')).toEqual([]);
    expect(instructionsOf(runtime, 'COPY').map((copy) => copy.args)).toEqual([
      `--from=${build.name} /bundles/${bundle} /app`,
    ]);
    // The bundle comes from the same script CI runs.
    expect(
      instructionsOf(build, 'RUN')
        .map((run) => run.args)
        .join('\n'),
    ).toContain(`node scripts/bundle.mjs --out /bundles ${bundle}`);
  });

  it.each(DOCKERFILES)('%s runs as a non-root user, in production mode, with node as PID 1', (file) => {
    const runtime = lastStage(file.replace('.Dockerfile', ''));
    const users = instructionsOf(runtime, 'USER').map((user) => user.args);
    const starts = [...instructionsOf(runtime, 'ENTRYPOINT'), ...instructionsOf(runtime, 'CMD')];
    const first = starts[0]!;

    expect(users.at(-1)).toBe('node');
    expect(
      instructionsOf(runtime, 'ENV')
        .map((env) => env.args)
        .join(' '),
    ).toMatch(/\bNODE_ENV=production\b/);
    // Exec form (a JSON array): no shell in between to swallow SIGTERM.
    for (const start of starts) expect(execForm(start.args)).not.toBeNull();
    expect(execForm(first.args)?.[0]).toBe('node');
  });

  it.each(SERVICES)(
    '%s.Dockerfile exposes its port, probes /healthz with node and starts dist/main.js',
    (service) => {
      const runtime = lastStage(service);
      const [healthcheck] = instructionsOf(runtime, 'HEALTHCHECK');

      expect(instructionsOf(runtime, 'EXPOSE').map((expose) => expose.args)).toEqual([
        String(DEFAULT_PORTS[service]),
      ]);
      const env = instructionsOf(runtime, 'ENV')
        .map((instruction) => instruction.args)
        .join(' ');
      expect(env).toContain(`PORT=${DEFAULT_PORTS[service]}`);
      // The benchmark's figures are only the images' figures if it runs the services with the same V8 flags.
      expect(env).toContain(`NODE_OPTIONS="${SERVICE_NODE_OPTIONS}"`);
      expect(healthcheckCommand(healthcheck!.args)?.slice(0, 2)).toEqual(['node', '-e']);
      expect(healthcheckCommand(healthcheck!.args)?.[2]).toContain('/healthz');
      expect(instructionsOf(runtime, 'CMD').map((cmd) => execForm(cmd.args))).toEqual([
        ['node', 'dist/main.js'],
      ]);
    },
  );

  it('leave the host build output and secrets out of the build context (.dockerignore)', () => {
    const ignored = readFileLines(path.join(WORKSPACE_ROOT, '.dockerignore'));

    expect(ignored).toEqual(
      expect.arrayContaining(['**/node_modules', '**/dist', 'bundles', '.git', '**/.env']),
    );
  });
});

describe('deploy/compose.yaml', () => {
  const compose = readCompose();
  const services = Object.entries(compose.services);

  it('runs RabbitMQ with its management UI, PostgreSQL 16, a migration per service and the four services', () => {
    expect(compose.services.rabbitmq?.image).toMatch(/^rabbitmq:3\.13(\.\d+)?-management$/);
    expect(compose.services.postgres?.image).toMatch(/^postgres:16(\.\d+)?$/);
    for (const service of SERVICES) {
      expect(compose.services[service]?.environment?.NODE_ENV).toBe('production');
      expect(compose.services[service]?.environment?.MCMS_QUEUE_TYPE).toBe('quorum');
      expect(compose.services[service]?.depends_on?.[`migrate-${service}`]).toEqual({
        condition: 'service_completed_successfully',
      });
      expect(compose.services[`migrate-${service}`]?.depends_on?.postgres).toEqual({
        condition: 'service_healthy',
      });
      expect(compose.services[`migrate-${service}`]?.restart).toBe('no');
    }
  });

  it('builds every image from an existing Dockerfile, one image per service and its migration', () => {
    for (const [name, service] of services.filter(([, s]) => s.build)) {
      const context = path.resolve(DEPLOY_DIR, service.build!.context);

      expect({ name, context }).toEqual({ name, context: WORKSPACE_ROOT });
      expect(existsSync(path.join(context, service.build!.dockerfile))).toBe(true);
      expect(service.image).toBe(
        `mcms/${path.basename(service.build!.dockerfile, '.Dockerfile')}:\${MCMS_VERSION:-local}`,
      );
    }
    for (const service of SERVICES) {
      expect(compose.services[`migrate-${service}`]?.image).toBe(compose.services[service]?.image);
    }
  });

  it('gives a healthcheck to every service that publishes a port or that others wait on as healthy', () => {
    const awaited = new Set(
      services.flatMap(([, s]) =>
        Object.entries(s.depends_on ?? {})
          .filter(([, dependency]) => dependency.condition === 'service_healthy')
          .map(([name]) => name),
      ),
    );
    const needing = services.filter(([name, s]) => (s.ports?.length ?? 0) > 0 || awaited.has(name));

    expect(needing.map(([name]) => name)).toEqual(
      expect.arrayContaining(['rabbitmq', 'postgres', ...SERVICES]),
    );
    for (const [name, service] of needing)
      expect({ name, test: service.healthcheck?.test?.[0] }).toEqual({ name, test: 'CMD' });
  });

  it('writes no secret value: passwords, secrets and keys come from variables only', () => {
    const secretKey = /PASSWORD|SECRET|KEY|TOKEN/i;
    const onlyVariable = /^\$\{[A-Z_]+(:?[-?][^}]*)?\}$/;
    for (const [name, service] of services) {
      for (const [key, value] of Object.entries(service.environment ?? {})) {
        const text = String(value);
        if (secretKey.test(key))
          expect({ name, key, value: text }).toEqual({
            name,
            key,
            value: expect.stringMatching(onlyVariable),
          });
        // A password inside a URL (amqp://user:password@host) must be a variable too.
        const password = /:\/\/[^:/@]+:([^@]*)@/.exec(text)?.[1];
        if (password !== undefined)
          expect({ name, key, password }).toEqual({
            name,
            key,
            password: expect.stringMatching(onlyVariable),
          });
      }
    }
  });

  it('shares the shared-drive volume between routing-worker and the simulator profile only', () => {
    const mounting = services
      .filter(([, s]) => s.volumes?.some((volume) => volume.startsWith('shared-drive:')))
      .map(([name]) => name);

    expect(mounting.sort()).toEqual(['addin-simulator', 'routing-worker']);
    expect(compose.services['addin-simulator']?.profiles).toEqual(['simulator']);
    expect(compose.services['routing-worker']?.environment?.SHARED_DRIVE_ROOT).toBe('/shared-drive');
    expect(compose.services['addin-gateway']?.environment?.ADDIN_BOOTSTRAP_KEY).toBe(
      '${ADDIN_BOOTSTRAP_KEY:-}',
    );
  });
});

function readFileLines(file: string): string[] {
  return readFileSync(file, 'utf8')
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line && !line.startsWith('#'));
}
