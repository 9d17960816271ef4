import { createHash } from 'node:crypto';
import type { AddinJobExpired, AddinJobResultCommand, AddinJobStarted, MessageOf } from '@mcms/contracts';
import type { InboxKey } from '@mcms/messaging';
import { AppError, unavailable } from '@mcms/platform';
import {
  decideResult,
  needsOutputVerification,
  renderMetaJson,
  type JobResult,
  type OutputVerification,
  type ResultDecision,
} from '../domain/generation';
import { applyJobProgress, type JobProgress } from '../domain/job-progress';
import type { SharedDrive } from '../domain/ports';
import { routingFolder } from '../domain/routing';
import type { RoutingStore } from './ports';

/** What applying one result command came to. */
export type ResultOutcome =
  { kind: 'duplicate-message' } | { kind: 'duplicate-job' } | { kind: 'applied'; decision: ResultDecision };

export interface JobResultDeps {
  store: RoutingStore;
  sharedDrive: SharedDrive;
  clock: () => Date;
}

/**
 * Applies an add-in job's result to its routing, idempotently twice over: per message (the inbox)
 * and per job (the generation_result row), so a redelivery and a second command for the same job
 * under a new messageId both change nothing.
 *
 * The shared drive is touched before the transaction and only in ways that can be repeated (reading,
 * and writing a deterministic meta.json), so the transaction stays short and a retry after a crash
 * between the two writes the same bytes again.
 */
export async function applyJobResult(
  deps: JobResultDeps,
  command: MessageOf<typeof AddinJobResultCommand>,
  inbox: InboxKey,
): Promise<ResultOutcome> {
  const { store, sharedDrive, clock } = deps;
  const { payload } = command;
  const context = await store.resultContext(inbox, payload.routingId, payload.jobId);
  if (context.handled) return { kind: 'duplicate-message' };

  const { routing } = context;
  if (!routing) {
    // Not a transient state: jobs are only created for routings this service already stored, so a
    // retry can't help. Dead-lettered at once, where an operator sees it.
    throw new AppError({
      code: 'routing_not_found',
      message: `result of job ${payload.jobId} names routing ${payload.routingId}, which does not exist`,
      httpStatus: 404,
    });
  }
  if (context.resultRecorded) return { kind: 'duplicate-job' };

  const result: JobResult = {
    jobId: payload.jobId,
    routingId: payload.routingId,
    resultStatus: payload.resultStatus,
    message: payload.message,
    outputs: payload.outputs,
    finishedAt: new Date(payload.finishedAt),
  };
  const folder = routingFolder(routing);
  let verification: OutputVerification | undefined;
  if (needsOutputVerification(routing, result)) {
    verification = await sharedDrive.verifyOutputs(folder, result.outputs);
  }
  const planned = decideResult(routing, result, verification, clock());
  const meta = planned.meta ? renderMetaJson(planned.meta) : null;
  if (meta !== null) await sharedDrive.writeMetaJson(folder, meta);

  const outcome = await store.inboxTransaction(inbox, async (tx): Promise<ResultOutcome> => {
    // The lock orders concurrent results of one routing; the second then finds the first's record.
    const locked = await tx.lock(routing.id);
    if (!locked) throw new Error(`routing ${routing.id} vanished`);
    if (await tx.resultRecorded(result.jobId)) return { kind: 'duplicate-job' };
    const decision = decideResult(locked, result, verification, clock());
    if (!sameMeta(decision, meta)) {
      // Regenerated or changed since the files were checked: decide again from the new state.
      throw unavailable(
        `routing ${routing.id} changed while the result of job ${result.jobId} was being applied`,
      );
    }
    if (decision.routing) await tx.update(decision.routing);
    await tx.recordResult({
      jobId: result.jobId,
      routingId: routing.id,
      resultStatus: result.resultStatus,
      generationStatus: decision.generationStatus,
      message: decision.message,
      stale: decision.stale,
      camRevisionBefore: decision.camRevisionBefore,
      camRevisionAfter: decision.camRevisionAfter,
      metaJsonDigest: meta === null ? null : createHash('sha256').update(meta).digest('hex'),
      processedAt: clock(),
    });
    await tx.notifications.notify(decision.notification, command);
    return { kind: 'applied', decision };
  });
  return outcome.duplicate ? { kind: 'duplicate-message' } : outcome.result;
}

/**
 * Whether the decision made under the lock agrees with the meta.json written before it (or with
 * writing none). A progress event in between changes nothing here; a regenerate or another result
 * would, and then the message is retried and decided again from the new state.
 */
function sameMeta(decision: ResultDecision, written: string | null): boolean {
  return (decision.meta ? renderMetaJson(decision.meta) : null) === written;
}

/** Moves the routing's generation status on a job's progress event (started, requeued after expiry). */
export async function applyJobProgressEvent(
  deps: { store: RoutingStore; clock: () => Date },
  event: MessageOf<typeof AddinJobStarted> | MessageOf<typeof AddinJobExpired>,
  inbox: InboxKey,
): Promise<'applied' | 'ignored' | 'duplicate' | 'unknown-routing'> {
  const { payload } = event;
  const progress: JobProgress = {
    jobId: payload.jobId,
    attempt: payload.attempt,
    kind:
      event.type === 'addin-job.started'
        ? 'started'
        : (payload as MessageOf<typeof AddinJobExpired>['payload']).action,
  };
  const outcome = await deps.store.inboxTransaction(inbox, async (tx) => {
    const routing = await tx.lock(payload.routingId);
    if (!routing) return 'unknown-routing' as const;
    const next = applyJobProgress(routing, progress, deps.clock());
    if (!next) return 'ignored' as const;
    await tx.update(next);
    return 'applied' as const;
  });
  return outcome.duplicate ? 'duplicate' : outcome.result;
}
