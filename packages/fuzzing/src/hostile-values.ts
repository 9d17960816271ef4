import fc from 'fast-check';

/** Strings that have broken parsers, databases and file systems before. */
const NASTY_STRINGS = [
  '',
  ' ',
  '\0',
  'a\0b',
  '\ud800',
  '\udfff',
  'x\ud83dy',
  '\u202e\u0000\ufeff',
  '😀'.repeat(50),
  '..',
  '../x',
  '..\\x',
  '../../../../etc/passwd',
  '/etc/passwd',
  '\\\\server\\share\\x',
  'C:\\Windows\\win.ini',
  'a/../../b',
  '%2e%2e%2f',
  'null',
  'undefined',
  'NaN',
  '-1',
  '1e309',
  '__proto__',
  'constructor',
  "'; DROP TABLE x; --",
  '<script>alert(1)</script>',
  '${jndi:ldap://x}',
  '{{7*7}}',
];

/** Ids that are not UUIDs but look close to one. */
const BAD_UUIDS = [
  'not-a-uuid',
  '123',
  '00000000-0000-0000-0000-00000000000',
  '00000000-0000-0000-0000-0000000000000',
  '{3f2504e0-4f89-11d3-9a0c-0305e82c3301}',
  'g3f2504e-4f89-11d3-9a0c-0305e82c3301',
  '3f2504e04f8911d39a0c0305e82c3301x',
  '3f2504e0-4f89-11d3-9a0c-0305e82c3301\0',
  ' 3f2504e0-4f89-11d3-9a0c-0305e82c3301',
];

/** A string no schema of ours accepts as an id, including NUL, lone surrogates and traversal. */
export const badId: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom(...BAD_UUIDS, ...NASTY_STRINGS),
  fc.string({ maxLength: 60 }).filter((s) => !/^[0-9a-f-]{36}$/i.test(s)),
);

/** Long strings: cheap to build (repeated units), from a few kB up to `maxLength` characters. */
export function hugeString(maxLength: number): fc.Arbitrary<string> {
  return fc
    .tuple(fc.constantFrom('x', 'é', '😀', '\0', '\ud800', '../'), fc.integer({ min: 1_000, max: maxLength }))
    .map(([unit, length]) => unit.repeat(Math.ceil(length / unit.length)));
}

/** Any string: printable, full unicode, nasty constants, or huge. */
export function hostileString(maxHuge = 20_000): fc.Arbitrary<string> {
  return fc.oneof(
    { weight: 3, arbitrary: fc.constantFrom(...NASTY_STRINGS, ...BAD_UUIDS) },
    { weight: 3, arbitrary: fc.string({ unit: 'binary', maxLength: 40 }) },
    { weight: 2, arbitrary: fc.string({ maxLength: 40 }) },
    { weight: 1, arbitrary: hugeString(maxHuge) },
  );
}

/** A JSON value of a wrong or surprising kind for whatever field receives it. */
export function hostileJson(maxHuge = 20_000): fc.Arbitrary<unknown> {
  return fc.oneof(
    hostileString(maxHuge),
    fc.integer(),
    fc.double({ noNaN: true, noDefaultInfinity: true }),
    fc.constantFrom(null, true, false, 0, -1, 2 ** 53 + 1, 1e308, [], {}),
    fc.array(fc.string({ maxLength: 5 }), { maxLength: 5 }),
    fc.dictionary(fc.string({ maxLength: 10 }), fc.string({ maxLength: 10 }), { maxKeys: 5 }),
    fc.jsonValue({ maxDepth: 4 }),
  );
}

/** JSON text nested `depth` levels deep, built as text (JSON.stringify would overflow the stack). */
export function deepJsonText(): fc.Arbitrary<string> {
  return fc
    .tuple(fc.integer({ min: 100, max: 20_000 }), fc.boolean())
    .map(([depth, objects]) =>
      objects ? '{"a":'.repeat(depth) + '1' + '}'.repeat(depth) : '['.repeat(depth) + ']'.repeat(depth),
    );
}

/** Bytes that are not JSON, or not the JSON we take (a bare value, a trailing comma, invalid UTF-8). */
export const malformedJsonText: fc.Arbitrary<Buffer> = fc
  .oneof(
    fc
      .constantFrom(
        '{',
        '}',
        '{"a":',
        '{"a":1,}',
        "{'a':1}",
        '{"a":1}{"b":2}',
        '{"a":NaN}',
        '{"a":undefined}',
        '[1,2',
        'null',
        '"text"',
        '42',
        'true',
        '{"a":"\\ud800\\u"}',
        '\ufeff{',
        '<xml/>',
      )
      .map((text) => Buffer.from(text, 'utf8')),
    fc.uint8Array({ minLength: 1, maxLength: 200 }).map((bytes) => Buffer.from(bytes)),
    fc
      .string({ unit: 'binary', minLength: 1, maxLength: 100 })
      .map((text) => Buffer.from(`{"a":${text}`, 'utf8')),
  )
  .filter((buffer) => !parsesAsObject(buffer));

function parsesAsObject(buffer: Buffer): boolean {
  try {
    const value: unknown = JSON.parse(buffer.toString('utf8'));
    return typeof value === 'object' && value !== null;
  } catch {
    return false;
  }
}

/** Paths that leave a folder or aren't relative: `..` segments, absolute, drive letters, UNC, NUL. */
export const hostilePath: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom(
    '../x.nc',
    '..\\x.nc',
    'a/../../x.nc',
    'a\\..\\..\\x.nc',
    '/etc/passwd',
    '\\x.nc',
    'C:\\x.nc',
    'c:x.nc',
    '\\\\server\\share\\x.nc',
    'a/\0.nc',
    '..',
  ),
  fc
    .array(fc.constantFrom('..', '.', 'a', 'ü', ''), { minLength: 1, maxLength: 6 })
    .chain((segments) =>
      fc
        .tuple(fc.constantFrom('', '/', '\\', 'D:\\'), fc.constantFrom('/', '\\'))
        .map(([root, separator]) => `${root}${segments.join(separator)}`),
    )
    .filter(
      (path) =>
        path.startsWith('/') ||
        path.startsWith('\\') ||
        /^[A-Za-z]:/.test(path) ||
        path.split(/[\\/]/).includes('..'),
    ),
);

/** What replaces one nested field: anything hostile, paths more often than chance would give. */
export const hostileLeaf: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 1, arbitrary: hostileJson() },
  { weight: 2, arbitrary: hostilePath },
);
