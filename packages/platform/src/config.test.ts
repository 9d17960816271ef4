import { z } from 'zod';
import {
  baseServiceConfig,
  brokerServiceConfig,
  ConfigError,
  envBool,
  envDurationMs,
  envInt,
  envLogLevel,
  envPort,
  envUrl,
  exitOnConfigError,
  loadConfig,
  parseDurationMs,
} from './config';

function configErrorFrom(load: () => unknown): ConfigError {
  try {
    load();
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error('expected a ConfigError');
}

describe('loadConfig', () => {
  const schema = z.object({
    ...baseServiceConfig,
    PORT: envPort(3000),
    SHARED_DRIVE_URL: envUrl({ protocols: ['smb'] }),
    API_SECRET: z.string().min(32, { error: (issue) => `too short: ${String(issue.input)}` }),
    RETRY_DELAY: envDurationMs('5s'),
  });

  it('names every bad key in one error and never prints a value', () => {
    const env = {
      PORT: 'port-hunter2',
      AMQP_URL: 'http://guest:hunter2@rabbit',
      API_SECRET: 'hunter2-but-short',
      RETRY_DELAY: 'soon-hunter2',
    };

    const error = configErrorFrom(() => loadConfig(schema, env));

    expect(error.issues.map((issue) => issue.key).sort()).toEqual(
      ['AMQP_URL', 'API_SECRET', 'PORT', 'RETRY_DELAY', 'SHARED_DRIVE_URL'].sort(),
    );
    expect(error.message).toMatch(/^invalid configuration: /);
    expect(error.message).toContain('PORT: expected a number');
    expect(error.message).toContain('SHARED_DRIVE_URL: required');
    expect(error.message).not.toContain('hunter2');
  });

  it('applies the defaults of the base service config', () => {
    const config = loadConfig(z.object(baseServiceConfig), {});

    expect(config).toEqual({
      NODE_ENV: 'development',
      LOG_LEVEL: 'info',
      AMQP_URL: 'amqp://guest:guest@127.0.0.1:5672',
      DATABASE_URL: 'postgresql://postgres@127.0.0.1:5432/postgres',
    });
  });

  it('treats an empty variable as unset so its default applies', () => {
    const config = loadConfig(z.object({ PORT: envPort(3000), LOG_LEVEL: envLogLevel() }), {
      PORT: '',
      LOG_LEVEL: '',
    });

    expect(config).toEqual({ PORT: 3000, LOG_LEVEL: 'info' });
  });

  it('returns typed values parsed from strings', () => {
    const config = loadConfig(
      z.object({
        ...baseServiceConfig,
        PORT: envPort(3000),
        WORKERS: envInt({ default: 1, min: 1, max: 8 }),
        PREFETCH: envInt({ min: 1 }),
        DRY_RUN: envBool(false),
        TIMEOUT: envDurationMs(1000),
      }),
      {
        NODE_ENV: 'production',
        LOG_LEVEL: 'DEBUG',
        PORT: '8080',
        PREFETCH: '20',
        DRY_RUN: 'yes',
        TIMEOUT: '30s',
        DATABASE_URL: 'postgresql://mcms:pw@db:5432/mcms',
      },
    );

    expect(config).toEqual({
      NODE_ENV: 'production',
      LOG_LEVEL: 'debug',
      AMQP_URL: 'amqp://guest:guest@127.0.0.1:5672',
      DATABASE_URL: 'postgresql://mcms:pw@db:5432/mcms',
      PORT: 8080,
      WORKERS: 1,
      PREFETCH: 20,
      DRY_RUN: true,
      TIMEOUT: 30_000,
    });
  });

  it('rejects values outside the helpers bounds', () => {
    const error = configErrorFrom(() =>
      loadConfig(
        z.object({
          PORT: envPort(3000),
          WORKERS: envInt({ min: 1, max: 8 }),
          DRY_RUN: envBool(false),
          LOG_LEVEL: envLogLevel(),
          AMQP_URL: envUrl({ protocols: ['amqp', 'amqps'] }),
        }),
        { PORT: '70000', WORKERS: '9', DRY_RUN: 'maybe', LOG_LEVEL: 'loud', AMQP_URL: 'not a url' },
      ),
    );

    expect(error.issues).toEqual([
      { key: 'PORT', message: 'expected a port between 0 and 65535' },
      { key: 'WORKERS', message: 'expected at most 8' },
      { key: 'DRY_RUN', message: 'expected true or false' },
      { key: 'LOG_LEVEL', message: 'expected one of fatal, error, warn, info, debug, trace, silent' },
      { key: 'AMQP_URL', message: 'expected a URL starting with amqp:// or amqps://' },
    ]);
  });

  it('reads "false" as false rather than as a non-empty string', () => {
    expect(loadConfig(z.object({ FLAG: envBool(true) }), { FLAG: 'false' })).toEqual({ FLAG: false });
  });
});

describe('parseDurationMs', () => {
  it.each([
    ['1500', 1500],
    ['1500ms', 1500],
    ['30s', 30_000],
    ['5m', 300_000],
    ['24h', 86_400_000],
    ['1.5s', 1500],
    [' 2 S ', 2000],
  ])('reads %p as %p ms', (text, ms) => {
    expect(parseDurationMs(text)).toBe(ms);
  });

  it.each(['', 'soon', '-5s', '5 weeks', '5x', 's', '1e3'])('rejects %p', (text) => {
    expect(parseDurationMs(text)).toBeUndefined();
  });

  it('refuses an invalid default when the schema is built', () => {
    expect(() => envDurationMs('whenever')).toThrow('invalid default duration');
  });
});

describe('exitOnConfigError', () => {
  class Exited extends Error {}
  const schema = z.object({ AMQP_URL: envUrl() });

  it('prints the message to stderr and exits with status 1', () => {
    const written: string[] = [];
    const codes: number[] = [];

    expect(() =>
      exitOnConfigError(() => loadConfig(schema, {}), {
        write: (text) => written.push(text),
        exit: (code) => {
          codes.push(code);
          throw new Exited();
        },
      }),
    ).toThrow(Exited);
    expect(written).toEqual(['invalid configuration: AMQP_URL: required\n']);
    expect(codes).toEqual([1]);
  });

  it('returns the config when it is valid and rethrows errors that are not about configuration', () => {
    const io = {
      write: () => undefined,
      exit: (): never => {
        throw new Exited();
      },
    };

    expect(exitOnConfigError(() => loadConfig(schema, { AMQP_URL: 'amqp://h' }), io)).toEqual({
      AMQP_URL: 'amqp://h',
    });
    expect(() =>
      exitOnConfigError(() => {
        throw new TypeError('bug');
      }, io),
    ).toThrow(TypeError);
  });
});

describe('the broker keys every consuming service shares', () => {
  const schema = z.object({ ...brokerServiceConfig });

  it('default to no prefix, quorum queues and five attempts', () => {
    expect(loadConfig(schema, {})).toEqual({
      MCMS_TOPOLOGY_PREFIX: '',
      MCMS_QUEUE_TYPE: 'quorum',
      MCMS_RETRY_DELAYS: [1_000, 5_000, 30_000, 120_000],
    });
  });

  it('read a list of delays and name a bad one', () => {
    expect(loadConfig(schema, { MCMS_RETRY_DELAYS: '200ms, 1s' }).MCMS_RETRY_DELAYS).toEqual([200, 1_000]);
    expect(() => loadConfig(schema, { MCMS_RETRY_DELAYS: '1s,soon', MCMS_QUEUE_TYPE: 'fast' })).toThrow(
      /MCMS_QUEUE_TYPE: expected quorum or classic; MCMS_RETRY_DELAYS: expected comma-separated durations/,
    );
  });
});
