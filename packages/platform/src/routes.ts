import { maxBodyBytesOf, type RouteAuth, type RouteDefinition } from '@mcms/contracts';
import type { Request, Response, Router } from 'express';
import type { z } from 'zod';
import { bearerToken, requireRole, type JwtAuth, type Principal } from './auth';
import { fieldIssuesOf, payloadTooLarge, validationFailed, type FieldIssue } from './errors';
import type { Logger } from './logger';

type Out<S> = S extends z.ZodType ? z.output<S> : undefined;

/** What a route handler receives: validated input and the authenticated caller. */
export interface RouteInput<R extends RouteDefinition> {
  params: Out<R['params']>;
  query: Out<R['query']>;
  body: Out<R['body']>;
  /** Undefined only on `public` routes. */
  principal: Principal | undefined;
  log: Logger;
  correlationId: string;
  req: Request;
}

/** What a route handler answers; the status must be one the definition documents. */
export interface RouteResult {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
}

/** Authenticates a request for a route's `auth`; throws `unauthorized`/`forbidden`. */
export type Authenticate = (
  req: Request,
  auth: RouteAuth,
) => Promise<Principal | undefined> | Principal | undefined;

/** The authenticator of services whose callers are people and systems with JWTs. */
export function userAuthenticator(jwt: JwtAuth): Authenticate {
  return (req, auth) => {
    if (auth === 'public') return undefined;
    const principal = jwt.verify(bearerToken(req.headers.authorization));
    requireRole(principal, auth === 'addin-or-viewer' || auth === 'addin' ? 'viewer' : auth);
    return principal;
  };
}

/**
 * Mounts one defined route: refuse a body over the route's limit (413), authenticate, then validate
 * params, query and body with the very schemas the OpenAPI document is generated from, then call the
 * handler. Handlers stay thin and never see unvalidated input.
 */
export function mountRoute<R extends RouteDefinition>(
  router: Router,
  route: R,
  authenticate: Authenticate,
  handle: (input: RouteInput<R>) => Promise<RouteResult> | RouteResult,
): void {
  const maxBodyBytes = maxBodyBytesOf(route);
  router[route.method](route.path, async (req: Request, res: Response) => {
    if ((req.bodyBytes ?? 0) > maxBodyBytes) {
      throw payloadTooLarge(`request body exceeds ${maxBodyBytes} bytes, the limit of this route`);
    }
    const principal = await authenticate(req, route.auth);
    // All three are checked before answering, so one 400 names every bad field at once.
    const issues: FieldIssue[] = [];
    const parse = (schema: z.ZodType | undefined, value: unknown) => {
      if (!schema) return undefined;
      const result = schema.safeParse(value);
      if (result.success) return result.data;
      issues.push(...fieldIssuesOf(result.error));
      return undefined;
    };
    const params = parse(route.params, req.params);
    const query = parse(route.query, req.query);
    const body = parse(route.body, req.body ?? {});
    if (issues.length > 0) throw validationFailed(issues);
    const input = {
      params,
      query,
      body,
      principal,
      log: req.log,
      correlationId: req.correlationId,
      req,
    } as RouteInput<R>;
    const result = await handle(input);
    if (result.headers) res.set(result.headers);
    if (result.body === undefined) res.status(result.status).end();
    else res.status(result.status).json(result.body);
  });
}
