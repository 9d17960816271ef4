import SwaggerParser from '@apidevtools/swagger-parser';
import { openApiFor, serviceApis, type ServiceWithApi } from './services';
import { addinRoutes } from './addin';
import { historyRoutes } from './history';
import { buildOpenApiDocument } from './openapi';
import { routingRoutes } from './routings';

type Doc = {
  paths: Record<
    string,
    Record<string, { security: unknown[]; parameters?: Array<{ name: string; required: boolean }> }>
  >;
  components: { schemas: Record<string, unknown> };
};

const all = [...Object.values(routingRoutes), ...Object.values(addinRoutes), ...Object.values(historyRoutes)];
const doc = buildOpenApiDocument({
  title: 't',
  version: '1.0.0',
  description: 'd',
  routes: all,
}) as unknown as Doc;

function refs(value: unknown, found: string[] = []): string[] {
  if (Array.isArray(value)) value.forEach((v) => refs(v, found));
  else if (value && typeof value === 'object') {
    for (const [key, inner] of Object.entries(value)) {
      if (key === '$ref' && typeof inner === 'string') found.push(inner);
      else refs(inner, found);
    }
  }
  return found;
}

describe('the generated OpenAPI document', () => {
  it('lists every route under its OpenAPI path and method', () => {
    for (const route of all) {
      const path = route.path.replace(/:(\w+)/g, '{$1}');
      expect(doc.paths[path]?.[route.method]).toBeDefined();
    }
    expect(Object.keys(doc.paths)).toContain('/api/addin/jobs/{jobId}/complete');
  });

  it('resolves every $ref to a component schema it contains', () => {
    const found = refs(doc);
    expect(found.length).toBeGreaterThan(10);
    for (const ref of found) {
      expect(ref).toMatch(/^#\/components\/schemas\//);
      expect(doc.components.schemas[ref.replace('#/components/schemas/', '')]).toBeDefined();
    }
  });

  it('documents the credential each route needs', () => {
    expect(doc.paths['/api/addin/jobs/next']?.get?.security).toEqual([{ addinKey: [], addinDevice: [] }]);
    expect(doc.paths['/api/routings/{id}/approve']?.post?.security).toEqual([{ bearer: ['approver'] }]);
  });

  it('marks query parameters with defaults as optional and path parameters as required', () => {
    const next = doc.paths['/api/addin/jobs/next']?.get?.parameters;
    expect(next).toEqual([expect.objectContaining({ name: 'waitSeconds', required: false })]);
    const get = doc.paths['/api/routings/{id}']?.get?.parameters;
    expect(get).toEqual([expect.objectContaining({ name: 'id', required: true })]);
  });
});

describe('each service OpenAPI document', () => {
  it.each(Object.keys(serviceApis) as ServiceWithApi[])(
    'is a valid OpenAPI 3.1 document: %s',
    async (service) => {
      const document = openApiFor(service, '1.0.0');
      // validate() dereferences in place, so it gets a copy.
      await expect(SwaggerParser.validate(structuredClone(document) as never)).resolves.toBeDefined();
    },
  );

  it('fails validation when a reference is broken (the validator is really checking)', async () => {
    const document = structuredClone(openApiFor('addin-gateway', '1.0.0')) as {
      components: { schemas: Record<string, unknown> };
    };
    delete document.components.schemas.AddinJob;
    await expect(SwaggerParser.validate(document as never)).rejects.toThrow(/AddinJob/);
  });
});
