import type { Logger, Metrics } from '@mcms/platform';
import { listenForNotifications, type Listening } from '@mcms/db';
import type { ClientConfig } from 'pg';
import type { Alert, AlertStore } from '../domain/alert';

/** Every alert stored by any replica, in id order, once each, to this replica's listeners. */
export interface AlertFeed {
  /** The greatest id the feed has handed out (or the newest at start): live delivery begins above it. */
  readonly cursor: bigint;
  /** Registers a listener of live alerts (oldest first); returns its removal. */
  onAlerts(listener: (alerts: readonly Alert[]) => void): () => void;
  start(): Promise<void>;
  stop(): Promise<void>;
}

export interface PgAlertFeedOptions {
  store: AlertStore;
  /** A connection of its own for LISTEN (a pooled one would be handed to other queries). */
  listenClientConfig: ClientConfig;
  /** The service's schema: the insert trigger notifies `mcms_notification_<schema>`. */
  schema: string;
  log: Logger;
  metrics?: Metrics;
  /** Reads the table this often even without a NOTIFY (one lost while reconnecting). Default 1 s. */
  fallbackPollMs?: number;
  /** Most alerts per read. Default 500. */
  batchSize?: number;
}

/**
 * The live fan-out: PostgreSQL LISTEN/NOTIFY as a wake-up, the table as the truth. A NOTIFY (sent
 * at commit by the insert trigger) or the fallback timer makes the feed read `id > cursor`; because
 * alerts commit in id order, that read misses nothing and a lost NOTIFY only delays an alert. Every
 * replica runs its own feed, so a client gets each alert from its own replica exactly once.
 * See docs/decisions/0006-alert-fan-out.md.
 */
export function createPgAlertFeed(options: PgAlertFeedOptions): AlertFeed {
  const { store, schema } = options;
  const fallbackPollMs = options.fallbackPollMs ?? 1_000;
  const batchSize = options.batchSize ?? 500;
  const channel = `mcms_notification_${schema}`;
  if (Buffer.byteLength(channel) > 63) {
    // PostgreSQL truncates identifiers at 63 bytes; LISTEN would silently wait on another channel.
    throw new Error(`notification channel ${channel} is longer than 63 bytes; use a shorter schema name`);
  }
  const log = options.log.child({ component: 'alert-feed' });
  const delivered = options.metrics?.counter(
    'mcms_notification_feed_alerts_total',
    'Alerts this replica read from its live feed',
  );
  const listeners = new Set<(alerts: readonly Alert[]) => void>();
  let cursor = 0n;
  let stopped = true;
  let running: Promise<void> | undefined;
  let dirty = false;
  let pollTimer: NodeJS.Timeout | undefined;
  let listening: Listening | undefined;

  function wake(): void {
    if (stopped) return;
    if (running !== undefined) {
      dirty = true;
      return;
    }
    running = readNew()
      .catch((err: unknown) => log.warn({ err }, 'alert feed read failed; the next wake-up reads again'))
      .finally(() => {
        running = undefined;
        if (dirty) wake();
      });
  }

  async function readNew(): Promise<void> {
    do {
      dirty = false;
      for (;;) {
        const alerts = await store.listAfter(cursor, batchSize);
        if (stopped || alerts.length === 0) break;
        cursor = alerts[alerts.length - 1]!.id;
        delivered?.inc(alerts.length);
        for (const deliver of listeners) {
          try {
            deliver(alerts);
          } catch (err) {
            log.error({ err }, 'alert listener failed');
          }
        }
        if (alerts.length < batchSize) break;
      }
    } while (dirty && !stopped);
  }

  return {
    get cursor() {
      return cursor;
    },
    onAlerts(deliver) {
      listeners.add(deliver);
      return () => listeners.delete(deliver);
    },
    async start() {
      if (!stopped) return;
      // Live delivery starts at the newest alert: older ones are for replay, on request.
      cursor = await store.latestId();
      stopped = false;
      listening = await listenForNotifications({
        clientConfig: options.listenClientConfig,
        channel,
        onNotify: wake,
        onListening: wake,
        log,
        what: 'alert feed',
      });
      pollTimer = setInterval(wake, fallbackPollMs);
    },
    async stop() {
      stopped = true;
      if (pollTimer !== undefined) clearInterval(pollTimer);
      pollTimer = undefined;
      const closing = listening?.stop();
      listening = undefined;
      await running;
      await closing;
    },
  };
}
