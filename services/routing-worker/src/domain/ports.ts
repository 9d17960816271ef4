import type { OutputFile } from './cam-revision';
import type { GenerationNotification, OutputVerification } from './generation';

/** Where the message that caused a notification came from: its flow and its id. */
export interface NotificationCause {
  messageId: string;
  correlationId: string;
}

/**
 * Tells the people watching how a generation ended (the seed's INotificationSink). The adapter writes
 * the event to the outbox inside the transaction that applies the result, so an alert is raised
 * exactly when the routing changes: never a direct socket call that a rollback can't take back.
 */
export interface NotificationSink {
  notify(notification: GenerationNotification, cause: NotificationCause): Promise<void>;
  /** {@link notify} for several results at once, in one write. */
  notifyAll(
    notifications: ReadonlyArray<{ notification: GenerationNotification; cause: NotificationCause }>,
  ): Promise<void>;
}

/**
 * The plant's shared drive (W:\), as a mounted directory. `folder` is a routing's folder as path
 * segments below the root (see `routingFolder`). Both operations throw a retryable error when the
 * share itself can't be reached; a missing or wrong file is a verification result, not an error.
 */
export interface SharedDrive {
  /** Checks that each output exists inside `folder` with its reported size and SHA-256. */
  verifyOutputs(folder: readonly string[], outputs: readonly OutputFile[]): Promise<OutputVerification>;
  /** Replaces `folder/meta.json` atomically (temp file, then rename) with `content`. */
  writeMetaJson(folder: readonly string[], content: string): Promise<void>;
}
