import type { GenerationStatus, RoutingStatus } from '@mcms/contracts';
import type { InboxKey, InboxOutcome, OutgoingMessage } from '@mcms/messaging';
import type { NotificationSink } from '../domain/ports';
import type { Routing } from '../domain/routing';

/** A page of the routing list. */
export interface RoutingPage {
  items: Routing[];
  /** Opaque; null on the last page. */
  nextCursor: string | null;
}

/** The list's filters and page. */
export interface RoutingQuery {
  status?: RoutingStatus;
  generationStatus?: GenerationStatus;
  limit: number;
  cursor?: string;
}

/** One applied result: what makes a second result command for the same job a no-op. */
export interface GenerationRecord {
  jobId: string;
  routingId: string;
  resultStatus: 'completed' | 'failed';
  generationStatus: 'Completed' | 'Failed';
  message: string | null;
  stale: boolean;
  camRevisionBefore: string;
  camRevisionAfter: string;
  metaJsonDigest: string | null;
  processedAt: Date;
}

/** What the use cases may do inside one database transaction. */
export interface RoutingTransaction {
  /** Reads a routing and locks it until the transaction ends: concurrent changes of one routing queue up. */
  lock(id: string): Promise<Routing | undefined>;
  /** Throws a 409 `routing_exists` when the code is taken for the item and revision. */
  insert(routing: Routing): Promise<void>;
  update(routing: Routing): Promise<void>;
  resultRecorded(jobId: string): Promise<boolean>;
  recordResult(record: GenerationRecord): Promise<void>;
  /** Writes messages to the outbox: they are published if, and only if, the transaction commits. */
  publish(messages: readonly OutgoingMessage[]): Promise<void>;
  notifications: NotificationSink;
}

/** The routing-worker's data. */
export interface RoutingStore {
  find(id: string): Promise<Routing | undefined>;
  list(query: RoutingQuery): Promise<RoutingPage>;
  resultRecorded(jobId: string): Promise<boolean>;
  /** Whether the inbox already holds `key` (a cheap look before expensive, idempotent work). */
  handled(key: InboxKey): Promise<boolean>;
  /**
   * {@link handled}, {@link find} and {@link resultRecorded} of one result command in one round trip: the
   * cheap looks before the shared drive is touched.
   */
  resultContext(
    key: InboxKey,
    routingId: string,
    jobId: string,
  ): Promise<{ handled: boolean; routing: Routing | undefined; resultRecorded: boolean }>;
  transaction<T>(fn: (tx: RoutingTransaction) => Promise<T>): Promise<T>;
  /** A transaction that runs at most once per inbox key; the claim commits with the effect. */
  inboxTransaction<T>(key: InboxKey, fn: (tx: RoutingTransaction) => Promise<T>): Promise<InboxOutcome<T>>;
}
