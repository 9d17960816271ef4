import type { Alert } from './alert';

/**
 * What one connected client has been sent, and what it wants. It makes the seam between replay and
 * live delivery exact: live alerts that arrive while the replay query runs are held back, and
 * nothing with an id at or below the last one sent is ever sent again.
 *
 * This is correct because alerts commit in id order (the store serializes its inserts): once the
 * live feed has shown id N, every alert below N is visible to the replay query, and every alert
 * the replay query could not see yet reaches the live feed after it committed.
 */
export interface Subscriber {
  /** The greatest id sent or deliberately skipped (filtered out); nothing at or below it goes out. */
  readonly lastSentId: bigint;
  readonly replaying: boolean;
  readonly routingId: string | undefined;
  /** Narrows delivery to one routing (undefined: every routing). */
  subscribe(routingId: string | undefined): void;
  /** Live alerts from the feed, oldest first: those to send now (none while replaying). */
  live(alerts: readonly Alert[]): Alert[];
  /** Replayed alerts (oldest first): those to send. Call once per page while replaying. */
  replayed(alerts: readonly Alert[]): Alert[];
  /** Ends the replay: the held-back live alerts that are still to send. */
  endReplay(): Alert[];
}

/**
 * A client that last saw `lastSeenId`. `replay: true` holds live alerts back until
 * {@link Subscriber.endReplay}; without it, delivery is live from `lastSeenId` on.
 */
export function createSubscriber(options: {
  lastSeenId: bigint;
  replay: boolean;
  routingId?: string;
}): Subscriber {
  let lastSentId = options.lastSeenId;
  let replaying = options.replay;
  let routingId = options.routingId;
  let held: Alert[] = [];

  function take(alerts: readonly Alert[]): Alert[] {
    const out: Alert[] = [];
    for (const alert of alerts) {
      if (alert.id <= lastSentId) continue;
      lastSentId = alert.id;
      if (routingId === undefined || alert.routingId === routingId) out.push(alert);
    }
    return out;
  }

  return {
    get lastSentId() {
      return lastSentId;
    },
    get replaying() {
      return replaying;
    },
    get routingId() {
      return routingId;
    },
    subscribe(next) {
      routingId = next;
    },
    live(alerts) {
      if (replaying) {
        held.push(...alerts);
        return [];
      }
      return take(alerts);
    },
    replayed(alerts) {
      return take(alerts);
    },
    endReplay() {
      if (!replaying) return [];
      replaying = false;
      const pending = held;
      held = [];
      return take(pending);
    },
  };
}
