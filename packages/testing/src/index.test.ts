import { eventually, waitFor } from './index';

describe('waitFor', () => {
  it('returns the first truthy value the probe gives', async () => {
    let calls = 0;
    await expect(waitFor(() => (++calls >= 3 ? { calls } : 0), { intervalMs: 1 })).resolves.toEqual({
      calls: 3,
    });
  });

  it('times out naming what it waited for and the last value seen', async () => {
    await expect(waitFor(() => [].length, { timeoutMs: 30, intervalMs: 5, what: 'rows' })).rejects.toThrow(
      /timed out after 30 ms waiting for rows; last seen: 0/,
    );
  });
});

describe('eventually', () => {
  it('accepts 0 and null as answers but not undefined or false', async () => {
    const answers: Array<number | null | undefined | false> = [undefined, false, 0];
    await expect(eventually(async () => answers.shift(), 'zero')).resolves.toBe(0);
    await expect(eventually(async () => null, 'null')).resolves.toBeNull();
    await expect(eventually(async () => false, 'never', 30)).rejects.toThrow(/waiting for never/);
  });
});
