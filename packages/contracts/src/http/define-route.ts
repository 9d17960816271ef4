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
  responses: Record<number, RouteResponse>;
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
