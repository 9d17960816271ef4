import { parse as parseQuery, stringify } from 'node:querystring';
import { maxBodyBytesOf, type RouteDefinition } from '@mcms/contracts';
import fc from 'fast-check';
import type { z } from 'zod';
import { exampleOf, leafPaths, objectKeysOf, withLeaf } from './examples';
import {
  badId,
  deepJsonText,
  hostileJson,
  hostileLeaf,
  hostileString,
  malformedJsonText,
} from './hostile-values';

/** What is wrong with a generated request, and so what the answer must say. */
export type Defect =
  | 'bad-param'
  | 'bad-query'
  | 'bad-body'
  | 'wrong-content-type'
  | 'malformed-json'
  | 'too-large'
  | 'huge-headers'
  | 'unknown-id'
  | 'edge-value';

/** One generated request, sent as is (no client-side validation or normalisation). */
export interface HostileRequest {
  defect: Defect;
  method: string;
  /** Path and query, already encoded (or deliberately mis-encoded). */
  path: string;
  headers: Record<string, string>;
  body?: Buffer;
  /** Send the body with `Transfer-Encoding: chunked` instead of a Content-Length. */
  chunked: boolean;
}

/** What {@link hostileRequests} needs to know about a route besides its definition. */
export interface RouteTarget {
  route: RouteDefinition;
  /** Headers that authenticate as a caller the route accepts, so requests reach validation. */
  authHeaders: Record<string, string>;
  /**
   * Query values every edge-value request carries instead of generated ones: for a parameter whose
   * valid values are slow on purpose (the long poll's `waitSeconds`). Its invalid values are still generated.
   */
  pinnedQuery?: Record<string, string>;
}

const JSON_TYPE = 'application/json';
const WRONG_CONTENT_TYPES = [
  'text/plain',
  'application/x-www-form-urlencoded',
  'multipart/form-data; boundary=x',
  'application/xml',
  'application/octet-stream',
  'application/json; charset=iso-8859-1',
  'application/json; charset=latin-9',
  'text/json',
];

function encodeSegment(value: string): string {
  try {
    return encodeURIComponent(value);
  } catch {
    // A lone surrogate can't be percent-encoded as UTF-8: send the bytes a broken client would.
    return '%ED%A0%80';
  }
}

function pathWith(route: RouteDefinition, params: Record<string, string>): string {
  return route.path.replace(/:([A-Za-z]+)/g, (_match, name: string) => params[name] ?? '');
}

function validParams(route: RouteDefinition): Record<string, string> {
  const example = (route.params ? exampleOf(route.params) : {}) as Record<string, string> | undefined;
  if (example === undefined) throw new Error(`no example for the params of ${route.operationId}`);
  return Object.fromEntries(Object.entries(example).map(([k, v]) => [k, encodeSegment(String(v))]));
}

function validBody(route: RouteDefinition): unknown {
  if (!route.body) return undefined;
  const example = exampleOf(route.body);
  if (example === undefined) throw new Error(`no example for the body of ${route.operationId}`);
  return example;
}

function withQuery(path: string, query: string): string {
  return query === '' ? path : `${path}?${query}`;
}

/** The route's JSON body request: the body (if any) as JSON with its content type. */
function jsonRequest(target: RouteTarget, defect: Defect, path: string, body: unknown): HostileRequest {
  const headers: Record<string, string> = { ...target.authHeaders };
  let buffer: Buffer | undefined;
  if (body !== undefined) {
    headers['content-type'] = JSON_TYPE;
    buffer = Buffer.from(typeof body === 'string' ? body : JSON.stringify(body), 'utf8');
  }
  return { defect, method: target.route.method.toUpperCase(), path, headers, body: buffer, chunked: false };
}

function badParamRequests(target: RouteTarget): fc.Arbitrary<HostileRequest> | undefined {
  const { route } = target;
  const names = route.params ? objectKeysOf(route.params) : [];
  if (names.length === 0) return undefined;
  return fc
    .record({
      name: fc.constantFrom(...names),
      value: fc.oneof(
        badId.map(encodeSegment),
        fc.constantFrom('..', '.', '%', '%E0%A4%A', '%00', '%ED%A0%80', '..%2F..%2Fetc', '%2e%2e'),
        fc.string({ minLength: 1, maxLength: 3_000 }).map(encodeSegment),
      ),
    })
    .filter(({ value }) => value !== '')
    .map(({ name, value }) => {
      const params = { ...validParams(route), [name]: value };
      return jsonRequest(target, 'bad-param', pathWith(route, params), validBody(route));
    });
}

function badQueryRequests(target: RouteTarget): fc.Arbitrary<HostileRequest> | undefined {
  const { route } = target;
  const schema = route.query;
  if (!schema) return undefined;
  const keys = objectKeysOf(schema);
  const key = fc.oneof(fc.constantFrom(...keys), fc.string({ minLength: 1, maxLength: 20 }));
  const value = fc.oneof(
    hostileString(4_000),
    fc.integer().map(String),
    fc.constantFrom('-1', '0', '1e9', '3.5', '', 'true', '[]'),
  );
  return fc
    .array(fc.tuple(key, fc.oneof(value, fc.array(value, { minLength: 2, maxLength: 3 }))), {
      minLength: 1,
      maxLength: 4,
    })
    .map((pairs) => {
      const query: Record<string, string | string[]> = {};
      for (const [k, v] of pairs) query[k] = v;
      return stringifyQuery(query);
    })
    .filter((text) => !(schema as z.ZodType).safeParse(parseQuery(text)).success)
    .map((text) =>
      jsonRequest(
        target,
        'bad-query',
        withQuery(pathWith(route, validParams(route)), text),
        validBody(route),
      ),
    );
}

function stringifyQuery(query: Record<string, string | string[]>): string {
  try {
    return stringify(query);
  } catch {
    // Lone surrogates: querystring refuses them, a hostile client does not.
    return Object.keys(query)
      .map((k) => `${encodeSegment(k)}=%ED%A0%80`)
      .join('&');
  }
}

function badBodyRequests(target: RouteTarget): fc.Arbitrary<HostileRequest> | undefined {
  const { route } = target;
  const schema = route.body;
  if (!schema || !['post', 'put'].includes(route.method)) return undefined;
  const keys = objectKeysOf(schema);
  const field = fc.oneof(fc.constantFrom(...keys), fc.string({ maxLength: 20 }));
  const mutated = fc
    .tuple(fc.dictionary(field, hostileJson(), { minKeys: 1, maxKeys: 5 }), fc.subarray(keys), fc.boolean())
    .map(([changes, removed, startValid]) => {
      const body: Record<string, unknown> = startValid ? { ...(validBody(route) as object) } : {};
      for (const key of removed) delete body[key];
      return { ...body, ...changes };
    });
  // One nested field broken (an output file's path, a parameter's value), the rest valid.
  const full = exampleOf(schema, { fillArrays: true });
  const paths = full === undefined ? [] : leafPaths(full).filter((path) => path.length > 0);
  const nested =
    paths.length === 0
      ? mutated
      : fc.tuple(fc.constantFrom(...paths), hostileLeaf).map(([path, value]) => withLeaf(full, path, value));
  const whole = fc.oneof(
    hostileJson().filter((value) => typeof value !== 'object' || value === null || Array.isArray(value)),
    deepJsonText(),
  );
  return fc
    .oneof(
      { weight: 3, arbitrary: mutated },
      { weight: 3, arbitrary: nested },
      { weight: 1, arbitrary: whole },
    )
    .filter((body) => typeof body === 'string' || !schema.safeParse(body).success)
    .map((body) => {
      const request = jsonRequest(target, 'bad-body', pathWith(route, validParams(route)), body);
      // A bare JSON string is wrapped by jsonRequest as text; make it JSON text of a string.
      if (typeof body === 'string' && !body.startsWith('[') && !body.startsWith('{'))
        request.body = Buffer.from(JSON.stringify(body), 'utf8');
      return request;
    });
}

function wrongContentTypeRequests(target: RouteTarget): fc.Arbitrary<HostileRequest> | undefined {
  const { route } = target;
  if (!['post', 'put'].includes(route.method)) return undefined;
  return fc.constantFrom(...WRONG_CONTENT_TYPES).map((contentType) => {
    const request = jsonRequest(
      target,
      'wrong-content-type',
      pathWith(route, validParams(route)),
      validBody(route) ?? {},
    );
    request.headers['content-type'] = contentType;
    return request;
  });
}

function malformedJsonRequests(target: RouteTarget): fc.Arbitrary<HostileRequest> {
  const { route } = target;
  return fc.tuple(malformedJsonText, fc.boolean()).map(([body, chunked]) => ({
    ...jsonRequest(target, 'malformed-json', pathWith(route, validParams(route)), undefined),
    headers: { ...target.authHeaders, 'content-type': JSON_TYPE },
    body,
    chunked,
  }));
}

function tooLargeRequests(target: RouteTarget): fc.Arbitrary<HostileRequest> {
  const { route } = target;
  const limit = maxBodyBytesOf(route);
  return fc.tuple(fc.integer({ min: 1, max: 64 * 1024 }), fc.boolean()).map(([excess, chunked]) => {
    const filler = limit + excess;
    const body = Buffer.alloc(filler + 8, 'a');
    body.write('{"a":"', 0);
    body.write('"}', filler + 6);
    return {
      ...jsonRequest(target, 'too-large', pathWith(route, validParams(route)), undefined),
      headers: { ...target.authHeaders, 'content-type': JSON_TYPE },
      body,
      chunked,
    };
  });
}

function hugeHeaderRequests(target: RouteTarget): fc.Arbitrary<HostileRequest> {
  const { route } = target;
  return fc.tuple(fc.integer({ min: 20_000, max: 200_000 }), fc.boolean()).map(([length, inQuery]) => {
    const request = jsonRequest(target, 'huge-headers', pathWith(route, validParams(route)), undefined);
    if (inQuery) request.path = withQuery(request.path, `q=${'x'.repeat(length)}`);
    else request.headers['x-filler'] = 'x'.repeat(length);
    return request;
  });
}

function unknownIdRequests(target: RouteTarget): fc.Arbitrary<HostileRequest> | undefined {
  const { route } = target;
  if (!route.params) return undefined;
  const names = objectKeysOf(route.params);
  return fc
    .array(fc.uuid({ version: 4 }), { minLength: names.length, maxLength: names.length })
    .map((ids) => {
      const params = Object.fromEntries(names.map((name, i) => [name, ids[i] as string]));
      return jsonRequest(target, 'unknown-id', pathWith(route, params), validBody(route));
    });
}

// Values at and just past the edges of what our schemas and PostgreSQL types hold.
const EDGE_VALUES = [
  '0',
  '1',
  '-1',
  '30',
  '31',
  '500',
  '501',
  '2147483647',
  '2147483648',
  '9007199254740993',
  '9223372036854775807',
  '9223372036854775808',
  '9'.repeat(19),
  '9'.repeat(40),
  '1e3',
  '0x10',
  ' 1',
  'x'.repeat(200),
  'x'.repeat(201),
  '',
];
const EDGE_UUIDS = [
  '00000000-0000-0000-0000-000000000000',
  'ffffffff-ffff-ffff-ffff-ffffffffffff',
  'FFFFFFFF-FFFF-4FFF-BFFF-FFFFFFFFFFFF',
  '3f2504e0-4f89-11d3-9a0c-0305e82c3301',
];

/** Query values (and ids) at the edges: whatever the schema lets through must not reach a 5xx. */
function edgeValueRequests(target: RouteTarget): fc.Arbitrary<HostileRequest> | undefined {
  const { route } = target;
  const pinned = target.pinnedQuery ?? {};
  const queryKeys = (route.query ? objectKeysOf(route.query) : []).filter((key) => !(key in pinned));
  const paramKeys = route.params ? objectKeysOf(route.params) : [];
  if (queryKeys.length === 0 && paramKeys.length === 0) return undefined;
  const query = fc
    .array(
      fc.tuple(
        fc.constantFrom(...(queryKeys.length > 0 ? queryKeys : ['_'])),
        fc.constantFrom(...EDGE_VALUES),
      ),
      {
        maxLength: queryKeys.length > 0 ? 3 : 0,
      },
    )
    .map((pairs) => stringifyQuery({ ...Object.fromEntries(pairs), ...pinned }));
  const params = fc.array(fc.constantFrom(...EDGE_UUIDS), {
    minLength: paramKeys.length,
    maxLength: paramKeys.length,
  });
  return fc.tuple(query, params).map(([text, ids]) => {
    const values = Object.fromEntries(paramKeys.map((name, i) => [name, ids[i] as string]));
    return jsonRequest(target, 'edge-value', withQuery(pathWith(route, values), text), validBody(route));
  });
}

/**
 * Requests for one route, each with exactly one kind of defect the route must refuse with a 4xx
 * naming it (or, for `unknown-id`, a valid request about an id nobody created). Everything is
 * derived from the route definition, so a new route is covered without new test code.
 */
export function hostileRequests(target: RouteTarget): fc.Arbitrary<HostileRequest> {
  const candidates = [
    badParamRequests(target),
    badQueryRequests(target),
    badBodyRequests(target),
    wrongContentTypeRequests(target),
    malformedJsonRequests(target),
    tooLargeRequests(target),
    hugeHeaderRequests(target),
    unknownIdRequests(target),
    edgeValueRequests(target),
  ].filter((arbitrary): arbitrary is fc.Arbitrary<HostileRequest> => arbitrary !== undefined);
  return fc.oneof(...candidates);
}
