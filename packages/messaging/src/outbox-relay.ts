import type { ExchangeName, UnknownEnvelope } from '@mcms/contracts';
import { isAppError, type Logger, type Metrics } from '@mcms/platform';
import { listenForNotifications, prepared } from '@mcms/db';
import type { ClientConfig, Pool } from 'pg';
import { withPgTransaction } from './outbox';
import type { Publisher } from './types';

/** Options for {@link startOutboxRelay}. */
export interface OutboxRelayOptions {
  /** Connections whose `search_path` is `schema`; one is held per pass. */
  pool: Pool;
  /** The service's PostgreSQL schema: names the NOTIFY channel (`mcms_outbox_<schema>`) and the metrics label. */
  schema: string;
  /** For the dedicated LISTEN connection; defaults to the pool's connection settings. */
  listenClientConfig?: ClientConfig;
  publisher: Publisher;
  log: Logger;
  metrics?: Metrics;
  /** Rows per transaction, published concurrently; default 500. */
  batchSize?: number;
  /**
   * How long a busy relay waits before a pass that follows straight on the one before (rows arrived while it
   * ran), so that the next transaction carries more rows; default 5 ms. The first pass after a quiet spell
   * starts at once. 0 turns it off.
   */
  lingerMs?: number;
  /** A pass runs at least this often even without a NOTIFY; default 1,000 ms. */
  fallbackPollMs?: number;
  /** Cap of the exponential backoff after failures (relay-wide and per unroutable row); default 30,000 ms. */
  maxBackoffMs?: number;
  /** How long `stop()` waits for the pass in progress; default 10,000 ms. */
  stopTimeoutMs?: number;
}

/** A running relay. */
export interface OutboxRelay {
  /** Stops listening and polling, waits (bounded) for the pass in progress, releases connections. */
  stop(): Promise<void>;
  /** Age in seconds of the oldest row in the outbox (0 when empty). */
  lagSeconds(): Promise<number>;
  /** Rows in the outbox, including those another relay is publishing right now. */
  pending(): Promise<number>;
  /**
   * Resolves when a pass that started after this call finds nothing to publish: every row this
   * relay can see was published (rows locked by another relay are that relay's). Rejects on `stop()`.
   */
  drained(): Promise<void>;
}

interface OutboxRow {
  id: string; // bigint arrives as a string
  message_id: string;
  exchange: string;
  routing_key: string;
  envelope: UnknownEnvelope;
}

interface BatchResult {
  count: number;
  full: boolean;
  confirmed: number;
  failed: number;
  /** A failure that should pause the whole relay (broker down, database error). */
  failure?: unknown;
}

/** {@link OutboxRelayOptions.lingerMs}: a few milliseconds on a message's way under load, for passes that carry more rows. */
const DEFAULT_LINGER_MS = 5;

// The relay's statements, prepared (one pass runs them all): the batch in relay order, the same past parked rows,
// and the delete of what the broker confirmed.
const SELECT_BATCH_SQL = `SELECT id, message_id, exchange, routing_key, envelope FROM outbox_message
  ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED`;
const SELECT_BATCH_SKIPPING_SQL = `SELECT id, message_id, exchange, routing_key, envelope FROM outbox_message
  WHERE id <> ALL($2::bigint[]) ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED`;
const DELETE_SQL = 'DELETE FROM outbox_message WHERE id = ANY($1::bigint[])';

const delay = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** How often a busy relay measures `mcms_outbox_lag_seconds` at most (Prometheus scrapes every 15 s or so). */
const LAG_REFRESH_MS = 1_000;

const POOL_ONLY_KEYS = [
  'max',
  'min',
  'idleTimeoutMillis',
  'log',
  'Promise',
  'allowExitOnIdle',
  'maxUses',
  'maxLifetimeSeconds',
  'Client',
  'onConnect',
  'verify',
] as const;

function clientConfigOf(pool: Pool): ClientConfig {
  const config: Record<string, unknown> = { ...pool.options };
  for (const key of POOL_ONLY_KEYS) delete config[key];
  return config as ClientConfig;
}

function backoffMs(attempt: number, baseMs: number, maxMs: number): number {
  const exponential = Math.min(maxMs, baseMs * 2 ** Math.min(attempt - 1, 30));
  // A little jitter so relays that failed together don't retry in lockstep.
  return Math.round(exponential * (1 + Math.random() * 0.2));
}

/**
 * Publishes the outbox of one schema: rows written by {@link enqueueOutbox} in the same transaction
 * as a state change go to the broker after that transaction commits.
 *
 * A pass takes up to `batchSize` rows in relay order with `FOR UPDATE SKIP LOCKED` (so several
 * relays on one table never publish a row concurrently), publishes them concurrently through the
 * confirming `publisher`, deletes the confirmed ones and commits; it repeats while batches are full.
 * A NOTIFY from the table's insert trigger wakes it (notifications during a pass coalesce into one
 * more pass), and a fallback timer covers notifications missed while the LISTEN connection was down.
 *
 * Delivery is at-least-once:
 * - a crash before the publish loses nothing: the rows stay until the broker confirms them;
 * - a crash after the broker confirmed but before the DELETE committed publishes those rows again
 *   when a relay next runs. Consumers absorb the duplicate with their inbox (same `messageId`).
 * Order follows `id` within a relay as long as publishing succeeds; a row that failed is retried
 * after later rows went out, and two relays interleave.
 *
 * Failures never drop a row. A retryable failure (broker or database unavailable) backs the whole
 * relay off exponentially. An `unroutable` row is a configuration fault (nothing is bound to its
 * routing key): it is logged at error and only that row backs off, so the rest of the outbox keeps
 * flowing while the outbox lag metric shows the stuck row.
 */
export async function startOutboxRelay(options: OutboxRelayOptions): Promise<OutboxRelay> {
  const { pool, schema, publisher } = options;
  const batchSize = options.batchSize ?? 500;
  const fallbackPollMs = options.fallbackPollMs ?? 1_000;
  const maxBackoffMs = options.maxBackoffMs ?? 30_000;
  const stopTimeoutMs = options.stopTimeoutMs ?? 10_000;
  const lingerMs = options.lingerMs ?? DEFAULT_LINGER_MS;
  for (const [name, value] of Object.entries({ batchSize, fallbackPollMs, maxBackoffMs, stopTimeoutMs })) {
    if (!Number.isInteger(value) || value <= 0)
      throw new Error(`outbox relay ${name} must be a positive integer, got ${value}`);
  }
  if (!Number.isInteger(lingerMs) || lingerMs < 0)
    throw new Error(`outbox relay lingerMs must be a whole number of milliseconds, got ${lingerMs}`);
  const channel = `mcms_outbox_${schema}`;
  if (Buffer.byteLength(channel) > 63) {
    // PostgreSQL truncates identifiers at 63 bytes; LISTEN would silently wait on another channel.
    throw new Error(`outbox channel ${channel} is longer than 63 bytes; use a shorter schema name`);
  }
  const log = options.log.child({ component: 'outbox-relay', schema });
  const labels = { schema };
  const lagGauge = options.metrics?.gauge('mcms_outbox_lag_seconds', 'Age of the oldest outbox row', [
    'schema',
  ]);
  const publishedTotal = options.metrics?.counter(
    'mcms_outbox_published_total',
    'Outbox rows published and confirmed by the broker',
    ['schema'],
  );
  const failuresTotal = options.metrics?.counter(
    'mcms_outbox_publish_failures_total',
    'Outbox rows whose publish failed (they stay in the outbox)',
    ['schema'],
  );

  let stopped = false;
  let stopping: Promise<void> | undefined;
  let running: Promise<void> | undefined;
  let dirty = false;
  let failedPasses = 0;
  let retryTimer: NodeJS.Timeout | undefined;
  let parkTimer: NodeJS.Timeout | undefined;
  const waiters: Array<{ resolve: () => void; reject: (err: Error) => void }> = [];
  // Unroutable rows back off one by one: id → when to try again and how often it failed.
  const parked = new Map<string, { until: number; attempts: number }>();

  function wake(): void {
    if (stopped) return;
    if (running !== undefined || retryTimer !== undefined) {
      dirty = true;
      return;
    }
    running = runPasses()
      .catch((err: unknown) => log.error({ err }, 'outbox relay pass crashed'))
      .finally(() => {
        running = undefined;
        if (dirty && retryTimer === undefined) wake();
      });
  }

  async function runPasses(): Promise<void> {
    let first = true;
    do {
      // A pass straight after another one (the outbox filled while it ran) waits a moment for more rows: under
      // load a pass carried one or two rows, and each pass is a transaction of four round trips. Callers of
      // drained() are not kept waiting.
      if (!first && lingerMs > 0 && waiters.length === 0) await delay(lingerMs);
      first = false;
      if (stopped) return;
      dirty = false;
      const { failure, empty } = await pass();
      await updateLag(empty);
      if (failure !== undefined) {
        failedPasses += 1;
        const delay = backoffMs(failedPasses, 100, maxBackoffMs);
        const fields = { err: failure.err, unconfirmed: failure.unconfirmed, retryInMs: delay };
        // Rows not confirmed stay in the outbox; an expected outage is a warning, anything else an error.
        if (isAppError(failure.err) && failure.err.retryable) {
          log.warn(fields, 'outbox relay pass failed; backing off');
        } else {
          log.error(fields, 'outbox relay pass failed; backing off');
        }
        if (!stopped) {
          retryTimer = setTimeout(() => {
            retryTimer = undefined;
            wake();
          }, delay);
        }
        return;
      }
      failedPasses = 0;
    } while (dirty && !stopped);
  }

  /**
   * Relays batches until one is not full. Returns the failure that should pause the relay, if any, and
   * whether the last batch found the outbox empty (nothing parked either).
   */
  async function pass(): Promise<{ failure?: { err: unknown; unconfirmed?: number }; empty: boolean }> {
    for (;;) {
      if (stopped) return { empty: false };
      // Only callers that were waiting before this SELECT may be told it found nothing.
      const watching = waiters.length;
      let result: BatchResult;
      try {
        result = await relayBatch();
      } catch (err) {
        return { failure: { err }, empty: false };
      }
      if (result.failure !== undefined) {
        return { failure: { err: result.failure, unconfirmed: result.failed }, empty: false };
      }
      if (result.count === 0) {
        // Parked rows still wait for a binding: not drained.
        if (parked.size === 0) for (const waiter of waiters.splice(0, watching)) waiter.resolve();
        return { empty: parked.size === 0 };
      }
      if (!result.full && waiters.length === 0) return { empty: false };
    }
  }

  async function relayBatch(): Promise<BatchResult> {
    const result = await withPgTransaction(pool, async (client): Promise<BatchResult> => {
      const now = Date.now();
      const skip = [...parked].filter(([, p]) => p.until > now).map(([id]) => id);
      const { rows } = await client.query<OutboxRow>(
        skip.length > 0
          ? { ...prepared(SELECT_BATCH_SKIPPING_SQL), values: [batchSize, skip] }
          : { ...prepared(SELECT_BATCH_SQL), values: [batchSize] },
      );
      const full = rows.length === batchSize;
      if (!full) forgetVanishedParkedRows(rows, now);
      if (rows.length === 0) return { count: 0, full, confirmed: 0, failed: 0 };

      // All at once: the publisher's in-flight window paces us, its confirms tell what is safe to delete.
      const outcomes = await Promise.allSettled(
        rows.map((row) =>
          publisher.publish({
            exchange: row.exchange as ExchangeName,
            routingKey: row.routing_key,
            envelope: row.envelope,
          }),
        ),
      );
      const confirmed: string[] = [];
      let failure: unknown;
      outcomes.forEach((outcome, index) => {
        const row = rows[index] as OutboxRow;
        if (outcome.status === 'fulfilled') {
          confirmed.push(row.id);
          parked.delete(row.id);
        } else if (isAppError(outcome.reason) && outcome.reason.code === 'unroutable') {
          park(row, outcome.reason);
        } else {
          failure ??= outcome.reason;
        }
      });
      // Confirmed rows are deleted even when others failed: keeping them would only publish them twice.
      if (confirmed.length > 0) {
        await client.query({ ...prepared(DELETE_SQL), values: [confirmed] });
      }
      return {
        count: rows.length,
        full,
        confirmed: confirmed.length,
        failed: rows.length - confirmed.length,
        failure,
      };
    });
    // Counted after COMMIT: a row whose DELETE rolled back will be published (and counted) again.
    if (result.confirmed > 0) publishedTotal?.inc(labels, result.confirmed);
    if (result.failed > 0) failuresTotal?.inc(labels, result.failed);
    return result;
  }

  function park(row: OutboxRow, err: unknown): void {
    const attempts = (parked.get(row.id)?.attempts ?? 0) + 1;
    const delay = backoffMs(attempts, 1_000, maxBackoffMs);
    parked.set(row.id, { until: Date.now() + delay, attempts });
    log.error(
      {
        err,
        messageId: row.message_id,
        exchange: row.exchange,
        routingKey: row.routing_key,
        attempts,
        retryInMs: delay,
      },
      'outbox message is unroutable (nothing bound to its routing key); keeping it and retrying later',
    );
    scheduleParkTimer();
  }

  // A due parked row that a non-full SELECT did not return was deleted (or is another relay's now).
  function forgetVanishedParkedRows(rows: readonly OutboxRow[], now: number): void {
    if (parked.size === 0) return;
    const seen = new Set(rows.map((row) => row.id));
    for (const [id, p] of parked) if (p.until <= now && !seen.has(id)) parked.delete(id);
  }

  function scheduleParkTimer(): void {
    if (stopped) return;
    if (parkTimer !== undefined) clearTimeout(parkTimer);
    let next = Infinity;
    for (const p of parked.values()) next = Math.min(next, p.until);
    if (next === Infinity) return;
    parkTimer = setTimeout(
      () => {
        parkTimer = undefined;
        wake();
      },
      Math.max(0, next - Date.now()),
    );
  }

  async function oldestAgeSeconds(): Promise<number> {
    // The oldest by relay order: the primary key answers it without scanning the table.
    const { rows } = await pool.query<{ age: number | null }>(
      `SELECT EXTRACT(EPOCH FROM (clock_timestamp() - created_at))::float8 AS age
       FROM outbox_message ORDER BY id LIMIT 1`,
    );
    return Math.max(0, rows[0]?.age ?? 0);
  }

  // The lag gauge costs a query; measured after every pass it was a fifth of the relay's round trips under
  // load. A pass that found the outbox empty knows the lag is 0; otherwise it is measured at most once per
  // LAG_REFRESH_MS (and the fallback poll's pass measures it again when the relay goes quiet).
  let lagMeasuredAt = -Infinity;
  async function updateLag(empty: boolean): Promise<void> {
    if (lagGauge === undefined) return;
    if (empty) {
      lagGauge.set(labels, 0);
      return;
    }
    const now = Date.now();
    if (now - lagMeasuredAt < LAG_REFRESH_MS) return;
    lagMeasuredAt = now;
    try {
      lagGauge.set(labels, await oldestAgeSeconds());
    } catch (err) {
      log.warn({ err }, 'could not measure the outbox lag');
    }
  }

  // --- LISTEN connection -------------------------------------------------------------------------
  const listening = await listenForNotifications({
    clientConfig: options.listenClientConfig ?? clientConfigOf(pool),
    channel,
    onNotify: wake,
    onListening: wake,
    log,
    what: 'outbox relay',
    maxDelayMs: Math.min(maxBackoffMs, 10_000),
  });
  const pollTimer = setInterval(wake, fallbackPollMs);
  wake();

  function stop(): Promise<void> {
    stopping ??= (async () => {
      stopped = true;
      clearInterval(pollTimer);
      for (const timer of [retryTimer, parkTimer]) if (timer !== undefined) clearTimeout(timer);
      retryTimer = parkTimer = undefined;
      const closing = listening.stop();
      if (running !== undefined) {
        let timeout: NodeJS.Timeout | undefined;
        const timedOut = await Promise.race([
          running.then(() => false),
          new Promise<boolean>((resolve) => {
            timeout = setTimeout(() => resolve(true), stopTimeoutMs);
          }),
        ]);
        clearTimeout(timeout);
        if (timedOut)
          log.warn(
            { stopTimeoutMs },
            'outbox relay pass still running at stop; its rows stay locked until it ends',
          );
      }
      await closing;
      for (const waiter of waiters.splice(0)) waiter.reject(new Error('outbox relay stopped'));
    })();
    return stopping;
  }

  return {
    stop,
    lagSeconds: oldestAgeSeconds,
    pending: async () => {
      const { rows } = await pool.query<{ n: number }>('SELECT count(*)::int AS n FROM outbox_message');
      return rows[0]?.n ?? 0;
    },
    drained: () =>
      new Promise<void>((resolve, reject) => {
        if (stopped) {
          reject(new Error('outbox relay stopped'));
          return;
        }
        waiters.push({ resolve, reject });
        wake();
      }),
  };
}
