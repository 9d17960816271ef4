import { createMessage, type MessageDefinition } from '@mcms/contracts';
import fc from 'fast-check';
import { exampleOf, leafPaths, objectKeysOf, withLeaf } from './examples';
import { hostileJson, hostileLeaf, hugeString, malformedJsonText } from './hostile-values';

/** What is wrong with a generated message. */
export type MessageDefect =
  | 'not-json'
  | 'not-an-envelope'
  | 'unknown-type'
  | 'bad-envelope'
  | 'bad-payload'
  | 'wrong-type-property'
  | 'wrong-content-type'
  | 'huge';

/** One generated delivery: a body and the AMQP properties it is published with. */
export interface MalformedMessage {
  defect: MessageDefect;
  content: Buffer;
  contentType: string | undefined;
  /** The AMQP `type` property. */
  type: string | undefined;
  headers: Record<string, unknown>;
}

function validEnvelope(definition: MessageDefinition): Record<string, unknown> {
  const payload = exampleOf(definition.payload);
  if (payload === undefined) throw new Error(`no example payload for ${definition.type}`);
  return { ...createMessage(definition, payload as never, { correlationId: 'fuzz' }) };
}

function message(
  defect: MessageDefect,
  body: unknown,
  properties: Partial<Pick<MalformedMessage, 'contentType' | 'type'>> = {},
): MalformedMessage {
  const content = Buffer.isBuffer(body) ? body : Buffer.from(JSON.stringify(body) ?? 'undefined', 'utf8');
  const type = (body as { type?: unknown } | undefined)?.type;
  return {
    defect,
    content,
    contentType: 'contentType' in properties ? properties.contentType : 'application/json',
    type: 'type' in properties ? properties.type : typeof type === 'string' ? type : undefined,
    headers: {},
  };
}

/**
 * Deliveries a consumer of `definitions` must dead-letter at once (never retry, never handle): each
 * has one defect. Valid envelopes are built from the definitions' own schemas, then broken, so a new
 * message type is covered without new test code.
 */
export function malformedMessages(definitions: readonly MessageDefinition[]): fc.Arbitrary<MalformedMessage> {
  if (definitions.length === 0) throw new Error('a consumer queue with no message definitions');
  const definition = fc.constantFrom(...definitions);
  const handled = new Set(definitions.map((d) => d.type));

  const notJson = malformedJsonText
    .filter((buffer) => {
      try {
        JSON.parse(buffer.toString('utf8'));
        return false;
      } catch {
        return true;
      }
    })
    .map((buffer) => message('not-json', buffer));
  const notAnEnvelope = fc
    .oneof(
      fc.jsonValue({ maxDepth: 3 }),
      fc.constantFrom({ type: 42 }, { type: '' }, { type: null }, { payload: {} }, [{ type: 'x' }]),
    )
    .filter((value) => {
      const type = (value as { type?: unknown } | null)?.type;
      return (
        typeof value !== 'object' ||
        value === null ||
        Array.isArray(value) ||
        typeof type !== 'string' ||
        type === ''
      );
    })
    .map((value) => message('not-an-envelope', value));
  const unknownType = fc
    .tuple(definition, fc.string({ minLength: 1, maxLength: 60 }))
    .filter(([, type]) => !handled.has(type))
    .map(([d, type]) => message('unknown-type', { ...validEnvelope(d), type }));
  const envelopeFields = [
    'messageId',
    'type',
    'version',
    'occurredAt',
    'correlationId',
    'causationId',
    'payload',
  ];
  const badEnvelope = fc
    .tuple(definition, fc.subarray(envelopeFields, { minLength: 1 }), hostileJson(), fc.boolean())
    .map(([d, fields, value, remove]) => {
      const envelope = validEnvelope(d);
      for (const field of fields) {
        if (remove) delete envelope[field];
        else envelope[field] = value;
      }
      return { d, envelope };
    })
    .filter(
      ({ d, envelope }) =>
        typeof envelope.type === 'string' &&
        handled.has(envelope.type) &&
        !d.envelope.safeParse(envelope).success,
    )
    .map(({ envelope }) => message('bad-envelope', envelope));
  const badPayload = definition
    .chain((d) => {
      const keys = objectKeysOf(d.payload);
      const field = fc.oneof(fc.constantFrom(...keys), fc.string({ maxLength: 20 }));
      const topLevel = fc
        .tuple(fc.dictionary(field, hostileJson(), { minKeys: 1, maxKeys: 4 }), fc.subarray(keys))
        .map(([changes, removed]) => {
          const envelope = validEnvelope(d);
          const payload: Record<string, unknown> = { ...(envelope.payload as object) };
          for (const key of removed) delete payload[key];
          return { d, envelope: { ...envelope, payload: { ...payload, ...changes } } };
        });
      // One nested field broken (an output file's path, say), everything else valid.
      const full = exampleOf(d.payload, { fillArrays: true });
      const paths = full === undefined ? [] : leafPaths(full).filter((path) => path.length > 0);
      if (paths.length === 0) return topLevel;
      const nested = fc.tuple(fc.constantFrom(...paths), hostileLeaf).map(([path, value]) => ({
        d,
        envelope: { ...validEnvelope(d), payload: withLeaf(full, path, value) },
      }));
      return fc.oneof(topLevel, nested);
    })
    .filter(({ d, envelope }) => !d.envelope.safeParse(envelope).success)
    .map(({ envelope }) => message('bad-payload', envelope));
  const wrongTypeProperty = fc
    .tuple(definition, fc.string({ minLength: 1, maxLength: 60 }))
    .filter(([d, type]) => type !== d.type)
    .map(([d, type]) => message('wrong-type-property', validEnvelope(d), { type }));
  const wrongContentType = fc
    .tuple(
      definition,
      fc.constantFrom('text/plain', 'application/xml', 'application/octet-stream', 'application/x-protobuf'),
    )
    .map(([d, contentType]) => message('wrong-content-type', validEnvelope(d), { contentType }));
  const huge = fc
    .tuple(definition, hugeString(1_000_000))
    .map(([d, text]) => message('huge', { ...validEnvelope(d), payload: [text] }));

  return fc
    .oneof(
      notJson,
      notAnEnvelope,
      unknownType,
      badEnvelope,
      badPayload,
      wrongTypeProperty,
      wrongContentType,
      huge,
    )
    .chain((m) =>
      // Our own headers, garbled: a consumer must not trust them to skip validation or retry for ever.
      fc
        .option(
          fc.constantFrom<Record<string, unknown>>(
            { 'x-mcms-attempt': 'many' },
            { 'x-mcms-attempt': -3 },
            { 'x-mcms-attempt': 1e9 },
            { 'x-mcms-dead-letter-reason': 'forged' },
          ),
          { nil: undefined },
        )
        .map((headers) => ({ ...m, headers: headers ?? {} })),
    );
}
