import { Writable } from 'node:stream';
import express from 'express';
import jwt from 'jsonwebtoken';
import { defineRoute } from '@mcms/contracts';
import { z } from 'zod';
import { createJwtAuth, DEV_JWT_SECRET, hasRole, jwtSecretFrom } from './auth';
import { isConfigError } from './config';
import { createHttpApp, startHttpServer } from './http';
import { createLogger } from './logger';
import { createMetrics } from './metrics';
import { mountRoute, userAuthenticator } from './routes';

const secret = 'x'.repeat(40);
const auth = createJwtAuth({ secret });

describe('JWT authentication', () => {
  it('verifies a token it signed and keeps only known roles', () => {
    const token = jwt.sign({ sub: 'ana', roles: ['approver', 'pilot'] }, secret, { algorithm: 'HS256' });
    expect(auth.verify(token)).toEqual({ kind: 'user', name: 'ana', roles: ['approver'] });
  });

  it.each([
    ['another secret', jwt.sign({ sub: 'a', roles: ['admin'] }, 'y'.repeat(40), { algorithm: 'HS256' })],
    [
      'an expired token',
      jwt.sign({ sub: 'a', roles: ['admin'], exp: Math.floor(Date.now() / 1000) - 60 }, secret),
    ],
    ['no sub', jwt.sign({ roles: ['admin'] }, secret, { algorithm: 'HS256' })],
    ['another algorithm', jwt.sign({ sub: 'a', roles: ['admin'] }, secret, { algorithm: 'HS512' })],
    ['garbage', 'not.a.token'],
  ])('refuses %s with 401', (_name, token) => {
    expect(() => auth.verify(token)).toThrow(expect.objectContaining({ httpStatus: 401 }));
  });

  it('ranks roles so a higher one includes the lower', () => {
    expect(hasRole(['admin'], 'approver')).toBe(true);
    expect(hasRole(['approver'], 'viewer')).toBe(true);
    expect(hasRole(['viewer'], 'approver')).toBe(false);
    expect(hasRole([], 'viewer')).toBe(false);
  });
});

describe('the JWT secret', () => {
  it('falls back to the development secret outside production only', () => {
    expect(jwtSecretFrom({ NODE_ENV: 'development' })).toBe(DEV_JWT_SECRET);
    let thrown: unknown;
    try {
      jwtSecretFrom({ NODE_ENV: 'production' });
    } catch (err) {
      thrown = err;
    }
    expect(isConfigError(thrown)).toBe(true);
    expect(String(thrown)).toMatch(/MCMS_JWT_SECRET/);
  });

  it('refuses the development secret and short secrets in production, and takes a real one', () => {
    expect(() => jwtSecretFrom({ NODE_ENV: 'production', MCMS_JWT_SECRET: DEV_JWT_SECRET })).toThrow(
      /MCMS_JWT_SECRET/,
    );
    expect(() => jwtSecretFrom({ NODE_ENV: 'production', MCMS_JWT_SECRET: 'short' })).toThrow(
      /MCMS_JWT_SECRET/,
    );
    expect(jwtSecretFrom({ NODE_ENV: 'production', MCMS_JWT_SECRET: secret })).toBe(secret);
  });
});

describe('a mounted route', () => {
  const route = defineRoute({
    method: 'post',
    path: '/things/:id',
    operationId: 'postThing',
    summary: 's',
    tag: 't',
    auth: 'approver',
    params: z.object({ id: z.uuid() }),
    body: z.strictObject({ size: z.number().int() }),
    responses: { 200: { description: 'ok' } },
  });
  let base = '';
  let close: () => Promise<void>;

  beforeAll(async () => {
    const log = createLogger({
      service: 't',
      level: 'silent',
      destination: new Writable({ write: (_c, _e, cb) => cb() }),
    });
    const app = createHttpApp({
      log,
      metrics: createMetrics({ service: 't', defaultMetrics: false }),
      routes: (a) => {
        const router = express.Router();
        mountRoute(router, route, userAuthenticator(auth), ({ params, body, principal }) => ({
          status: 200,
          body: { id: params.id, size: body.size, by: principal?.kind === 'user' ? principal.name : null },
        }));
        a.use(router);
      },
    });
    const server = await startHttpServer(app, { port: 0, log });
    base = `http://127.0.0.1:${server.port}`;
    close = server.close;
  });
  afterAll(() => close());

  const id = '0f8e2a57-6a3b-4d8c-9b1e-7c2d5e4f3a21';
  const post = (path: string, body: unknown, token?: string) =>
    fetch(`${base}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: JSON.stringify(body),
    });

  it('answers 401 without a token and 403 for a lower role', async () => {
    expect((await post(`/things/${id}`, { size: 1 })).status).toBe(401);
    const viewer = auth.sign({ sub: 'v', roles: ['viewer'] });
    const res = await post(`/things/${id}`, { size: 1 }, viewer);
    expect(res.status).toBe(403);
    expect(await res.json()).toEqual({ error: { code: 'forbidden', message: 'requires the approver role' } });
  });

  it('passes validated input and the caller to the handler', async () => {
    const res = await post(`/things/${id}`, { size: 3 }, auth.sign({ sub: 'ana', roles: ['admin'] }));
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ id, size: 3, by: 'ana' });
  });

  it('answers 400 naming every bad field of params and body', async () => {
    const res = await post(
      '/things/nope',
      { size: 'big', extra: 1 },
      auth.sign({ sub: 'ana', roles: ['approver'] }),
    );
    expect(res.status).toBe(400);
    const body = (await res.json()) as { error: { code: string; details: Array<{ path: string }> } };
    expect(body.error.code).toBe('validation_failed');
    expect(body.error.details.map((d) => d.path)).toEqual(['id', 'size', 'extra']);
  });
});
