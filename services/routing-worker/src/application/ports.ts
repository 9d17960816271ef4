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

/** The cheap looks before the shared drive, for one result command. */
export interface ResultContext {
  /** The inbox holds the command's messageId already. */
  handled: boolean;
  routing: Routing | undefined;
  /** A result of the command's job is recorded already (under any messageId). */
  resultRecorded: boolean;
}

/** Which result command {@link RoutingStore.resultContexts} looks at. */
export interface ResultLookup {
  messageId: string;
  routingId: string;
  jobId: string;
}

/**
 * What applying a batch of messages (results, progress events) or of the API's changes does inside its one
 * transaction, each step one statement for the whole batch. Steps run in the order of one message's
 * transaction: inbox, lock, record, update, outbox.
 */
export interface BatchTransaction {
  /** Claims `(consumer, messageId)` for each; returns the messageIds claimed now (not held already). */
  claimInbox(consumer: string, messageIds: readonly string[]): Promise<ReadonlySet<string>>;
  /** Reads and locks the routings in id order (so concurrent batches queue up instead of deadlocking). */
  lockRoutings(ids: readonly string[]): Promise<ReadonlyMap<string, Routing>>;
  /** Inserts the records of jobs that have none yet; returns the jobIds inserted now. */
  recordResults(records: readonly GenerationRecord[]): Promise<ReadonlySet<string>>;
  updateRoutings(routings: readonly Routing[]): Promise<void>;
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
  resultContext(key: InboxKey, routingId: string, jobId: string): Promise<ResultContext>;
  /** {@link resultContext} of many result commands in one round trip, in their order. */
  resultContexts(consumer: string, lookups: readonly ResultLookup[]): Promise<ResultContext[]>;
  /** One transaction for a batch of messages or changes. */
  batchTransaction<T>(fn: (tx: BatchTransaction) => Promise<T>): Promise<T>;
  transaction<T>(fn: (tx: RoutingTransaction) => Promise<T>): Promise<T>;
  /** A transaction that runs at most once per inbox key; the claim commits with the effect. */
  inboxTransaction<T>(key: InboxKey, fn: (tx: RoutingTransaction) => Promise<T>): Promise<InboxOutcome<T>>;
}
