import { canonicalResult, decideCompletion, resultHashOf, type CompletionBody } from './completion';

const A = 'a'.repeat(64);
const B = 'b'.repeat(64);
const hashOf = (body: CompletionBody) => resultHashOf(canonicalResult(body));

describe('the canonical completion result', () => {
  it('fills in what an add-in may leave out: message null, outputs empty', () => {
    expect(canonicalResult({ resultStatus: 'failed' })).toEqual({
      resultStatus: 'failed',
      message: null,
      outputs: [],
    });
  });

  it('orders outputs by path and lower-cases checksums', () => {
    const result = canonicalResult({
      resultStatus: 'completed',
      outputs: [
        { path: 'b.nc', sha256: A.toUpperCase(), sizeBytes: 2 },
        { path: 'a.esp', sha256: B, sizeBytes: 1 },
      ],
    });
    expect(result.outputs).toEqual([
      { path: 'a.esp', sha256: B, sizeBytes: 1 },
      { path: 'b.nc', sha256: A, sizeBytes: 2 },
    ]);
  });

  it('hashes equivalent bodies alike', () => {
    const files = [
      { path: 'x/a.esp', sha256: A, sizeBytes: 10 },
      { path: 'x/b.nc', sha256: B, sizeBytes: 20 },
    ];
    expect(hashOf({ resultStatus: 'completed', outputs: files })).toBe(
      hashOf({
        resultStatus: 'completed',
        outputs: [files[1]!, { ...files[0]!, sha256: A.toUpperCase() }],
        message: undefined,
      }),
    );
    expect(hashOf({ resultStatus: 'failed' })).toBe(hashOf({ resultStatus: 'failed', outputs: [] }));
    expect(hashOf({ resultStatus: 'completed' })).toMatch(/^[0-9a-f]{64}$/);
  });

  it('hashes bodies that differ in status, message, a path, a checksum or a size differently', () => {
    const base: CompletionBody = {
      resultStatus: 'completed',
      message: 'ok',
      outputs: [{ path: 'a.nc', sha256: A, sizeBytes: 1 }],
    };
    const variants: CompletionBody[] = [
      { ...base, resultStatus: 'failed' },
      { ...base, message: 'ok!' },
      { ...base, message: undefined },
      { ...base, outputs: [{ path: 'b.nc', sha256: A, sizeBytes: 1 }] },
      { ...base, outputs: [{ path: 'a.nc', sha256: B, sizeBytes: 1 }] },
      { ...base, outputs: [{ path: 'a.nc', sha256: A, sizeBytes: 2 }] },
      { ...base, outputs: [] },
    ];
    const hashes = new Set([base, ...variants].map(hashOf));
    expect(hashes.size).toBe(variants.length + 1);
  });

  it('does not confuse an empty message with no message', () => {
    expect(hashOf({ resultStatus: 'failed', message: '' })).not.toBe(hashOf({ resultStatus: 'failed' }));
  });
});

describe('deciding a completion', () => {
  const held = { jobId: 'j', status: 'InProgress' as const, claimedBy: 'WS-1', resultHash: null };

  it('finishes a job held by the caller: completed → Completed, failed → Failed', () => {
    expect(decideCompletion(held, 'WS-1', { resultStatus: 'completed', hash: 'h' })).toEqual({
      kind: 'finish',
      status: 'Completed',
    });
    expect(decideCompletion(held, 'WS-1', { resultStatus: 'failed', hash: 'h' })).toEqual({
      kind: 'finish',
      status: 'Failed',
    });
  });

  it('refuses a job held by another device as lease_not_held', () => {
    expect(decideCompletion(held, 'WS-2', { resultStatus: 'completed', hash: 'h' })).toMatchObject({
      kind: 'refuse',
      code: 'lease_not_held',
    });
  });

  it('refuses a Pending job as job_not_in_progress', () => {
    expect(
      decideCompletion({ ...held, status: 'Pending', claimedBy: null }, 'WS-1', {
        resultStatus: 'completed',
        hash: 'h',
      }),
    ).toMatchObject({ kind: 'refuse', code: 'job_not_in_progress' });
  });

  it('replays the same result for a final job, whoever repeats it', () => {
    for (const status of ['Completed', 'Failed'] as const) {
      const final = { ...held, status, resultHash: 'h1' };
      expect(decideCompletion(final, 'WS-1', { resultStatus: 'completed', hash: 'h1' })).toEqual({
        kind: 'replay',
      });
      expect(decideCompletion(final, 'WS-9', { resultStatus: 'completed', hash: 'h1' })).toEqual({
        kind: 'replay',
      });
    }
  });

  it('refuses a different result for a final job as result_conflict', () => {
    expect(
      decideCompletion({ ...held, status: 'Completed', resultHash: 'h1' }, 'WS-1', {
        resultStatus: 'failed',
        hash: 'h2',
      }),
    ).toMatchObject({ kind: 'refuse', code: 'result_conflict' });
  });

  it('refuses any result for a job the gateway failed itself (no result hash) as result_conflict', () => {
    expect(
      decideCompletion({ ...held, status: 'Failed', resultHash: null }, 'WS-1', {
        resultStatus: 'failed',
        hash: 'h',
      }),
    ).toMatchObject({ kind: 'refuse', code: 'result_conflict' });
  });
});
