import { z } from 'zod';

/** Who may call a route: a role from the JWT, the add-in's key, either, or anyone. */
export type RouteAuth = 'viewer' | 'editor' | 'approver' | 'admin' | 'addin' | 'addin-or-viewer' | 'public';

/** One documented response of a route. */
export interface RouteResponse {
  description: string;
  schema?: z.ZodType;
}

/**
 * One HTTP endpoint, defined once: the service validates requests with these schemas and the
 * OpenAPI document is generated from them, so the two can't drift apart.
 */
export interface RouteDefinition {
  method: 'get' | 'post' | 'put' | 'delete';
  /** Express-style path (`/api/routings/:id`); OpenAPI gets `{id}`. */
  path: string;
  operationId: string;
  summary: string;
  description?: string;
  tag: string;
  auth: RouteAuth;
  params?: z.ZodObject;
  query?: z.ZodObject;
  body?: z.ZodType;
  /**
   * Largest request body this route accepts, in bytes (413 beyond); {@link DEFAULT_MAX_BODY_BYTES}
   * when omitted. Counted on the wire, before JSON parsing.
   */
  maxBodyBytes?: number;
  responses: Record<number, RouteResponse>;
}

/**
 * The body limit of a route that names none: room for every documented field at its maximum
 * length, even when each character arrives as a six-byte `\uXXXX` escape, and little more.
 */
export const DEFAULT_MAX_BODY_BYTES = 64 * 1024;

/** The body limit of `route`, in bytes. */
export function maxBodyBytesOf(route: Pick<RouteDefinition, 'maxBodyBytes'>): number {
  return route.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
}

/** Identity function that types a route definition. */
export function defineRoute<R extends RouteDefinition>(route: R): R {
  return route;
}

/** The body of every 4xx/5xx answer. */
export const ErrorBody = z
  .object({
    error: z.object({
      code: z.string().describe('Stable snake_case code to branch on'),
      message: z.string(),
      details: z.unknown().optional().describe('For validation_failed: [{ path, message }] per bad field'),
    }),
  })
  .meta({ id: 'Error' });
