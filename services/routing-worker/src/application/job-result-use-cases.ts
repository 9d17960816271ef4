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
import { routingFolder, type Routing } from '../domain/routing';
import type { GenerationRecord, RoutingStore } from './ports';

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
  const { store, clock } = deps;
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

  const result = jobResultOf(payload);
  const { verification, meta } = await prepareFiles(deps, routing, result);

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
    await tx.recordResult(generationRecordOf(result, decision, meta, clock()));
    await tx.notifications.notify(decision.notification, command);
    return { kind: 'applied', decision };
  });
  return outcome.duplicate ? { kind: 'duplicate-message' } : outcome.result;
}

type ResultCommand = MessageOf<typeof AddinJobResultCommand>;

/** What became of one result of a batch: applied or a duplicate with the others, or left to {@link applyJobResult}. */
export type BatchResultOutcome = ResultOutcome | { kind: 'alone' };

interface Prepared {
  index: number;
  command: ResultCommand;
  routing: Routing;
  result: JobResult;
  verification: OutputVerification | undefined;
  meta: string | null;
}

/**
 * {@link applyJobResult} for many result commands at once, with the same rules and the same effects:
 * one read of every command's context, the shared-drive work of all of them concurrently, then one
 * transaction with one statement per step for the whole batch.
 *
 * Only the ordinary case is handled here; the others come back `alone`, to be applied one at a time
 * by {@link applyJobResult}, which has the rules for them: an unknown routing (dead-lettered), a
 * second result of a routing already in the batch (ordered by the routing's lock there), a shared
 * drive that failed (retried). Throws, leaving every command to {@link applyJobResult}, when a routing
 * changed between the look and the lock.
 */
export async function applyJobResults(
  deps: JobResultDeps,
  commands: readonly ResultCommand[],
  consumer: string,
): Promise<BatchResultOutcome[]> {
  const { store, clock } = deps;
  const outcomes: BatchResultOutcome[] = commands.map(() => ({ kind: 'alone' }));
  const contexts = await store.resultContexts(
    consumer,
    commands.map(({ messageId, payload }) => ({
      messageId,
      routingId: payload.routingId,
      jobId: payload.jobId,
    })),
  );
  const candidates: Array<Omit<Prepared, 'verification' | 'meta'>> = [];
  const routingsInBatch = new Set<string>();
  commands.forEach((command, index) => {
    const context = contexts[index];
    if (context === undefined) throw new Error(`no context for result command ${command.messageId}`);
    const { routing } = context;
    if (context.handled) outcomes[index] = { kind: 'duplicate-message' };
    else if (routing === undefined || routingsInBatch.has(routing.id)) return;
    else if (context.resultRecorded) outcomes[index] = { kind: 'duplicate-job' };
    else {
      routingsInBatch.add(routing.id);
      candidates.push({ index, command, routing, result: jobResultOf(command.payload) });
    }
  });

  const settled = await Promise.allSettled(
    candidates.map(async (candidate) => ({
      ...candidate,
      ...(await prepareFiles(deps, candidate.routing, candidate.result)),
    })),
  );
  const prepared = settled.flatMap((outcome) => (outcome.status === 'fulfilled' ? [outcome.value] : []));
  if (prepared.length === 0) return outcomes;

  const done = await store.batchTransaction(async (tx) => {
    const claimed = await tx.claimInbox(
      consumer,
      prepared.map(({ command }) => command.messageId),
    );
    const mine = prepared.filter(({ command }) => claimed.has(command.messageId));
    const locked = await tx.lockRoutings(mine.map(({ routing }) => routing.id));
    const decided = mine.map((item) => {
      const routing = locked.get(item.routing.id);
      if (!routing) throw new Error(`routing ${item.routing.id} vanished`);
      const decision = decideResult(routing, item.result, item.verification, clock());
      if (!sameMeta(decision, item.meta)) {
        throw unavailable(
          `routing ${routing.id} changed while the result of job ${item.result.jobId} was being applied`,
        );
      }
      return { ...item, decision };
    });
    const recorded = await tx.recordResults(
      decided.map(({ result, decision, meta }) => generationRecordOf(result, decision, meta, clock())),
    );
    const applied = decided.filter(({ result }) => recorded.has(result.jobId));
    await tx.updateRoutings(applied.flatMap(({ decision }) => (decision.routing ? [decision.routing] : [])));
    await tx.notifications.notifyAll(
      applied.map(({ decision, command }) => ({ notification: decision.notification, cause: command })),
    );
    return { claimed, applied };
  });

  for (const { index, command } of prepared) {
    outcomes[index] = done.claimed.has(command.messageId)
      ? { kind: 'duplicate-job' }
      : { kind: 'duplicate-message' };
  }
  for (const { index, decision } of done.applied) outcomes[index] = { kind: 'applied', decision };
  return outcomes;
}

function jobResultOf(payload: ResultCommand['payload']): JobResult {
  return {
    jobId: payload.jobId,
    routingId: payload.routingId,
    resultStatus: payload.resultStatus,
    message: payload.message,
    outputs: payload.outputs,
    finishedAt: new Date(payload.finishedAt),
  };
}

/**
 * The shared-drive work of a result, before its transaction: checks the outputs if the result needs
 * it and writes the meta.json the decision asks for (deterministic bytes: writing it again is harmless).
 */
async function prepareFiles(
  deps: JobResultDeps,
  routing: Routing,
  result: JobResult,
): Promise<{ verification: OutputVerification | undefined; meta: string | null }> {
  const folder = routingFolder(routing);
  const verification = needsOutputVerification(routing, result)
    ? await deps.sharedDrive.verifyOutputs(folder, result.outputs)
    : undefined;
  const planned = decideResult(routing, result, verification, deps.clock());
  const meta = planned.meta ? renderMetaJson(planned.meta) : null;
  if (meta !== null) await deps.sharedDrive.writeMetaJson(folder, meta);
  return { verification, meta };
}

function generationRecordOf(
  result: JobResult,
  decision: ResultDecision,
  meta: string | null,
  processedAt: Date,
): GenerationRecord {
  return {
    jobId: result.jobId,
    routingId: result.routingId,
    resultStatus: result.resultStatus,
    generationStatus: decision.generationStatus,
    message: decision.message,
    stale: decision.stale,
    camRevisionBefore: decision.camRevisionBefore,
    camRevisionAfter: decision.camRevisionAfter,
    metaJsonDigest: meta === null ? null : createHash('sha256').update(meta).digest('hex'),
    processedAt,
  };
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
): Promise<ProgressOutcome> {
  const { payload } = event;
  const progress = progressOf(event);
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

type ProgressEvent = MessageOf<typeof AddinJobStarted> | MessageOf<typeof AddinJobExpired>;

/** What became of one progress event. */
export type ProgressOutcome = 'applied' | 'ignored' | 'duplicate' | 'unknown-routing';

/**
 * {@link applyJobProgressEvent} for many events in one transaction of three statements: inbox claims,
 * the routings read and locked, the changed ones updated. Events of one routing apply in batch order,
 * each to the state the previous one left, exactly as one transaction after another would.
 */
export async function applyJobProgressEvents(
  deps: { store: RoutingStore; clock: () => Date },
  events: readonly ProgressEvent[],
  consumer: string,
): Promise<ProgressOutcome[]> {
  return deps.store.batchTransaction(async (tx) => {
    const claimed = await tx.claimInbox(
      consumer,
      events.map((event) => event.messageId),
    );
    // A messageId twice in one batch (a redelivery) is claimed once: only its first copy counts.
    const mine = new Set<ProgressEvent>();
    const counted = new Set<string>();
    for (const event of events) {
      if (!claimed.has(event.messageId) || counted.has(event.messageId)) continue;
      counted.add(event.messageId);
      mine.add(event);
    }
    const routings = new Map(await tx.lockRoutings([...new Set([...mine].map((e) => e.payload.routingId))]));
    const changed = new Set<string>();
    const outcomes = events.map((event): ProgressOutcome => {
      if (!mine.has(event)) return 'duplicate';
      const routing = routings.get(event.payload.routingId);
      if (!routing) return 'unknown-routing';
      const next = applyJobProgress(routing, progressOf(event), deps.clock());
      if (!next) return 'ignored';
      routings.set(routing.id, next);
      changed.add(routing.id);
      return 'applied';
    });
    await tx.updateRoutings([...changed].map((id) => routings.get(id) as Routing));
    return outcomes;
  });
}

function progressOf(event: ProgressEvent): JobProgress {
  return {
    jobId: event.payload.jobId,
    attempt: event.payload.attempt,
    kind:
      event.type === 'addin-job.started'
        ? 'started'
        : (event.payload as MessageOf<typeof AddinJobExpired>['payload']).action,
  };
}
