// The invariants of the chaos run, checked over every job once the system is quiet. Each violation is a
// sentence naming the job (or routing, queue, answer) it is about.
import { CONSUMER_QUEUES } from '@mcms/contracts';
import { connectBroker, defineTopology, peekDeadLetters } from '@mcms/messaging';
import { createLogger } from '@mcms/platform';
import { connect as amqpConnect } from 'amqplib';
import { ALL_SERVICES, type System } from '../support/system';
import type { HttpRecord, LoadLog } from './load';

/** A malformed message the run published on purpose, and the queue it went to. */
export interface Poison {
  id: string;
  queue: string;
  kind: 'not-json' | 'not-an-envelope';
}

/** A time window in which a dependency was down (a 503 inside one is expected). */
export interface Outage {
  kind: string;
  from: number;
  to: number;
}

export interface InvariantResult {
  jobs: {
    total: number;
    completed: number;
    failed: number;
    pending: number;
    inProgress: number;
    /** Jobs whose `/complete` was answered 200. */
    completeAnswered200: number;
    /** Jobs that took more than one attempt (lease expiry after a kill or a crash). */
    requeued: number;
  };
  routingsApproved: number;
  lost: number;
  duplicated: number;
  http: {
    byStatus: Record<string, number>;
    /** 503s inside an outage window. */
    expected503: number;
    /**
     * 503s with no fault active: load shedding when the machine is saturated (a request that got no pooled
     * connection or transaction within its wait). Reported, not a violation: the clients retry them.
     */
    overload503: number;
    /** 5xx answers that break the rule (any 5xx but a 503). */
    unexpected5xx: number;
  };
  deadLetters: { poisoned: number; found: number; reasons: Record<string, number> };
  violations: string[];
}

const FINAL_HISTORY = { Completed: 'AddinJobCompleted', Failed: 'AddinJobFailed' } as const;
const FINAL_ALERT = { Completed: 'generation.completed', Failed: 'generation.failed' } as const;

interface JobRow {
  job_id: string;
  routing_id: string;
  status: string;
  attempt: number;
  created_at: Date;
  lease_expires_at: Date | null;
  expired: boolean;
}

function countBy(rows: Array<{ job_id: string; kind: string; n: string }>): Map<string, Map<string, number>> {
  const byJob = new Map<string, Map<string, number>>();
  for (const row of rows) {
    const kinds = byJob.get(row.job_id) ?? new Map<string, number>();
    kinds.set(row.kind, Number(row.n));
    byJob.set(row.job_id, kinds);
  }
  return byJob;
}

/** The backlog left anywhere: outbox rows per service and messages per work or retry queue. */
export async function backlogOf(
  system: System,
  retryDelaysMs: readonly number[],
): Promise<Map<string, number>> {
  const backlog = new Map<string, number>();
  for (const service of ALL_SERVICES) {
    const [row] = await system.sql<{ n: string }>(service, 'SELECT count(*) AS n FROM outbox_message');
    backlog.set(`outbox of ${service}`, Number(row?.n ?? 0));
  }
  const connection = await amqpConnect(system.amqpUrl);
  connection.on('error', () => {});
  try {
    const channel = await connection.createChannel();
    channel.on('error', () => {});
    for (const queue of Object.values(CONSUMER_QUEUES)) {
      const names = [queue, ...retryDelaysMs.map((ms) => `${queue}.retry.${ms}ms`)];
      for (const name of names) {
        const { messageCount } = await channel.checkQueue(`${system.prefix}${name}`);
        backlog.set(`queue ${name}`, messageCount);
      }
    }
  } finally {
    await connection.close().catch(() => {});
  }
  return backlog;
}

function checkHttp(http: readonly HttpRecord[], outages: readonly Outage[], violations: string[]) {
  const byStatus: Record<string, number> = {};
  let expected503 = 0;
  let overload503 = 0;
  let unexpected5xx = 0;
  for (const r of http) {
    const key = r.status === 0 ? `no answer (${r.error ?? 'error'})` : String(r.status);
    byStatus[key] = (byStatus[key] ?? 0) + 1;
    if (r.status < 500) continue;
    const inOutage = outages.some((o) => r.at >= o.from && r.at <= o.to);
    if (r.status === 503) {
      if (inOutage) expected503++;
      else overload503++;
      continue;
    }
    unexpected5xx++;
    if (unexpected5xx <= 20) {
      violations.push(
        `${r.who} got ${r.status} from ${r.service} ${r.method} ${r.route}${r.jobId ? ` (job ${r.jobId})` : ''} ` +
          `at ${new Date(r.at).toISOString()}${inOutage ? ' during an outage' : ' with no fault active'}`,
      );
    }
  }
  if (unexpected5xx > 20) violations.push(`… and ${unexpected5xx - 20} more unexpected 5xx answers`);
  return { byStatus, expected503, overload503, unexpected5xx };
}

async function checkDeadLetters(
  system: System,
  poisons: readonly Poison[],
  violations: string[],
): Promise<InvariantResult['deadLetters']> {
  const broker = await connectBroker({
    url: system.amqpUrl,
    topology: defineTopology({ prefix: system.prefix, queueType: 'classic', consumers: [] }),
    log: createLogger({ service: 'chaos-checker', level: 'silent' }),
    connectionName: 'chaos-dead-letter-check',
  });
  const reasons: Record<string, number> = {};
  const seen = new Map<string, number>();
  let found = 0;
  try {
    for (const queue of Object.values(CONSUMER_QUEUES)) {
      for (const letter of await peekDeadLetters(broker, queue, { limit: 10_000 })) {
        found++;
        const reason = letter.reason ?? '(none)';
        reasons[reason] = (reasons[reason] ?? 0) + 1;
        const text = typeof letter.body === 'string' ? letter.body : JSON.stringify(letter.body);
        const poison = poisons.find((p) => text.includes(p.id));
        if (!poison) {
          const jobId = (letter.body as { payload?: { jobId?: string } } | undefined)?.payload?.jobId;
          violations.push(
            `dead-letter queue of ${queue} holds a message nobody poisoned: ${letter.type ?? 'no type'}` +
              `${jobId ? ` of job ${jobId}` : ''}, reason ${reason}: ${letter.message ?? ''}`,
          );
          continue;
        }
        seen.set(poison.id, (seen.get(poison.id) ?? 0) + 1);
        if (poison.queue !== queue)
          violations.push(
            `poisoned message ${poison.id} (sent to ${poison.queue}) was dead-lettered by ${queue}`,
          );
        if (!letter.reason)
          violations.push(`poisoned message ${poison.id} was dead-lettered without a reason`);
      }
    }
  } finally {
    await broker.close().catch(() => {});
  }
  for (const poison of poisons) {
    const times = seen.get(poison.id) ?? 0;
    if (times !== 1)
      violations.push(
        `poisoned message ${poison.id} (${poison.kind}, to ${poison.queue}) is in its dead-letter queue ${times} times, expected once`,
      );
  }
  return { poisoned: poisons.length, found, reasons };
}

/**
 * Checks every invariant of issue 7 over every job of the run. `sweepSlackMs`: how far past its lease
 * a job may still be InProgress (the sweep runs on an interval).
 */
export async function checkInvariants(options: {
  system: System;
  log: LoadLog;
  poisons: readonly Poison[];
  outages: readonly Outage[];
  retryDelaysMs: readonly number[];
  sweepSlackMs: number;
}): Promise<InvariantResult> {
  const { system, log } = options;
  const violations: string[] = [];
  const jobs = await system.sql<JobRow>(
    'addin-gateway',
    `SELECT job_id, routing_id, status, attempt, created_at, lease_expires_at,
            (status = 'InProgress' AND lease_expires_at < now() - make_interval(secs => $1)) AS expired
       FROM addin_job`,
    [options.sweepSlackMs / 1000],
  );
  const history = countBy(
    await system.sql(
      'history-service',
      `SELECT job_id, change_type AS kind, count(*) AS n FROM history_entry
        WHERE change_type IN ('AddinJobCompleted', 'AddinJobFailed') GROUP BY job_id, change_type`,
    ),
  );
  const alerts = countBy(
    await system.sql(
      'notification-service',
      `SELECT job_id, type AS kind, count(*) AS n FROM notification
        WHERE type IN ('generation.completed', 'generation.failed') GROUP BY job_id, type`,
    ),
  );
  const routings = await system.sql<{
    id: string;
    status: string;
    last_addin_job_id: string | null;
    last_generation_status: string | null;
    last_generation_message: string | null;
  }>(
    'routing-worker',
    'SELECT id, status, last_addin_job_id, last_generation_status, last_generation_message FROM routing',
  );

  const lost = new Set<string>();
  const duplicated = new Set<string>();
  const byId = new Map(jobs.map((j) => [j.job_id, j]));

  for (const [jobId, answered] of log.completed) {
    const job = byId.get(jobId);
    const expected = answered.resultStatus === 'completed' ? 'Completed' : 'Failed';
    if (!job) {
      lost.add(jobId);
      violations.push(`job ${jobId}: /complete answered 200 but the gateway has no such job`);
    } else if (job.status !== expected) {
      lost.add(jobId);
      violations.push(
        `job ${jobId}: /complete answered 200 (${answered.resultStatus}) but the job is ${job.status}`,
      );
    }
  }

  for (const job of jobs) {
    if (job.expired)
      violations.push(
        `job ${job.job_id} is InProgress past its lease (${job.lease_expires_at?.toISOString()})`,
      );
    if (job.status !== 'Completed' && job.status !== 'Failed') continue;
    const final = job.status;
    for (const [what, counts, expectedKind] of [
      ['history entry', history.get(job.job_id), FINAL_HISTORY[final]],
      ['stored alert', alerts.get(job.job_id), FINAL_ALERT[final]],
    ] as const) {
      const total = [...(counts?.values() ?? [])].reduce((a, b) => a + b, 0);
      const right = counts?.get(expectedKind) ?? 0;
      if (total === 1 && right === 1) continue;
      if (total === 0) lost.add(job.job_id);
      else duplicated.add(job.job_id);
      violations.push(
        `job ${job.job_id} (${final}) has ${total} final ${what}(s) (${
          [...(counts?.entries() ?? [])].map(([k, n]) => `${k} ×${n}`).join(', ') || 'none'
        }), expected exactly one ${expectedKind}`,
      );
    }
  }

  const latestByRouting = new Map<string, JobRow>();
  for (const job of jobs) {
    const seen = latestByRouting.get(job.routing_id);
    if (!seen || job.created_at > seen.created_at) latestByRouting.set(job.routing_id, job);
  }
  for (const routing of routings.filter((r) => r.status === 'Approved')) {
    const latest = latestByRouting.get(routing.id);
    if (!latest) {
      lost.add(routing.id);
      violations.push(`routing ${routing.id} was approved but the gateway has no job for it`);
      continue;
    }
    if (routing.last_addin_job_id !== latest.job_id) {
      violations.push(
        `routing ${routing.id} names job ${routing.last_addin_job_id ?? 'none'}, its latest job is ${latest.job_id}`,
      );
    } else if (
      (latest.status === 'Completed' || latest.status === 'Failed') &&
      routing.last_generation_status !== latest.status
    ) {
      violations.push(
        `routing ${routing.id} shows generation ${routing.last_generation_status ?? 'none'} ` +
          `(${routing.last_generation_message ?? 'no message'}), its latest job ${latest.job_id} is ${latest.status}`,
      );
    }
  }

  for (const [where, n] of await backlogOf(system, options.retryDelaysMs)) {
    if (n !== 0) violations.push(`${where} still holds ${n} message(s)`);
  }
  const deadLetters = await checkDeadLetters(system, options.poisons, violations);
  const http = checkHttp(log.http, options.outages, violations);

  const count = (status: string) => jobs.filter((j) => j.status === status).length;
  return {
    jobs: {
      total: jobs.length,
      completed: count('Completed'),
      failed: count('Failed'),
      pending: count('Pending'),
      inProgress: count('InProgress'),
      completeAnswered200: log.completed.size,
      requeued: jobs.filter((j) => j.attempt > 1).length,
    },
    routingsApproved: routings.filter((r) => r.status === 'Approved').length,
    lost: lost.size,
    duplicated: duplicated.size,
    http,
    deadLetters,
    violations,
  };
}
