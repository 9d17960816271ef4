import type { MessageDefinition } from '@mcms/contracts';
import { waitFor } from '@mcms/testing';
import { createBatcher } from './batcher';
import { handleConcurrently, handlerFor, splitByTag, type BatchItem } from './consumer';

describe('createBatcher', () => {
  afterEach(() => {
    jest.useRealTimers();
  });

  it('runs a batch as soon as it holds maxItems, giving each item its own result', async () => {
    const batches: number[][] = [];
    const batcher = createBatcher<number, string>({
      maxItems: 3,
      maxWaitMs: 60_000,
      run: async (items) => {
        batches.push(items);
        return items.map((n) => `r${n}`);
      },
    });
    const results = await Promise.all([1, 2, 3, 4, 5, 6].map((n) => batcher.submit(n)));
    expect(results).toEqual(['r1', 'r2', 'r3', 'r4', 'r5', 'r6']);
    expect(batches).toEqual([
      [1, 2, 3],
      [4, 5, 6],
    ]);
  });

  it('runs a partial batch once maxWaitMs has passed since its first item, not before', async () => {
    jest.useFakeTimers();
    const batches: number[][] = [];
    const batcher = createBatcher<number, number>({
      maxItems: 10,
      maxWaitMs: 5,
      run: async (items) => {
        batches.push(items);
        return items;
      },
    });
    const first = batcher.submit(1);
    jest.advanceTimersByTime(4);
    const second = batcher.submit(2);
    expect(batches).toEqual([]);
    expect(batcher.waiting).toBe(2);
    jest.advanceTimersByTime(1);
    await expect(Promise.all([first, second])).resolves.toEqual([1, 2]);
    expect(batches).toEqual([[1, 2]]);
    expect(batcher.waiting).toBe(0);
  });

  it('while maxConcurrent batches run, gathers what arrives into the next batch and runs it when one ends', async () => {
    const batches: number[][] = [];
    const release: Array<() => void> = [];
    const batcher = createBatcher<number, number>({
      maxItems: 10,
      maxWaitMs: 0,
      maxConcurrent: 1,
      run: async (items) => {
        batches.push(items);
        await new Promise<void>((resolve) => release.push(resolve));
        return items;
      },
    });
    const first = batcher.submit(1);
    await waitForLength(release, 1);
    const later = [2, 3, 4].map((n) => batcher.submit(n));
    expect(batches).toEqual([[1]]);
    expect(batcher.waiting).toBe(3);
    release[0]!();
    await waitForLength(release, 2);
    expect(batches).toEqual([[1], [2, 3, 4]]);
    release[1]!();
    await expect(Promise.all([first, ...later])).resolves.toEqual([1, 2, 3, 4]);
  });

  it('rejects every item of a batch whose run throws, and only those', async () => {
    const batcher = createBatcher<number, number>({
      maxItems: 2,
      maxWaitMs: 60_000,
      run: async (items) => {
        if (items.includes(2)) throw new Error('poison');
        return items;
      },
    });
    const settled = await Promise.allSettled([1, 2, 3, 4].map((n) => batcher.submit(n)));
    expect(settled.map((s) => s.status)).toEqual(['rejected', 'rejected', 'fulfilled', 'fulfilled']);
  });

  it('rejects a run that returns the wrong number of results instead of mismatching them', async () => {
    const batcher = createBatcher<number, number>({
      maxItems: 2,
      maxWaitMs: 60_000,
      run: async (items) => items.slice(1),
    });
    await expect(Promise.all([batcher.submit(1), batcher.submit(2)])).rejects.toThrow(
      'a batch of 2 items returned 1 results',
    );
  });

  it('refuses a batch size below one', () => {
    expect(() => createBatcher({ maxItems: 0, maxWaitMs: 1, run: async () => [] })).toThrow(
      'maxItems must be a positive integer',
    );
  });
});

describe('splitByTag', () => {
  it('covers every tag below the oldest unsettled one with one multiple ack of the highest', () => {
    expect(splitByTag([3, 1, 2], Number.POSITIVE_INFINITY)).toEqual({ together: 3, alone: new Set() });
  });

  it('acks alone the tags above an older delivery that is still being handled', () => {
    expect(splitByTag([1, 2, 5, 7], 4)).toEqual({ together: 2, alone: new Set([5, 7]) });
    expect(splitByTag([5, 7], 4)).toEqual({ together: undefined, alone: new Set([5, 7]) });
  });
});

/** Polls (with a deadline) until `list` has `length` entries: batches start on a timer, however busy the machine. */
async function waitForLength(list: readonly unknown[], length: number): Promise<void> {
  await waitFor(() => list.length >= length, { intervalMs: 1, what: `${length} started batches` });
  expect(list).toHaveLength(length);
}

describe('handleConcurrently', () => {
  const item = (type: string, messageId: string): BatchItem =>
    ({
      message: { type, messageId },
      ctx: {},
    }) as unknown as BatchItem;

  it('runs every message’s own handler and leaves only the failed ones to be handled alone', async () => {
    const seen: string[] = [];
    const handle = handleConcurrently({
      a: handlerFor({ type: 'a' } as MessageDefinition, async (message) => {
        seen.push(message.messageId);
        if (message.messageId === 'bad') throw new Error('poison');
      }),
    });
    const items = [item('a', 'one'), item('a', 'bad'), item('a', 'two')];
    await expect(handle(items)).resolves.toEqual([items[1]]);
    expect(seen.sort()).toEqual(['bad', 'one', 'two']);
  });

  it('leaves alone a message whose type has no handler instead of dropping it', async () => {
    const items = [item('unknown', 'x')];
    await expect(handleConcurrently({})(items)).resolves.toEqual(items);
  });
});
