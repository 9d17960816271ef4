import { CompleteJobBody, NextJobQuery } from './addin';
import { NotificationId } from './notifications';
import { ListRoutingsQuery, RejectBody } from './routings';

describe('the add-in completion body', () => {
  const sha = 'b'.repeat(64);

  it('accepts a failure with only a status and a completion with outputs', () => {
    expect(CompleteJobBody.safeParse({ resultStatus: 'failed' }).success).toBe(true);
    expect(
      CompleteJobBody.safeParse({
        resultStatus: 'completed',
        message: 'ok',
        outputs: [{ path: 'GT1/part.nc', sha256: sha, sizeBytes: 10 }],
      }).success,
    ).toBe(true);
  });

  it('names each bad field', () => {
    const result = CompleteJobBody.safeParse({
      resultStatus: 'done',
      message: 'x'.repeat(4001),
      outputs: [{ path: '../x.nc', sha256: 'nope', sizeBytes: 1 }],
      extra: true,
    });
    expect(result.success).toBe(false);
    const paths = result.error!.issues.map((i) => i.path.join('.'));
    expect(paths).toEqual(
      expect.arrayContaining(['resultStatus', 'message', 'outputs.0.path', 'outputs.0.sha256', '']),
    );
  });
});

describe('query strings', () => {
  it('bounds the long-poll wait to 0..30 seconds with 0 by default', () => {
    expect(NextJobQuery.parse({})).toEqual({ waitSeconds: 0 });
    expect(NextJobQuery.parse({ waitSeconds: '30' })).toEqual({ waitSeconds: 30 });
    expect(NextJobQuery.safeParse({ waitSeconds: '31' }).success).toBe(false);
  });

  it('refuses an unknown routing status filter', () => {
    expect(ListRoutingsQuery.safeParse({ status: 'Done' }).success).toBe(false);
    expect(ListRoutingsQuery.parse({ status: 'Approved' })).toMatchObject({ status: 'Approved', limit: 50 });
  });

  it('requires a non-blank rejection reason', () => {
    expect(RejectBody.safeParse({ reason: '   ' }).success).toBe(false);
  });
});

describe('free text', () => {
  it('refuses NUL characters, which PostgreSQL cannot store, in messages, comments and reasons', () => {
    expect(CompleteJobBody.safeParse({ resultStatus: 'failed', message: 'bad\0byte' }).success).toBe(false);
    expect(RejectBody.safeParse({ reason: 'no\0' }).success).toBe(false);
    expect(CompleteJobBody.safeParse({ resultStatus: 'failed', message: 'ünïcödé ✓ 完了' }).success).toBe(
      true,
    );
  });
});

describe('free text, surrogates', () => {
  it('refuses a lone surrogate, which PostgreSQL cannot store in jsonb, and keeps characters outside the BMP', () => {
    const lone = CompleteJobBody.safeParse({ resultStatus: 'failed', message: 'ESPRIT \ud800 crashed' });
    expect(lone.success).toBe(false);
    expect(lone.error?.issues.map((issue) => [issue.path.join('.'), issue.message])).toEqual([
      ['message', 'must be well-formed Unicode (a lone surrogate is not)'],
    ]);
    expect(RejectBody.safeParse({ reason: 'trailing \udfff' }).success).toBe(false);
    expect(CompleteJobBody.safeParse({ resultStatus: 'failed', message: 'tool 🔧 broke 𝑥' }).success).toBe(
      true,
    );
  });
});

describe('notification ids', () => {
  it('stops at the largest PostgreSQL bigint, which the pattern alone let past (a 500)', () => {
    expect(NotificationId.safeParse('9223372036854775807').success).toBe(true);
    expect(NotificationId.safeParse('9223372036854775808').success).toBe(false);
    expect(NotificationId.safeParse('9999999999999999999').success).toBe(false);
    expect(NotificationId.safeParse('x1').success).toBe(false);
  });
});
