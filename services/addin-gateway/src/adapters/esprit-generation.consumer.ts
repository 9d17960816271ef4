import { EspritGenerationCommand } from '@mcms/contracts';
import { handlerFor, type MessageHandler } from '@mcms/messaging';
import type { JobStore } from './job-store';

/**
 * Creates the Pending job of an EspritGenerationCommand. Idempotent on jobId, so a redelivery (or the same
 * command published twice) creates nothing and emits nothing a second time; no inbox is needed for that.
 * Database errors are retryable (retry tiers); an invalid envelope never reaches here (dead-lettered).
 */
export function espritGenerationHandler(deps: {
  jobs: JobStore;
  clock: () => Date;
}): MessageHandler<typeof EspritGenerationCommand> {
  return handlerFor(EspritGenerationCommand, async (command, ctx) => {
    const job = await deps.jobs.create(command, deps.clock());
    const ids = { jobId: command.payload.jobId, routingId: command.payload.routingId };
    if (job === undefined) ctx.log.info(ids, 'job already exists; command ignored');
    else ctx.log.info(ids, 'job queued');
  });
}
