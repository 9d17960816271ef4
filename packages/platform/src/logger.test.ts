import { createLogger, lazyChild, redactUrl, withCorrelation } from './logger';

function captureLines() {
  const lines: Record<string, unknown>[] = [];
  const raw: string[] = [];
  const destination = {
    write: (line: string) => {
      raw.push(line);
      lines.push(JSON.parse(line) as Record<string, unknown>);
    },
  };
  return { lines, raw, destination };
}

describe('createLogger', () => {
  it('writes JSON lines with the service, a level label and the message', () => {
    const { lines, destination } = captureLines();
    const log = createLogger({ service: 'routing-worker', level: 'info', destination });

    log.info({ jobId: 'j-1' }, 'job completed');
    log.debug('not at info');

    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({
      service: 'routing-worker',
      level: 'info',
      jobId: 'j-1',
      msg: 'job completed',
    });
  });

  it('logs err/error fields that are not Errors as they are, without throwing', () => {
    const { lines, destination } = captureLines();
    const log = createLogger({ service: 's', destination });

    log.warn({ err: 'amqp://u:hunter2@h/ refused', error: 42 }, 'odd failure');
    log.warn({ err: undefined, error: { code: 'x' } }, 'odder');

    expect(lines[0]).toMatchObject({ err: 'amqp://u:***@h/ refused', error: 42 });
    expect(lines[1]).toMatchObject({ error: { code: 'x' }, msg: 'odder' });
  });

  it('redacts the Authorization and x-addin-key headers of a logged request', () => {
    const { lines, raw, destination } = captureLines();
    const log = createLogger({ service: 'addin-gateway', destination });

    log.info(
      {
        req: {
          method: 'POST',
          headers: { authorization: 'Bearer abc.def.ghi', 'x-addin-key': 'key-123456' },
        },
      },
      'request',
    );

    expect(lines[0]).toMatchObject({
      req: { method: 'POST', headers: { authorization: '[redacted]', 'x-addin-key': '[redacted]' } },
    });
    expect(raw.join('')).not.toMatch(/abc\.def\.ghi|key-123456/);
  });

  it('redacts secret fields at the top level, one and two levels down, and in child bindings', () => {
    const { raw, destination } = captureLines();
    const log = createLogger({ service: 's', destination });

    log.info(
      { password: 'pw-top', user: { token: 'tok-one' }, a: { b: { apiKey: 'api-two', secret: 'sec-two' } } },
      'x',
    );
    log.child({ credentials: { key: 'child-key' } }).info('child');

    expect(raw.join('')).not.toMatch(/pw-top|tok-one|api-two|sec-two|child-key/);
  });

  it('keeps a connection URL readable but drops its password', () => {
    const { lines, raw, destination } = captureLines();
    const log = createLogger({ service: 's', destination });

    log.info(
      { amqpUrl: 'amqp://mcms:hunter2@rabbit:5672', db: { url: 'postgresql://mcms:hunter3@db/mcms' } },
      'x',
    );
    log.error({ err: new Error('connect failed for amqp://mcms:hunter4@rabbit:5672') }, 'broker down');

    expect(lines[0]).toMatchObject({
      amqpUrl: 'amqp://mcms:***@rabbit:5672',
      db: { url: 'postgresql://mcms:***@db/mcms' },
    });
    expect(raw.join('')).not.toMatch(/hunter/);
  });

  it('adds extra redaction paths on request', () => {
    const { raw, destination } = captureLines();
    const log = createLogger({ service: 's', destination, redact: ['job.sharedDrivePath'] });

    log.info({ job: { id: 'j', sharedDrivePath: '//server/private' } }, 'x');

    expect(raw.join('')).not.toContain('//server/private');
  });
});

describe('withCorrelation', () => {
  it('returns a child whose every line carries the correlation id and the extra fields', () => {
    const { lines, destination } = captureLines();
    const log = withCorrelation(createLogger({ service: 's', destination }), 'corr-1', { jobId: 'j-1' });

    log.info('one');
    log.warn('two');

    expect(lines).toEqual([
      expect.objectContaining({ correlationId: 'corr-1', jobId: 'j-1', msg: 'one' }),
      expect.objectContaining({ correlationId: 'corr-1', jobId: 'j-1', msg: 'two' }),
    ]);
  });
});

describe('redactUrl', () => {
  it.each([
    ['amqp://mcms:s3cret@rabbit:5672/vhost', 'amqp://mcms:***@rabbit:5672/vhost'],
    [
      'postgresql://mcms:s3cret@db:5432/mcms?sslmode=require',
      'postgresql://mcms:***@db:5432/mcms?sslmode=require',
    ],
    ['amqps://mcms:p@ss@rabbit', 'amqps://mcms:***@rabbit'],
    ['failed: amqp://a:b@h1 and postgres://c:d@h2/db', 'failed: amqp://a:***@h1 and postgres://c:***@h2/db'],
    ['postgresql://postgres@127.0.0.1:5432/postgres', 'postgresql://postgres@127.0.0.1:5432/postgres'],
    ['http://example.com/a@b', 'http://example.com/a@b'],
    ['/jobs/42', '/jobs/42'],
  ])('turns %p into %p', (input, expected) => {
    expect(redactUrl(input)).toBe(expected);
  });
});

describe('lazyChild', () => {
  it('makes no child for a line of a level that is off, and writes an enabled line with its bindings', () => {
    const { lines, destination } = captureLines();
    const parent = createLogger({ service: 's', level: 'info', destination });
    const makeChild = jest.spyOn(parent, 'child');
    const log = lazyChild(parent, { messageId: 'm-1', password: 'hunter2' });

    log.debug({ outcome: 'recorded' }, 'event handled');
    log.trace('nor this');
    expect(makeChild).not.toHaveBeenCalled();
    expect(lines).toHaveLength(0);

    log.info({ jobId: 'j-1' }, 'alert stored');
    log.warn('twice');
    expect(makeChild).toHaveBeenCalledTimes(1);
    expect(lines).toEqual([
      expect.objectContaining({
        messageId: 'm-1',
        password: '[redacted]',
        jobId: 'j-1',
        msg: 'alert stored',
      }),
      expect.objectContaining({ messageId: 'm-1', level: 'warn', msg: 'twice' }),
    ]);
  });

  it('is a whole logger: its own children and bindings carry what it was given', () => {
    const { lines, destination } = captureLines();
    const log = lazyChild(createLogger({ service: 's', level: 'debug', destination }), { queue: 'q' });

    expect(log.bindings()).toMatchObject({ queue: 'q' });
    expect(log.isLevelEnabled('debug')).toBe(true);
    log.child({ attempt: 2 }).debug('retried');

    expect(lines).toEqual([
      expect.objectContaining({ queue: 'q', attempt: 2, level: 'debug', msg: 'retried' }),
    ]);
  });

  it('takes a level of its own without changing its parent', () => {
    const { lines, destination } = captureLines();
    const parent = createLogger({ service: 's', level: 'info', destination });
    const log = lazyChild(parent, { messageId: 'm-2' });

    log.level = 'debug';
    log.debug('now on');
    parent.debug('still off');

    expect(parent.level).toBe('info');
    expect(lines).toEqual([expect.objectContaining({ messageId: 'm-2', level: 'debug', msg: 'now on' })]);
  });
});
