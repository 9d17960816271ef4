/** Options of {@link createBatcher}. */
export interface BatcherOptions<T, R> {
  /** A batch runs as soon as it holds this many items. */
  maxItems: number;
  /** …or this long after its first item arrived, whichever comes first. */
  maxWaitMs: number;
  /**
   * Batches running at once; default unbounded. While that many run, new items wait and go together
   * in the next batch as soon as one ends (group commit): batches grow with the load by themselves.
   */
  maxConcurrent?: number;
  /** Handles one batch; returns one result per item, in order. A throw rejects every item of the batch. */
  run(items: T[]): Promise<R[]>;
}

/** Collects items into batches; each `submit` resolves with its own item's result. */
export interface Batcher<T, R> {
  submit(item: T): Promise<R>;
  /** Items waiting for their batch to start. */
  readonly waiting: number;
}

interface Waiting<T, R> {
  item: T;
  resolve(result: R): void;
  reject(err: unknown): void;
}

/**
 * Groups items arriving one at a time into batches of at most `maxItems`, waiting at most
 * `maxWaitMs` for a batch to fill, and running at most `maxConcurrent` batches at once. The caller
 * bounds how many items are submitted at a time (e.g. by the channel's prefetch).
 */
export function createBatcher<T, R>(options: BatcherOptions<T, R>): Batcher<T, R> {
  if (!Number.isInteger(options.maxItems) || options.maxItems < 1) {
    throw new Error(`maxItems must be a positive integer, not ${options.maxItems}`);
  }
  if (!(options.maxWaitMs >= 0)) throw new Error(`maxWaitMs must be ≥ 0, not ${options.maxWaitMs}`);
  const maxConcurrent = options.maxConcurrent ?? Number.POSITIVE_INFINITY;
  if (!(maxConcurrent >= 1)) throw new Error(`maxConcurrent must be ≥ 1, not ${maxConcurrent}`);
  let open: Array<Waiting<T, R>> = [];
  let timer: NodeJS.Timeout | undefined;
  // The oldest waiting item has waited long enough: run what there is as soon as a batch may start.
  let due = false;
  let running = 0;

  function pump(): void {
    while (running < maxConcurrent && open.length > 0 && (due || open.length >= options.maxItems)) {
      const batch = open.slice(0, options.maxItems);
      open = open.slice(batch.length);
      running += 1;
      void runBatch(batch).finally(() => {
        running -= 1;
        // Whatever arrived meanwhile has waited for this batch: it goes at once.
        if (open.length > 0) due = true;
        pump();
      });
    }
    if (open.length === 0) {
      due = false;
      if (timer) {
        clearTimeout(timer);
        timer = undefined;
      }
    }
  }

  function onTimer(): void {
    timer = undefined;
    due = true;
    pump();
  }

  async function runBatch(batch: Array<Waiting<T, R>>): Promise<void> {
    let results: R[];
    try {
      results = await options.run(batch.map((waiting) => waiting.item));
      if (results.length !== batch.length) {
        throw new Error(`a batch of ${batch.length} items returned ${results.length} results`);
      }
    } catch (err) {
      for (const waiting of batch) waiting.reject(err);
      return;
    }
    batch.forEach((waiting, i) => waiting.resolve(results[i] as R));
  }

  return {
    submit(item) {
      return new Promise<R>((resolve, reject) => {
        open.push({ item, resolve, reject });
        if (!due) timer ??= setTimeout(onTimer, options.maxWaitMs);
        pump();
      });
    },
    get waiting() {
      return open.length;
    },
  };
}
