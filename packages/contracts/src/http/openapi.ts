import { z } from 'zod';
import type { RouteAuth, RouteDefinition } from './define-route';

/** What a service says about itself in its OpenAPI document. */
export interface OpenApiOptions {
  title: string;
  version: string;
  description: string;
  routes: readonly RouteDefinition[];
}

type JsonSchema = Record<string, unknown>;

const securityOf: Record<RouteAuth, Array<Record<string, string[]>>> = {
  public: [],
  viewer: [{ bearer: ['viewer'] }],
  editor: [{ bearer: ['editor'] }],
  approver: [{ bearer: ['approver'] }],
  admin: [{ bearer: ['admin'] }],
  addin: [{ addinKey: [], addinDevice: [] }],
  'addin-or-viewer': [{ addinKey: [], addinDevice: [] }, { bearer: ['viewer'] }],
};

/**
 * Builds an OpenAPI 3.1 document from route definitions: the same zod schemas the service
 * validates requests with, so the published contract is the enforced one.
 */
export function buildOpenApiDocument(options: OpenApiOptions): Record<string, unknown> {
  const components: Record<string, JsonSchema> = {};
  const toSchema = (schema: z.ZodType, io: 'input' | 'output'): JsonSchema => {
    const {
      $schema: _s,
      $defs,
      ...rest
    } = z.toJSONSchema(schema, {
      target: 'draft-2020-12',
      io,
      unrepresentable: 'any',
    }) as JsonSchema & { $defs?: Record<string, JsonSchema> };
    for (const [id, definition] of Object.entries($defs ?? {}))
      components[id] = relink(definition) as JsonSchema;
    const id = z.globalRegistry.get(schema)?.id;
    if (typeof id === 'string') {
      const { id: _id, ...body } = rest;
      components[id] = relink(body) as JsonSchema;
      return { $ref: `#/components/schemas/${id}` };
    }
    return relink(rest) as JsonSchema;
  };

  const paths: Record<string, Record<string, unknown>> = {};
  for (const route of options.routes) {
    const path = route.path.replace(/:([A-Za-z0-9_]+)/g, '{$1}');
    const parameters = [
      ...parametersOf(route.params, 'path', toSchema),
      ...parametersOf(route.query, 'query', toSchema),
    ];
    const responses: Record<string, unknown> = {};
    for (const [status, response] of Object.entries(route.responses)) {
      responses[status] = {
        description: response.description,
        ...(response.schema
          ? { content: { 'application/json': { schema: toSchema(response.schema, 'output') } } }
          : {}),
      };
    }
    (paths[path] ??= {})[route.method] = {
      operationId: route.operationId,
      summary: route.summary,
      ...(route.description ? { description: route.description } : {}),
      tags: [route.tag],
      security: securityOf[route.auth],
      ...(parameters.length ? { parameters } : {}),
      ...(route.body
        ? {
            requestBody: {
              required: true,
              content: { 'application/json': { schema: toSchema(route.body, 'input') } },
            },
          }
        : {}),
      responses,
    };
  }

  return {
    openapi: '3.1.0',
    info: { title: options.title, version: options.version, description: options.description },
    paths,
    components: {
      schemas: Object.fromEntries(Object.entries(components).sort(([a], [b]) => a.localeCompare(b))),
      securitySchemes: {
        bearer: {
          type: 'http',
          scheme: 'bearer',
          bearerFormat: 'JWT',
          description: 'HS256; claims sub, roles',
        },
        addinKey: { type: 'apiKey', in: 'header', name: 'X-Addin-Key' },
        addinDevice: { type: 'apiKey', in: 'header', name: 'X-Addin-Device', description: 'Workstation id' },
      },
    },
  };
}

function parametersOf(
  schema: z.ZodObject | undefined,
  location: 'path' | 'query',
  toSchema: (schema: z.ZodType, io: 'input' | 'output') => JsonSchema,
): unknown[] {
  if (!schema) return [];
  return Object.entries(schema.shape).map(([name, field]) => ({
    name,
    in: location,
    required: location === 'path' || !(field as z.ZodType).safeParse(undefined).success,
    schema: toSchema(field as z.ZodType, 'input'),
  }));
}

/** Points zod's local `#/$defs/X` references at the document's shared components. */
function relink(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(relink);
  if (value && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value).map(([key, inner]) => [
        key,
        key === '$ref' && typeof inner === 'string'
          ? inner.replace('#/$defs/', '#/components/schemas/')
          : relink(inner),
      ]),
    );
  }
  return value;
}
