import { peekDeadLetters, purgeDeadLetters, replayDeadLetters, type DeadLetter } from '@mcms/messaging';
import type { Logger } from '@mcms/platform';
import { appendAudit } from './audit';
import { queueDepth, serviceQueues, withBroker } from './broker';
import { CommandError, UsageError } from './errors';
import { cell, progress, table, type CliIo } from './output';
import { KNOWN_QUEUES, type CliSettings } from './settings';

interface Common {
  settings: CliSettings;
  io: CliIo;
  log: Logger;
  json: boolean;
  now: () => Date;
}

/** `mcms dlq list`: every consumer queue's dead-letter depth. */
export async function listDeadLetterDepths({ settings, io, log, json }: Common): Promise<void> {
  const names = serviceQueues(settings).names;
  const rows = await withBroker(settings, log, async (broker) => {
    const found = [];
    for (const queue of KNOWN_QUEUES) {
      const deadLetterQueue = names.deadLetterQueue(queue);
      const depth = await queueDepth(broker, deadLetterQueue);
      found.push({ queue, deadLetterQueue, deadLetters: depth?.messages ?? null });
    }
    return found;
  });
  if (json) return io.stdout(`${JSON.stringify(rows)}\n`);
  io.stdout(
    table(
      ['QUEUE', 'DEAD LETTERS', 'DEAD-LETTER QUEUE'],
      rows.map((row) => [
        row.queue,
        row.deadLetters === null ? 'missing' : String(row.deadLetters),
        row.deadLetterQueue,
      ]),
    ),
  );
}

/** `mcms dlq list --queue q`: the oldest dead letters of one queue, without consuming them. */
export async function showDeadLetters(common: Common, queue: string, limit: number): Promise<void> {
  const { settings, io, log, json } = common;
  const letters = await withBroker(settings, log, (broker) => peekDeadLetters(broker, queue, { limit }));
  if (json) return io.stdout(`${JSON.stringify(letters)}\n`);
  if (letters.length === 0) return io.stdout(`no dead letters in ${queue}\n`);
  io.stdout(
    table(
      ['MESSAGE ID', 'TYPE', 'REASON', 'ATTEMPTS', 'FIRST FAILURE', 'LAST FAILURE', 'MESSAGE'],
      letters.map((letter) => [
        cell(letter.messageId),
        cell(letter.type),
        cell(letter.reason),
        cell(letter.attempts),
        cell(letter.firstFailureAt),
        cell(letter.lastFailureAt),
        cell(letter.message, 80),
      ]),
    ),
  );
}

/** Which dead letters a replay takes; several given means all must match. */
export interface ReplaySelection {
  messageId?: string;
  reason?: string;
  type?: string;
  all: boolean;
}

/** `mcms dlq replay`: back to the originating work queue, recorded on the copies and in the audit log. */
export async function replay(
  common: Common,
  options: { queue: string; selection: ReplaySelection; limit?: number; by: string },
): Promise<void> {
  const { settings, io, log, json } = common;
  const { queue, selection, limit, by } = options;
  const { messageId, reason, type, all } = selection;
  const filtered = messageId !== undefined || reason !== undefined || type !== undefined;
  if (filtered === all) {
    throw new UsageError('choose what to replay: --message-id, --reason and/or --type, or --all');
  }
  const deadLetterQueue = serviceQueues(settings).names.deadLetterQueue(queue);
  const matches = (letter: DeadLetter) =>
    (messageId === undefined || letter.messageId === messageId) &&
    (reason === undefined || letter.reason === reason) &&
    (type === undefined || letter.type === type);

  const selected: string[] = [];
  const outcome = await withBroker(settings, log, async (broker) => {
    const depth = await queueDepth(broker, deadLetterQueue);
    if (depth === undefined) throw new CommandError(`${deadLetterQueue} does not exist`);
    const bar = progress(io, `replaying ${queue}`, depth.messages);
    let examined = 0;
    try {
      return await replayDeadLetters(broker, queue, {
        replayedBy: by,
        ...(limit !== undefined ? { limit } : {}),
        filter: (letter) => {
          bar.update(++examined, `(${selected.length} selected)`);
          if (!matches(letter)) return false;
          if (letter.messageId !== undefined) selected.push(letter.messageId);
          return true;
        },
      });
    } finally {
      bar.finish();
    }
  });
  await appendAudit(settings.auditLog, {
    at: outcome.replayedAt,
    by,
    action: 'dlq.replay',
    queue,
    deadLetterQueue,
    filter: { messageId, reason, type, all, limit },
    replayed: outcome.replayed,
    skipped: outcome.skipped,
    failed: outcome.failed,
    // Selected = replayed + failed: a failed one stays in the dead-letter queue.
    messageIds: selected,
  });
  if (json) {
    io.stdout(`${JSON.stringify({ queue, deadLetterQueue, ...outcome, messageIds: selected })}\n`);
  } else {
    io.stdout(
      `replayed ${outcome.replayed} dead letter(s) of ${queue} to ${settings.topologyPrefix}${queue}` +
        ` (skipped ${outcome.skipped}, failed ${outcome.failed}) as ${by} at ${outcome.replayedAt}\n`,
    );
  }
  if (outcome.failed > 0)
    throw new CommandError(
      `${outcome.failed} dead letter(s) could not be replayed; they stay in ${deadLetterQueue}`,
    );
  if (filtered && outcome.replayed === 0) throw new CommandError('no dead letter matched');
}

/** `mcms dlq purge`: deletes every dead letter of one queue, after a confirmation. */
export async function purge(
  common: Common,
  options: { queue: string; yes: boolean; by: string },
): Promise<void> {
  const { settings, io, log, json, now } = common;
  const { queue, yes, by } = options;
  const deadLetterQueue = serviceQueues(settings).names.deadLetterQueue(queue);
  if (!yes) {
    // Scripts must say so explicitly: a purge can't be undone, and nobody is there to answer.
    if (!io.stdinIsTTY)
      throw new UsageError('purge deletes messages for good: pass --yes when stdin is not a terminal');
    const answer = await io.ask(
      `Delete every dead letter in ${deadLetterQueue}? Type the queue name to confirm: `,
    );
    if (answer.trim() !== queue) throw new CommandError('not confirmed; nothing purged');
  }
  const purged = await withBroker(settings, log, async (broker) => {
    if ((await queueDepth(broker, deadLetterQueue)) === undefined) {
      throw new CommandError(`${deadLetterQueue} does not exist`);
    }
    return purgeDeadLetters(broker, queue);
  });
  const at = now().toISOString();
  await appendAudit(settings.auditLog, { at, by, action: 'dlq.purge', queue, deadLetterQueue, purged });
  io.stdout(
    json
      ? `${JSON.stringify({ queue, deadLetterQueue, purged, by, at })}\n`
      : `purged ${purged} dead letter(s) from ${deadLetterQueue}\n`,
  );
}
