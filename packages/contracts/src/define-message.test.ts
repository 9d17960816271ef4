import { z } from 'zod';
import { AddinJobResultCommand, EspritGenerationCommand } from './commands';
import { causedBy, createMessage, defineMessage } from './define-message';
import { RoutingGenerationFailed } from './events';
import { findDefinition, messageCatalog, messageName } from './catalog';
import { OutputFile, RelativePath } from './fields';

const jobId = '5b0d7f0e-3c1f-4a53-9d7e-2f4f3b6e8a10';
const routingId = '0f8e2a57-6a3b-4d8c-9b1e-7c2d5e4f3a21';
const at = new Date('2026-11-28T10:00:00.000Z');

function resultPayload(overrides: Record<string, unknown> = {}) {
  return {
    jobId,
    routingId,
    resultStatus: 'completed' as const,
    message: null,
    outputs: [{ path: 'GT310001.nc', sha256: 'a'.repeat(64), sizeBytes: 120 }],
    attempt: 1,
    deviceId: 'CAM-WS-07',
    finishedAt: at.toISOString(),
    ...overrides,
  };
}

describe('createMessage', () => {
  it('builds an envelope with the definition type, version, origin and injected id and time', () => {
    const message = createMessage(AddinJobResultCommand, resultPayload(), {
      correlationId: 'corr-1',
      messageId: jobId,
      occurredAt: at,
    });
    expect(message).toEqual({
      messageId: jobId,
      type: 'mcms.addin-job.result',
      version: 1,
      occurredAt: '2026-11-28T10:00:00.000Z',
      correlationId: 'corr-1',
      causationId: null,
      payload: resultPayload(),
    });
  });

  it('refuses an invalid payload at the producer', () => {
    expect(() =>
      createMessage(AddinJobResultCommand, resultPayload({ resultStatus: 'done' }) as never, {
        correlationId: 'c',
      }),
    ).toThrow(/resultStatus/);
  });

  it('carries correlation forward and names the cause', () => {
    const cause = createMessage(AddinJobResultCommand, resultPayload(), { correlationId: 'flow-7' });
    const failed = createMessage(
      RoutingGenerationFailed,
      {
        routingId,
        routingCode: 'GT310001',
        jobId,
        message: 'ESPRIT crashed',
        stale: false,
        failedAt: at.toISOString(),
      },
      causedBy(cause),
    );
    expect(failed.correlationId).toBe('flow-7');
    expect(failed.causationId).toBe(cause.messageId);
  });
});

describe('a definition envelope', () => {
  it('rejects a message of another type or version', () => {
    const message = createMessage(AddinJobResultCommand, resultPayload(), { correlationId: 'c' });
    expect(AddinJobResultCommand.envelope.safeParse({ ...message, version: 2 }).success).toBe(false);
    expect(EspritGenerationCommand.envelope.safeParse(message).success).toBe(false);
  });

  it('routes by type on the exchange of its kind', () => {
    const event = defineMessage({
      type: 'x.happened',
      version: 3,
      kind: 'event',
      summary: 's',
      payload: z.object({}),
    });
    expect([event.exchange, event.routingKey]).toEqual(['mcms.events', 'x.happened']);
    expect(AddinJobResultCommand.exchange).toBe('mcms.commands');
  });
});

describe('the message catalog', () => {
  it('finds each definition by type and version and no other', () => {
    for (const definition of messageCatalog) {
      expect(findDefinition(definition.type, definition.version)).toBe(definition);
    }
    expect(findDefinition('mcms.addin-job.result', 99)).toBeUndefined();
  });

  it('gives every message a distinct name', () => {
    const names = messageCatalog.map(messageName);
    expect(new Set(names).size).toBe(names.length);
    expect(messageName(AddinJobResultCommand)).toBe('McmsAddinJobResult');
  });
});

describe('an output file', () => {
  it.each([
    '../secret.nc',
    'a/../../b.nc',
    '/etc/passwd',
    '\\\\server\\share\\x.nc',
    'C:\\x.nc',
    'x\0.nc',
    '',
  ])('refuses the path %j', (path) => {
    expect(RelativePath.safeParse(path).success).toBe(false);
  });

  it.each(['GT310001.nc', 'sub/dir/part.esp', 'sub\\part.stl', 'v1..2.nc'])('accepts the path %j', (path) => {
    expect(RelativePath.safeParse(path).success).toBe(true);
  });

  it('requires a 64-hex sha256 and a non-negative whole size', () => {
    expect(OutputFile.safeParse({ path: 'a.nc', sha256: 'z'.repeat(64), sizeBytes: 1 }).success).toBe(false);
    expect(OutputFile.safeParse({ path: 'a.nc', sha256: 'a'.repeat(63), sizeBytes: 1 }).success).toBe(false);
    expect(OutputFile.safeParse({ path: 'a.nc', sha256: 'a'.repeat(64), sizeBytes: -1 }).success).toBe(false);
    expect(OutputFile.safeParse({ path: 'a.nc', sha256: 'A'.repeat(64), sizeBytes: 0 }).success).toBe(true);
  });
});
