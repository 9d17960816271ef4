import type { PayloadOf, RoutingGenerationCompleted, RoutingGenerationFailed } from '@mcms/contracts';
import { bumpMinor, duplicatePaths, normaliseOutputs, outputDigest, type OutputFile } from './cam-revision';
import { generationEventId } from './message-ids';
import type { GenerationStatus, Routing } from './routing';

/** The add-in's final word on a job, as the result command carries it. */
export interface JobResult {
  jobId: string;
  routingId: string;
  resultStatus: 'completed' | 'failed';
  message: string | null;
  outputs: readonly OutputFile[];
  /** When the add-in (or the gateway, for an expiry) finished the job: the only time meta.json carries. */
  finishedAt: Date;
}

/** One output that failed validation on the shared drive, and why (`missing on the shared drive`, …). */
export interface OutputProblem {
  path: string;
  reason: string;
}

/** What checking the outputs on the shared drive found. An unreachable share is an error, not a verification. */
export type OutputVerification = { ok: true } | { ok: false; problems: OutputProblem[] };

/** The `routing.generation.*` event a result raises, with its deterministic messageId. */
export type GenerationNotification =
  | { kind: 'completed'; messageId: string; payload: PayloadOf<typeof RoutingGenerationCompleted> }
  | { kind: 'failed'; messageId: string; payload: PayloadOf<typeof RoutingGenerationFailed> };

/** What `meta.json` beside the outputs records. */
export interface MetaJson {
  routingId: string;
  routingCode: string;
  itemCode: string;
  revisionCode: string;
  camRevision: string;
  jobId: string;
  /** The messageId of the `routing.generation.completed` event, which history uses as its entry id. */
  historyId: string;
  generatedAt: string;
  files: OutputFile[];
}

/** Everything applying a result changes, decided before any of it is written. */
export interface ResultDecision {
  stale: boolean;
  generationStatus: Extract<GenerationStatus, 'Completed' | 'Failed'>;
  message: string | null;
  camRevisionBefore: string;
  camRevisionAfter: string;
  /** The routing as it should be stored; null when the result is stale and the routing stays as it is. */
  routing: Routing | null;
  /** The meta.json to write beside valid outputs; null when none is written. */
  meta: MetaJson | null;
  notification: GenerationNotification;
}

/** The longest message a routing and the failure event carry. */
export const MAX_MESSAGE_LENGTH = 4000;

/** Whether `jobId` is the routing's latest job; a result of any other job is stale. */
export function isCurrentJob(routing: Routing, jobId: string): boolean {
  return routing.lastAddinJobId === jobId;
}

/**
 * Whether applying this result needs the outputs checked on the shared drive first: only a completed
 * result of the current job with outputs (a stale one must not rewrite the folder's meta.json).
 */
export function needsOutputVerification(routing: Routing, result: JobResult): boolean {
  return (
    isCurrentJob(routing, result.jobId) &&
    result.resultStatus === 'completed' &&
    result.outputs.length > 0 &&
    duplicatePaths(result.outputs).length === 0
  );
}

/**
 * Decides what a result does. Current job, `completed`, valid outputs: Completed, meta.json, and the
 * CAM revision's minor bumped only if the outputs differ from the last successful generation's.
 * Invalid outputs or `failed`: Failed with a message naming each file and why; the routing stays
 * Approved (a generation failure is no approval outcome). Stale job: recorded and announced with
 * `stale: true`, routing untouched. Pure: the same inputs give the same decision, byte for byte.
 */
export function decideResult(
  routing: Routing,
  result: JobResult,
  verification: OutputVerification | undefined,
  now: Date,
): ResultDecision {
  const outputs = normaliseOutputs(result.outputs);
  const finishedAt = result.finishedAt.toISOString();
  const base = { routingId: routing.id, routingCode: routing.routingCode, jobId: result.jobId };
  const before = routing.camRevision;

  if (!isCurrentJob(routing, result.jobId)) {
    const failed = result.resultStatus === 'failed';
    return {
      stale: true,
      generationStatus: failed ? 'Failed' : 'Completed',
      message: result.message,
      camRevisionBefore: before,
      camRevisionAfter: before,
      routing: null,
      meta: null,
      notification: failed
        ? failedNotification(base, addinFailureMessage(result.message), true, finishedAt)
        : completedNotification(base, before, before, outputs, true, finishedAt),
    };
  }

  const failure = failureOf(routing, result, verification);
  if (failure !== undefined) {
    return {
      stale: false,
      generationStatus: 'Failed',
      message: failure,
      camRevisionBefore: before,
      camRevisionAfter: before,
      routing: {
        ...routing,
        lastGenerationStatus: 'Failed',
        lastGenerationMessage: failure,
        updatedAt: now,
      },
      meta: null,
      notification: failedNotification(base, failure, false, finishedAt),
    };
  }

  // Nothing to compare or describe: a completed job without files changes no revision and writes no meta.json.
  const digest = outputs.length > 0 ? outputDigest(outputs) : routing.lastOutputDigest;
  const after = digest !== routing.lastOutputDigest ? bumpMinor(before) : before;
  const notification = completedNotification(base, after, before, outputs, false, finishedAt);
  return {
    stale: false,
    generationStatus: 'Completed',
    message: result.message,
    camRevisionBefore: before,
    camRevisionAfter: after,
    routing: {
      ...routing,
      camRevision: after,
      lastGenerationStatus: 'Completed',
      lastGenerationMessage: result.message,
      lastGeneratedAt: result.finishedAt,
      lastOutputDigest: digest,
      updatedAt: now,
    },
    meta:
      outputs.length > 0
        ? {
            routingId: routing.id,
            routingCode: routing.routingCode,
            itemCode: routing.itemCode,
            revisionCode: routing.revisionCode,
            camRevision: after,
            jobId: result.jobId,
            historyId: notification.messageId,
            generatedAt: finishedAt,
            files: outputs,
          }
        : null,
    notification,
  };
}

/** meta.json's bytes: fixed key order, sorted files, no clock, so the same result writes the same file. */
export function renderMetaJson(meta: MetaJson): string {
  const ordered: MetaJson = {
    routingId: meta.routingId,
    routingCode: meta.routingCode,
    itemCode: meta.itemCode,
    revisionCode: meta.revisionCode,
    camRevision: meta.camRevision,
    jobId: meta.jobId,
    historyId: meta.historyId,
    generatedAt: meta.generatedAt,
    files: normaliseOutputs(meta.files).map(({ path, sha256, sizeBytes }) => ({ path, sha256, sizeBytes })),
  };
  return `${JSON.stringify(ordered, null, 2)}\n`;
}

/** The failure message of a current job's result, or undefined when it succeeded. */
function failureOf(
  routing: Routing,
  result: JobResult,
  verification: OutputVerification | undefined,
): string | undefined {
  if (result.resultStatus === 'failed') return addinFailureMessage(result.message);
  const duplicates = duplicatePaths(result.outputs);
  if (duplicates.length > 0) {
    return describeProblems(duplicates.map((path) => ({ path, reason: 'reported more than once' })));
  }
  if (!needsOutputVerification(routing, result)) return undefined;
  if (verification === undefined)
    throw new Error(`job ${result.jobId}: outputs must be verified before deciding`);
  return verification.ok ? undefined : describeProblems(verification.problems);
}

function addinFailureMessage(message: string | null): string {
  return limit(message?.trim() ? message : 'the add-in reported a failure without a message');
}

function describeProblems(problems: readonly OutputProblem[]): string {
  return limit(
    `output validation failed: ${problems.map(({ path, reason }) => `${path}: ${reason}`).join('; ')}`,
  );
}

function limit(text: string): string {
  return text.length <= MAX_MESSAGE_LENGTH ? text : `${text.slice(0, MAX_MESSAGE_LENGTH - 1)}…`;
}

function completedNotification(
  base: { routingId: string; routingCode: string; jobId: string },
  camRevision: string,
  previousCamRevision: string,
  outputs: OutputFile[],
  stale: boolean,
  completedAt: string,
): GenerationNotification {
  return {
    kind: 'completed',
    messageId: generationEventId(base.jobId, 'completed'),
    payload: { ...base, camRevision, previousCamRevision, outputs, stale, completedAt },
  };
}

function failedNotification(
  base: { routingId: string; routingCode: string; jobId: string },
  message: string,
  stale: boolean,
  failedAt: string,
): GenerationNotification {
  return {
    kind: 'failed',
    messageId: generationEventId(base.jobId, 'failed'),
    payload: { ...base, message, stale, failedAt },
  };
}
