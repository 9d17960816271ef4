import { execFile } from 'node:child_process';
import { connect } from 'node:net';
import { promisify } from 'node:util';

/** Where the tests find RabbitMQ and PostgreSQL unless AMQP_URL / DATABASE_URL say otherwise. */
export const DEFAULT_AMQP_URL = 'amqp://guest:guest@127.0.0.1:5672';
export const DEFAULT_DATABASE_URL = 'postgresql://postgres@127.0.0.1:5432/postgres';

/** Whether something accepts TCP connections at the URL's host and port within `timeoutMs`. */
export function answers(url: string, defaultPort: number, timeoutMs = 1_500): Promise<boolean> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const socket = connect({ host: hostname || '127.0.0.1', port: Number(port || defaultPort) });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

/** Whether a Docker engine (not just the client) answers here. */
export async function dockerEngineAvailable(): Promise<boolean> {
  try {
    await promisify(execFile)('docker', ['info', '--format', '{{.ServerVersion}}'], { timeout: 5_000 });
    return true;
  } catch {
    return false;
  }
}

/** A started container that the teardown stops. */
export interface StartedInfrastructure {
  stop(): Promise<void>;
}

/**
 * Makes sure the tests have a real broker and database. Local services win (they are faster and
 * what CI runs); without them and with a Docker engine, testcontainers starts them; with neither,
 * it fails at once naming both ways, instead of letting every test time out.
 */
export async function ensureInfrastructure(
  env: NodeJS.ProcessEnv,
  { dockerAvailable = dockerEngineAvailable }: { dockerAvailable?: () => Promise<boolean> } = {},
): Promise<StartedInfrastructure[]> {
  env.AMQP_URL ??= DEFAULT_AMQP_URL;
  env.DATABASE_URL ??= DEFAULT_DATABASE_URL;
  const [amqpUp, databaseUp] = await Promise.all([
    answers(env.AMQP_URL, 5672),
    answers(env.DATABASE_URL, 5432),
  ]);
  if (amqpUp && databaseUp) return [];

  const missing = [
    !amqpUp && `RabbitMQ at ${hostOf(env.AMQP_URL)}`,
    !databaseUp && `PostgreSQL at ${hostOf(env.DATABASE_URL)}`,
  ]
    .filter(Boolean)
    .join(' and ');
  if (!(await dockerAvailable())) {
    throw new Error(
      `The tests need a real RabbitMQ and PostgreSQL, and ${missing} did not answer. Either start them ` +
        '(RabbitMQ: `rabbitmq-server -detached`; PostgreSQL: `pg_ctlcluster --skip-systemctl-redirect ' +
        '$(ls /etc/postgresql) main start`) or point AMQP_URL / DATABASE_URL at running ones, or run the ' +
        'tests where a Docker engine is available so testcontainers can start them.',
    );
  }

  // Loaded only here: testcontainers is heavy and only needed on machines without local services.
  const { GenericContainer, Wait } = await import('testcontainers');
  const started: StartedInfrastructure[] = [];
  if (!amqpUp) {
    const rabbit = await new GenericContainer('rabbitmq:3.13-alpine')
      .withExposedPorts(5672)
      .withWaitStrategy(Wait.forLogMessage(/Server startup complete/))
      .start();
    env.AMQP_URL = `amqp://guest:guest@${rabbit.getHost()}:${rabbit.getMappedPort(5672)}`;
    started.push({ stop: async () => void (await rabbit.stop()) });
  }
  if (!databaseUp) {
    const postgres = await new GenericContainer('postgres:15-alpine')
      .withEnvironment({ POSTGRES_HOST_AUTH_METHOD: 'trust' })
      .withExposedPorts(5432)
      .withWaitStrategy(Wait.forLogMessage(/database system is ready to accept connections/, 2))
      .start();
    env.DATABASE_URL = `postgresql://postgres@${postgres.getHost()}:${postgres.getMappedPort(5432)}/postgres`;
    started.push({ stop: async () => void (await postgres.stop()) });
  }
  return started;
}

function hostOf(url: string): string {
  const { hostname, port } = new URL(url);
  return `${hostname}:${port}`;
}
