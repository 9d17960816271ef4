import { z } from 'zod';
import { defineMessage, type MessageOf } from './define-message';
import {
  Actor,
  Code,
  DeviceId,
  Id,
  JobParameters,
  OutputFiles,
  ResultMessage,
  SemVer,
  Timestamp,
} from './fields';

/** Approval (or a regenerate request) asks the gateway to create one add-in job. */
export const EspritGenerationCommand = defineMessage({
  type: 'mcms.esprit-generation.request',
  version: 1,
  kind: 'command',
  summary: 'Create the ESPRIT add-in job for an approved routing (idempotent on jobId).',
  payload: z.object({
    jobId: Id,
    routingId: Id,
    routingCode: Code,
    itemCode: Code,
    revisionCode: Code,
    camRevision: SemVer,
    parameters: JobParameters,
    requestedBy: Actor,
  }),
});
export type EspritGenerationCommand = MessageOf<typeof EspritGenerationCommand>;

/** The add-in finished a job (or the gateway gave up on it): the routing-worker applies the result. */
export const AddinJobResultCommand = defineMessage({
  type: 'mcms.addin-job.result',
  version: 1,
  kind: 'command',
  summary: "Apply an add-in job's final result to its routing: validate outputs, update state, raise alerts.",
  payload: z.object({
    jobId: Id,
    routingId: Id,
    resultStatus: z.enum(['completed', 'failed']),
    message: ResultMessage.nullable(),
    outputs: OutputFiles,
    attempt: z.number().int().min(1),
    deviceId: DeviceId.nullable(),
    finishedAt: Timestamp,
  }),
});
export type AddinJobResultCommand = MessageOf<typeof AddinJobResultCommand>;

/** Every command, for registries and the AsyncAPI document. */
export const commands = [EspritGenerationCommand, AddinJobResultCommand] as const;
