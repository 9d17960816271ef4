import { z } from 'zod';
import {
  AppError,
  badRequest,
  conflict,
  forbidden,
  fromZodError,
  internal,
  isAppError,
  isDependencyUnavailable,
  notFound,
  parseWith,
  payloadTooLarge,
  unauthorized,
  unavailable,
  unsupportedMediaType,
  validationFailed,
} from './errors';

describe('error factories', () => {
  it.each([
    ['badRequest', badRequest('bad'), 400, 'invalid_request'],
    ['validationFailed', validationFailed([{ path: 'a', message: 'm' }]), 400, 'validation_failed'],
    ['unauthorized', unauthorized(), 401, 'unauthorized'],
    ['forbidden', forbidden(), 403, 'forbidden'],
    ['notFound', notFound('job 42'), 404, 'not_found'],
    ['conflict', conflict('job_already_completed', 'already completed'), 409, 'job_already_completed'],
    ['payloadTooLarge', payloadTooLarge(), 413, 'payload_too_large'],
    ['unsupportedMediaType', unsupportedMediaType(), 415, 'unsupported_media_type'],
    ['internal', internal(), 500, 'internal'],
  ])('%s gives its status and code and is not retryable', (_name, error, httpStatus, code) => {
    expect(error).toBeInstanceOf(AppError);
    expect(error).toMatchObject({ httpStatus, code, retryable: false });
  });

  it('marks only an unavailable dependency as retryable, keeping its cause', () => {
    const cause = new Error('ECONNREFUSED');
    const error = unavailable('broker unavailable', cause);

    expect(error).toMatchObject({ httpStatus: 503, code: 'dependency_unavailable', retryable: true });
    expect(error.cause).toBe(cause);
  });

  it('names the missing thing in a not-found message', () => {
    expect(notFound('job 42').message).toBe('job 42 not found');
  });

  it('recognises an AppError but not a plain Error or a look-alike object', () => {
    expect(isAppError(badRequest('x'))).toBe(true);
    expect(isAppError(new Error('x'))).toBe(false);
    expect(isAppError({ code: 'x', httpStatus: 400, retryable: false })).toBe(false);
    expect(isAppError(undefined)).toBe(false);
  });
});

describe('fromZodError', () => {
  const Body = z.object({
    jobId: z.string().uuid(),
    outputs: z.array(z.object({ sha256: z.string().regex(/^[a-f0-9]{64}$/) })),
  });

  it('lists every bad field by dotted path and names the paths in the message', () => {
    const result = Body.safeParse({ jobId: 'nope', outputs: [{ sha256: 'a'.repeat(64) }, { sha256: 'zz' }] });
    if (result.success) throw new Error('expected the body to be invalid');

    const error = fromZodError(result.error);

    expect(error).toMatchObject({ httpStatus: 400, code: 'validation_failed', retryable: false });
    expect(error.details).toEqual([
      { path: 'jobId', message: expect.any(String) },
      { path: 'outputs.1.sha256', message: expect.any(String) },
    ]);
    expect(error.message).toBe('validation failed: jobId, outputs.1.sha256');
  });
});

describe('parseWith', () => {
  const Body = z.object({ name: z.string(), count: z.number().int() });

  it('returns the parsed value when it is valid', () => {
    expect(parseWith(Body, { name: 'a', count: 2, extra: true })).toEqual({ name: 'a', count: 2 });
  });

  it('throws validation_failed naming each bad field', () => {
    let thrown: unknown;
    try {
      parseWith(Body, { count: 1.5 });
    } catch (err) {
      thrown = err;
    }

    expect(isAppError(thrown)).toBe(true);
    expect((thrown as AppError).details).toEqual([
      { path: 'name', message: expect.any(String) },
      { path: 'count', message: expect.any(String) },
    ]);
  });
});

describe('isDependencyUnavailable', () => {
  // Each shape was logged by a service during the chaos run (tests/chaos) while PostgreSQL restarted.
  it.each([
    [
      'a refused connection',
      Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' }),
    ],
    ['a reset connection', Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' })],
    [
      'PostgreSQL starting up (57P03)',
      Object.assign(new Error('the database system is starting up'), { code: '57P03' }),
    ],
    [
      'an administrator shutdown (57P01)',
      Object.assign(new Error('terminating connection'), { code: '57P01' }),
    ],
    ['a connection exception (class 08)', Object.assign(new Error('connection failure'), { code: '08006' })],
    ['node-postgres losing its connection', new Error('Connection terminated unexpectedly')],
    [
      'a node-postgres client after an error',
      new Error('Client has encountered a connection error and is not queryable'),
    ],
    [
      'Prisma: server unreachable (P1001)',
      Object.assign(new Error("Can't reach database server"), { code: 'P1001' }),
    ],
    [
      'Prisma: connection closed (P1017)',
      Object.assign(new Error('Server has closed the connection.'), { code: 'P1017' }),
    ],
    [
      "Prisma's DriverAdapterError: connection closed inside a transaction",
      Object.assign(new Error('ConnectionClosed', { cause: { kind: 'ConnectionClosed' } }), {
        name: 'DriverAdapterError',
      }),
    ],
    [
      'Prisma: no transaction within its wait (P2028)',
      Object.assign(new Error('Transaction API error: Unable to start a transaction in the given time.'), {
        code: 'P2028',
      }),
    ],
    [
      'Prisma: a driver adapter error carrying 57P03',
      Object.assign(new Error('Database error'), {
        code: 'P2039',
        meta: { driverAdapterError: { cause: { kind: 'postgres', code: '57P03' } } },
      }),
    ],
    [
      'a wrapped cause',
      new Error('transaction failed', { cause: Object.assign(new Error('x'), { code: 'ECONNREFUSED' }) }),
    ],
  ])('recognises %s', (_name, err) => {
    expect(isDependencyUnavailable(err)).toBe(true);
  });

  it.each([
    ['a plain bug', new Error('relation "secret_table" does not exist')],
    ['a unique violation', Object.assign(new Error('duplicate key'), { code: '23505' })],
    ['a Prisma unique violation', Object.assign(new Error('Unique constraint failed'), { code: 'P2002' })],
    ['a non-error', 'ECONNREFUSED'],
    ['nothing', undefined],
  ])('does not mistake %s for an outage', (_name, err) => {
    expect(isDependencyUnavailable(err)).toBe(false);
  });
});
