import { randomUUID } from 'node:crypto';
import type { z } from 'zod';

// Tried in order for a string field: the first one the field's own schema accepts is its example.
const STRING_CANDIDATES = () => [
  'x',
  randomUUID(),
  '1.0.0',
  new Date().toISOString(),
  'a'.repeat(64),
  '42',
  'ABC-1',
];

interface Def {
  type: string;
  shape?: Record<string, z.ZodType>;
  innerType?: z.ZodType;
  in?: z.ZodType;
  entries?: Record<string, string | number>;
  values?: unknown[];
  options?: z.ZodType[];
  element?: z.ZodType;
  valueType?: z.ZodType;
}

function defOf(schema: z.ZodType): Def {
  return (schema as unknown as { _zod: { def: Def } })._zod.def;
}

/**
 * A small valid value of `schema` (every required field, no optional one), or undefined when no
 * candidate passes the schema. Lets a property test build a request or message that is valid except
 * for the one defect it injects, for any route or message, without a hand-written example.
 */
export function exampleOf(schema: z.ZodType, options: ExampleOptions = {}): unknown {
  const value = candidateOf(schema, options);
  return schema.safeParse(value).success ? value : undefined;
}

/** Options of {@link exampleOf}. */
export interface ExampleOptions {
  /** One element in every array (instead of none), so nested fields exist to be broken. */
  fillArrays?: boolean;
}

function candidateOf(schema: z.ZodType, options: ExampleOptions): unknown {
  const def = defOf(schema);
  switch (def.type) {
    case 'object': {
      const out: Record<string, unknown> = {};
      for (const [key, field] of Object.entries(def.shape ?? {})) {
        if (field.safeParse(undefined).success && !options.fillArrays) continue; // optional or defaulted
        out[key] = candidateOf(field, options);
      }
      return out;
    }
    case 'optional':
    case 'default':
    case 'prefault':
    case 'readonly':
    case 'catch':
    case 'nonoptional':
      return candidateOf(def.innerType as z.ZodType, options);
    case 'nullable':
      return null;
    case 'pipe':
      return candidateOf(def.in as z.ZodType, options);
    case 'enum':
      return Object.values(def.entries ?? {})[0];
    case 'literal':
      return def.values?.[0];
    case 'union':
      return candidateOf((def.options ?? [])[0] as z.ZodType, options);
    case 'array':
      return options.fillArrays && def.element ? [candidateOf(def.element, options)] : [];
    case 'record':
      return {};
    case 'boolean':
      return true;
    case 'number':
    case 'int':
      return [1, 0, 42].find((n) => schema.safeParse(n).success) ?? 1;
    case 'string':
      return STRING_CANDIDATES().find((s) => schema.safeParse(s).success) ?? 'x';
    default:
      return undefined;
  }
}

/** The keys of an object schema (looking through optional/pipe wrappers), or [] for other schemas. */
export function objectKeysOf(schema: z.ZodType): string[] {
  const def = defOf(schema);
  if (def.type === 'object') return Object.keys(def.shape ?? {});
  if (def.innerType) return objectKeysOf(def.innerType);
  if (def.in) return objectKeysOf(def.in);
  return [];
}

/** Every path to a leaf (a non-object, non-array value, or an empty one) of `value`. */
export function leafPaths(
  value: unknown,
  prefix: Array<string | number> = [],
): Array<Array<string | number>> {
  if (Array.isArray(value) && value.length > 0)
    return value.flatMap((item, i) => leafPaths(item, [...prefix, i]));
  if (typeof value === 'object' && value !== null && Object.keys(value).length > 0) {
    return Object.entries(value).flatMap(([key, item]) => leafPaths(item, [...prefix, key]));
  }
  return [prefix];
}

/** A deep copy of `value` with the leaf at `path` replaced by `replacement`. */
export function withLeaf(
  value: unknown,
  path: ReadonlyArray<string | number>,
  replacement: unknown,
): unknown {
  if (path.length === 0) return replacement;
  const [head, ...rest] = path as [string | number, ...Array<string | number>];
  const copy = (Array.isArray(value) ? [...value] : { ...(value as object) }) as Record<
    string | number,
    unknown
  >;
  copy[head] = withLeaf(copy[head], rest, replacement);
  return copy;
}
