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
export function exampleOf(schema: z.ZodType): unknown {
  const value = candidateOf(schema);
  return schema.safeParse(value).success ? value : undefined;
}

function candidateOf(schema: z.ZodType): unknown {
  const def = defOf(schema);
  switch (def.type) {
    case 'object': {
      const out: Record<string, unknown> = {};
      for (const [key, field] of Object.entries(def.shape ?? {})) {
        if (field.safeParse(undefined).success) continue; // optional or defaulted
        out[key] = candidateOf(field);
      }
      return out;
    }
    case 'optional':
    case 'default':
    case 'prefault':
    case 'readonly':
    case 'catch':
    case 'nonoptional':
      return candidateOf(def.innerType as z.ZodType);
    case 'nullable':
      return null;
    case 'pipe':
      return candidateOf(def.in as z.ZodType);
    case 'enum':
      return Object.values(def.entries ?? {})[0];
    case 'literal':
      return def.values?.[0];
    case 'union':
      return candidateOf((def.options ?? [])[0] as z.ZodType);
    case 'array':
      return [];
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
