import { CompleteJobBody, messageCatalog, serviceApis } from '@mcms/contracts';
import { exampleOf, leafPaths, withLeaf } from './examples';

const routes = Object.values(serviceApis).flatMap((api) => api.routes);

// The property tests inject one defect into an otherwise valid request or message: without a valid
// example of a schema, its route or message would go untested. A new schema that fails here needs a
// candidate in exampleOf.
it.each(routes.map((route) => [route.operationId, route] as const))(
  'builds valid params, query and body for route %s',
  (_name, route) => {
    for (const schema of [route.params, route.query, route.body]) {
      if (schema === undefined) continue;
      expect(exampleOf(schema)).toBeDefined();
      expect(exampleOf(schema, { fillArrays: true })).toBeDefined();
    }
  },
);

it.each(messageCatalog.map((definition) => [definition.type, definition] as const))(
  'builds a valid payload for message %s',
  (_name, definition) => {
    expect(exampleOf(definition.payload)).toBeDefined();
  },
);

it('fills arrays on request, so a nested field such as an output path can be broken alone', () => {
  const body = exampleOf(CompleteJobBody, { fillArrays: true });
  const paths = leafPaths(body).map((path) => path.join('.'));

  expect(paths).toEqual(expect.arrayContaining(['outputs.0.path', 'outputs.0.sha256', 'resultStatus']));
  const broken = withLeaf(body, ['outputs', 0, 'path'], '../../etc/passwd');
  const result = CompleteJobBody.safeParse(broken);
  expect(result.success).toBe(false);
  expect(result.error?.issues.map((issue) => issue.path.join('.'))).toEqual(['outputs.0.path']);
});
