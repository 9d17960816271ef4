import { RoutingGenerationCompleted, RoutingGenerationFailed, createMessage } from '@mcms/contracts';
import { outputDigest } from './cam-revision';
import { decideResult, needsOutputVerification, renderMetaJson, type JobResult } from './generation';
import { generationEventId } from './message-ids';
import { createRouting, type Routing } from './routing';

const JOB = '7d9a3d1e-0c4b-4f57-9b55-2f5d0f3a6c11';
const OLD_JOB = '0f8fad5b-d9cb-469f-a165-70867728950e';
const T0 = new Date('2026-01-05T08:00:00.000Z');
const FINISHED = new Date('2026-01-05T09:30:00.000Z');
const NOW = new Date('2026-01-05T09:31:00.000Z');
const NC = { path: 'GT310001.nc', sha256: 'a'.repeat(64), sizeBytes: 1200 };
const ESP = { path: 'GT310001.esp', sha256: 'b'.repeat(64), sizeBytes: 50_000 };

function approved(extra: Partial<Routing> = {}): Routing {
  return {
    ...createRouting(
      {
        id: 'b1e8c7a2-4d0f-4a8e-9c1b-1f2e3d4c5b6a',
        routingCode: 'GT310001',
        itemCode: 'ITEM-7',
        revisionCode: 'B',
      },
      T0,
    ),
    status: 'Approved',
    lastAddinJobId: JOB,
    lastGenerationStatus: 'InProgress',
    ...extra,
  };
}

function result(extra: Partial<JobResult> = {}): JobResult {
  return {
    jobId: JOB,
    routingId: approved().id,
    resultStatus: 'completed',
    message: null,
    outputs: [NC, ESP],
    finishedAt: FINISHED,
    ...extra,
  };
}

describe('deciding what a result does', () => {
  it('completes the first generation: CAM revision 1.1.0, meta.json, and the completed event', () => {
    const decision = decideResult(approved(), result(), { ok: true }, NOW);
    const historyId = generationEventId(JOB, 'completed');

    expect(decision).toMatchObject({
      stale: false,
      generationStatus: 'Completed',
      camRevisionBefore: '1.0.0',
      camRevisionAfter: '1.1.0',
    });
    expect(decision.routing).toMatchObject({
      status: 'Approved',
      camRevision: '1.1.0',
      lastGenerationStatus: 'Completed',
      lastGeneratedAt: FINISHED,
      lastOutputDigest: outputDigest([NC, ESP]),
      updatedAt: NOW,
    });
    expect(decision.meta).toEqual({
      routingId: approved().id,
      routingCode: 'GT310001',
      itemCode: 'ITEM-7',
      revisionCode: 'B',
      camRevision: '1.1.0',
      jobId: JOB,
      historyId,
      generatedAt: FINISHED.toISOString(),
      files: [ESP, NC],
    });
    expect(decision.notification).toEqual({
      kind: 'completed',
      messageId: historyId,
      payload: {
        routingId: approved().id,
        routingCode: 'GT310001',
        jobId: JOB,
        camRevision: '1.1.0',
        previousCamRevision: '1.0.0',
        outputs: [ESP, NC],
        stale: false,
        completedAt: FINISHED.toISOString(),
      },
    });
    // The payload is a valid event as the contract defines it.
    expect(() =>
      createMessage(RoutingGenerationCompleted, decision.notification.payload as never, {
        correlationId: 'c',
      }),
    ).not.toThrow();
  });

  it('keeps the CAM revision when the outputs equal the last successful generation’s', () => {
    const routing = approved({ camRevision: '1.3.0', lastOutputDigest: outputDigest([ESP, NC]) });
    const decision = decideResult(routing, result(), { ok: true }, NOW);
    expect(decision.camRevisionAfter).toBe('1.3.0');
    expect(decision.routing).toMatchObject({ camRevision: '1.3.0', lastGenerationStatus: 'Completed' });
    expect(decision.meta?.camRevision).toBe('1.3.0');
  });

  it('bumps the CAM revision when any checksum differs from the last successful generation', () => {
    const routing = approved({ camRevision: '1.3.0', lastOutputDigest: outputDigest([ESP, NC]) });
    const changed = result({ outputs: [ESP, { ...NC, sha256: 'c'.repeat(64) }] });
    expect(decideResult(routing, changed, { ok: true }, NOW).camRevisionAfter).toBe('1.4.0');
  });

  it('fails the generation naming each bad file and why, and leaves the routing Approved', () => {
    const decision = decideResult(
      approved(),
      result(),
      {
        ok: false,
        problems: [
          { path: 'GT310001.nc', reason: 'missing on the shared drive' },
          { path: 'GT310001.esp', reason: 'size is 3 bytes, expected 50000' },
        ],
      },
      NOW,
    );
    const message =
      'output validation failed: GT310001.nc: missing on the shared drive; GT310001.esp: size is 3 bytes, expected 50000';
    expect(decision).toMatchObject({
      generationStatus: 'Failed',
      message,
      camRevisionAfter: '1.0.0',
      meta: null,
    });
    expect(decision.routing).toMatchObject({
      status: 'Approved',
      camRevision: '1.0.0',
      lastGenerationStatus: 'Failed',
      lastGenerationMessage: message,
      lastOutputDigest: null,
    });
    expect(decision.notification).toEqual({
      kind: 'failed',
      messageId: generationEventId(JOB, 'failed'),
      payload: {
        routingId: approved().id,
        routingCode: 'GT310001',
        jobId: JOB,
        message,
        stale: false,
        failedAt: FINISHED.toISOString(),
      },
    });
  });

  it('fails the generation with the add-in’s message when the add-in failed', () => {
    const decision = decideResult(
      approved(),
      result({ resultStatus: 'failed', message: 'ESPRIT crashed', outputs: [] }),
      undefined,
      NOW,
    );
    expect(decision.routing).toMatchObject({
      status: 'Approved',
      lastGenerationStatus: 'Failed',
      lastGenerationMessage: 'ESPRIT crashed',
    });
    expect(decision.notification).toMatchObject({ kind: 'failed', payload: { message: 'ESPRIT crashed' } });
    expect(() =>
      createMessage(RoutingGenerationFailed, decision.notification.payload as never, { correlationId: 'c' }),
    ).not.toThrow();
  });

  it('says so when the add-in failed without a message', () => {
    const decision = decideResult(
      approved(),
      result({ resultStatus: 'failed', message: null }),
      undefined,
      NOW,
    );
    expect(decision.routing?.lastGenerationMessage).toBe('the add-in reported a failure without a message');
  });

  it('cuts a failure message to 4000 characters', () => {
    const decision = decideResult(
      approved(),
      result({ resultStatus: 'failed', message: 'x'.repeat(3999) + 'yz' }),
      undefined,
      NOW,
    );
    expect(decision.routing?.lastGenerationMessage).toHaveLength(4000);
  });

  it('fails a result that reports one path twice without looking at the drive', () => {
    const twice = result({ outputs: [NC, { ...NC, path: 'GT310001.nc' }] });
    expect(needsOutputVerification(approved(), twice)).toBe(false);
    expect(decideResult(approved(), twice, undefined, NOW).message).toBe(
      'output validation failed: GT310001.nc: reported more than once',
    );
  });

  it('completes a generation without outputs without touching the CAM revision or writing meta.json', () => {
    const decision = decideResult(
      approved({ lastOutputDigest: 'd' }),
      result({ outputs: [] }),
      undefined,
      NOW,
    );
    expect(decision).toMatchObject({ generationStatus: 'Completed', camRevisionAfter: '1.0.0', meta: null });
    expect(decision.routing).toMatchObject({ lastOutputDigest: 'd', lastGenerationStatus: 'Completed' });
  });

  it.each(['completed', 'failed'] as const)(
    'records a %s result of an older job as stale and leaves the routing alone',
    (status) => {
      const decision = decideResult(
        approved({ camRevision: '1.2.0' }),
        result({ jobId: OLD_JOB, resultStatus: status, message: status === 'failed' ? 'old failure' : null }),
        undefined,
        NOW,
      );
      expect(decision).toMatchObject({
        stale: true,
        routing: null,
        meta: null,
        camRevisionBefore: '1.2.0',
        camRevisionAfter: '1.2.0',
      });
      expect(decision.notification.payload.stale).toBe(true);
      expect(decision.notification.messageId).toBe(generationEventId(OLD_JOB, status));
    },
  );

  it('checks the drive only for a completed result of the current job with outputs', () => {
    expect(needsOutputVerification(approved(), result())).toBe(true);
    expect(needsOutputVerification(approved(), result({ resultStatus: 'failed' }))).toBe(false);
    expect(needsOutputVerification(approved(), result({ outputs: [] }))).toBe(false);
    expect(needsOutputVerification(approved(), result({ jobId: OLD_JOB }))).toBe(false);
  });

  it('refuses to decide a result whose outputs were not checked', () => {
    expect(() => decideResult(approved(), result(), undefined, NOW)).toThrow('must be verified');
  });

  it('renders meta.json byte-identically for the same result, whatever the clock and the order of the files', () => {
    const first = decideResult(approved(), result(), { ok: true }, NOW);
    const again = decideResult(
      approved(),
      result({ outputs: [ESP, NC] }),
      { ok: true },
      new Date('2030-01-01T00:00:00Z'),
    );
    const text = renderMetaJson(first.meta!);
    expect(renderMetaJson(again.meta!)).toBe(text);
    expect(text.endsWith('}\n')).toBe(true);
    expect(Object.keys(JSON.parse(text))).toEqual([
      'routingId',
      'routingCode',
      'itemCode',
      'revisionCode',
      'camRevision',
      'jobId',
      'historyId',
      'generatedAt',
      'files',
    ]);
  });
});
