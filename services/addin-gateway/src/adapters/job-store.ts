import type { EspritGenerationCommand } from '@mcms/contracts';
import { enqueueOutbox, fromPrismaTx, type OutgoingMessage } from '@mcms/messaging';
import { conflict, notFound } from '@mcms/platform';
import { canonicalResult, decideCompletion, resultHashOf, type CompletionBody } from '../domain/completion';
import { decideExpiry, pendingCutoff, type ExpiryDecision, type ExpiryPolicy } from '../domain/expiry';
import { heartbeatRefusal, leaseUntil, type Job, type JobStatus } from '../domain/job';
import { Prisma, type PrismaClient } from '../generated/prisma/client';
import { jobExpired, jobQueued, jobResult, jobStarted } from './job-messages';
import { jobFromRow, type JobRow } from './job-rows';

type Tx = Parameters<Parameters<PrismaClient['$transaction']>[0]>[0];

// Prisma's defaults (2 s to get a connection, 5 s to finish) are tight when 50 add-ins claim at once on a
// pool of 10; each of these transactions is a handful of statements.
const TX_OPTIONS = { maxWait: 10_000, timeout: 15_000 };

/** One job the sweeper changed, and how. */
export interface SweptJob {
  job: Job;
  decision: ExpiryDecision;
}

/** The gateway's jobs in PostgreSQL: every state change commits together with the messages it emits. */
export interface JobStore {
  /** Creates the Pending job of `command` unless its jobId exists; emits `addin-job.queued` only when created. */
  create(command: EspritGenerationCommand, now: Date): Promise<Job | undefined>;
  /** Hands the oldest Pending job to `deviceId` under a lease (one statement, `SKIP LOCKED`), or undefined. */
  claimNext(deviceId: string, now: Date, leaseMs: number): Promise<Job | undefined>;
  /** Extends the lease `deviceId` holds; 404 for an unknown job, 409 `lease_not_held` otherwise. */
  extendLease(jobId: string, deviceId: string, now: Date, leaseMs: number): Promise<Date>;
  /** Records the add-in's result (idempotent for the same body); see `decideCompletion`. */
  complete(
    jobId: string,
    deviceId: string,
    body: CompletionBody,
    now: Date,
  ): Promise<{ job: Job; replayed: boolean }>;
  find(jobId: string): Promise<Job | undefined>;
  /** Requeues or fails what is due at `now`, `batchSize` jobs per transaction, until nothing is due. */
  sweep(now: Date, policy: ExpiryPolicy, batchSize?: number): Promise<SweptJob[]>;
  /** Pending jobs, counted up to `limit`. */
  countPending(limit: number): Promise<number>;
  /** Up to `limit` jobs (of `status`, when given) after `after`, oldest first by (createdAt, jobId). */
  list(options: { status?: JobStatus; limit: number; after?: JobPosition }): Promise<Job[]>;
}

/** Where a page of {@link JobStore.list} ends: the last job's sort key. */
export interface JobPosition {
  createdAt: Date;
  jobId: string;
}

/** The {@link JobStore} on the gateway's Prisma client. */
export function createJobStore(prisma: PrismaClient): JobStore {
  const transaction = <T>(fn: (tx: Tx) => Promise<T>) => prisma.$transaction(fn, TX_OPTIONS);
  const emit = (tx: Tx, messages: OutgoingMessage[]) => enqueueOutbox(fromPrismaTx(tx), messages);
  const find = async (jobId: string): Promise<Job | undefined> => {
    const rows = await prisma.$queryRaw<JobRow[]>`SELECT * FROM addin_job WHERE job_id = ${jobId}::uuid`;
    return rows[0] === undefined ? undefined : jobFromRow(rows[0]);
  };

  return {
    create: (command, now) =>
      transaction(async (tx) => {
        const p = command.payload;
        // ON CONFLICT DO NOTHING: a redelivered command (or the routing-worker's outbox publishing it again)
        // finds its job and changes nothing.
        const rows = await tx.$queryRaw<JobRow[]>`
          INSERT INTO addin_job (job_id, routing_id, routing_code, item_code, revision_code, cam_revision, parameters,
            status, attempt, created_at, pending_since, requested_by, correlation_id, updated_at)
          VALUES (${p.jobId}::uuid, ${p.routingId}::uuid, ${p.routingCode}, ${p.itemCode}, ${p.revisionCode},
            ${p.camRevision}, ${JSON.stringify(p.parameters)}::jsonb, 'Pending', 1, ${now}::timestamptz,
            ${now}::timestamptz, ${p.requestedBy}, ${command.correlationId}, ${now}::timestamptz)
          ON CONFLICT (job_id) DO NOTHING
          RETURNING *`;
        const row = rows[0];
        if (row === undefined) return undefined;
        const job = jobFromRow(row);
        await emit(tx, [jobQueued(job, command, now)]);
        return job;
      }),

    claimNext: (deviceId, now, leaseMs) =>
      transaction(async (tx) => {
        const rows = await tx.$queryRaw<JobRow[]>`
          UPDATE addin_job
          SET status = 'InProgress', claimed_by = ${deviceId}, started_at = ${now}::timestamptz,
            lease_expires_at = ${leaseUntil(now, leaseMs)}::timestamptz, updated_at = ${now}::timestamptz
          WHERE job_id = (
            SELECT job_id FROM addin_job WHERE status = 'Pending'
            ORDER BY created_at, job_id LIMIT 1 FOR UPDATE SKIP LOCKED)
          RETURNING *`;
        const row = rows[0];
        if (row === undefined) return undefined;
        const job = jobFromRow(row);
        await emit(tx, [jobStarted(job, now)]);
        return job;
      }),

    async extendLease(jobId, deviceId, now, leaseMs) {
      // The hot path is one conditional statement (the condition is `holdsLease`); only a refusal reads the job.
      const rows = await prisma.$queryRaw<Array<{ lease_expires_at: Date }>>`
        UPDATE addin_job SET lease_expires_at = ${leaseUntil(now, leaseMs)}::timestamptz, updated_at = ${now}::timestamptz
        WHERE job_id = ${jobId}::uuid AND status = 'InProgress' AND claimed_by = ${deviceId}
        RETURNING lease_expires_at`;
      const extended = rows[0];
      if (extended !== undefined) return extended.lease_expires_at;
      const job = await find(jobId);
      if (job === undefined) throw notFound(`job ${jobId}`);
      const refusal = heartbeatRefusal(job, deviceId) ?? {
        code: 'lease_not_held',
        message: `job ${jobId} changed hands during the heartbeat`,
      };
      throw conflict(refusal.code, refusal.message);
    },

    complete: (jobId, deviceId, body, now) =>
      transaction(async (tx) => {
        const rows = await tx.$queryRaw<
          JobRow[]
        >`SELECT * FROM addin_job WHERE job_id = ${jobId}::uuid FOR UPDATE`;
        const row = rows[0];
        if (row === undefined) throw notFound(`job ${jobId}`);
        const current = jobFromRow(row);
        const result = canonicalResult(body);
        const hash = resultHashOf(result);
        const decision = decideCompletion(current, deviceId, { resultStatus: result.resultStatus, hash });
        if (decision.kind === 'refuse') throw conflict(decision.code, decision.message);
        if (decision.kind === 'replay') return { job: current, replayed: true };
        const updated = await tx.$queryRaw<JobRow[]>`
          UPDATE addin_job
          SET status = ${decision.status}, completed_at = ${now}::timestamptz, result_status = ${result.resultStatus},
            message = ${result.message}, outputs = ${JSON.stringify(result.outputs)}::jsonb, result_hash = ${hash},
            lease_expires_at = NULL, updated_at = ${now}::timestamptz
          WHERE job_id = ${jobId}::uuid
          RETURNING *`;
        const job = jobFromRow(updated[0] as JobRow);
        await emit(tx, [jobResult(job, now)]);
        return { job, replayed: false };
      }),

    find,

    async sweep(now, policy, batchSize = 100) {
      const swept: SweptJob[] = [];
      for (;;) {
        const { jobs, full } = await transaction((tx) => sweepBatch(tx, now, policy, batchSize));
        swept.push(...jobs);
        if (!full) return swept;
      }
    },

    async countPending(limit) {
      const rows = await prisma.$queryRaw<Array<{ n: number }>>`
        SELECT count(*)::int AS n FROM (SELECT 1 FROM addin_job WHERE status = 'Pending' LIMIT ${limit}) pending`;
      return rows[0]?.n ?? 0;
    },

    async list({ status, limit, after }) {
      // Keyset paging on (created_at, job_id): stable while jobs are added, and the (status, created_at) index
      // serves the status filter.
      const conditions = [
        status === undefined ? undefined : Prisma.sql`status = ${status}`,
        after === undefined
          ? undefined
          : Prisma.sql`(created_at, job_id) > (${after.createdAt}::timestamptz, ${after.jobId}::uuid)`,
      ].filter((condition) => condition !== undefined);
      const where =
        conditions.length === 0 ? Prisma.empty : Prisma.sql`WHERE ${Prisma.join(conditions, ' AND ')}`;
      const rows = await prisma.$queryRaw<JobRow[]>`
        SELECT * FROM addin_job ${where} ORDER BY created_at, job_id LIMIT ${limit}`;
      return rows.map(jobFromRow);
    },
  };

  // One batch: lock what is due (SKIP LOCKED, so replicas sweeping at once split the work and never block a
  // claim or a completion), decide per job, write the decisions with one statement per outcome.
  async function sweepBatch(
    tx: Tx,
    now: Date,
    policy: ExpiryPolicy,
    batchSize: number,
  ): Promise<{ jobs: SweptJob[]; full: boolean }> {
    const expiredLeases = await tx.$queryRaw<JobRow[]>`
      SELECT * FROM addin_job WHERE status = 'InProgress' AND lease_expires_at <= ${now}::timestamptz
      ORDER BY lease_expires_at LIMIT ${batchSize} FOR UPDATE SKIP LOCKED`;
    const waitedTooLong = await tx.$queryRaw<JobRow[]>`
      SELECT * FROM addin_job WHERE status = 'Pending' AND pending_since <= ${pendingCutoff(now, policy)}::timestamptz
      ORDER BY pending_since LIMIT ${batchSize} FOR UPDATE SKIP LOCKED`;
    const full = expiredLeases.length === batchSize || waitedTooLong.length === batchSize;

    const requeue: Array<{ before: Job; decision: ExpiryDecision }> = [];
    const fail = new Map<string, Array<{ before: Job; decision: ExpiryDecision }>>();
    for (const row of [...expiredLeases, ...waitedTooLong]) {
      const before = jobFromRow(row);
      const decision = decideExpiry(before, now, policy);
      if (decision === undefined) continue;
      if (decision.kind === 'requeue') requeue.push({ before, decision });
      else fail.set(decision.reason, [...(fail.get(decision.reason) ?? []), { before, decision }]);
    }

    const jobs: SweptJob[] = [];
    const messages: OutgoingMessage[] = [];
    if (requeue.length > 0) {
      const rows = await tx.$queryRaw<JobRow[]>`
        UPDATE addin_job
        SET status = 'Pending', attempt = attempt + 1, pending_since = ${now}::timestamptz, started_at = NULL,
          claimed_by = NULL, lease_expires_at = NULL, updated_at = ${now}::timestamptz
        WHERE job_id = ANY(${requeue.map(({ before }) => before.jobId)}::uuid[])
        RETURNING *`;
      const after = new Map(rows.map((row) => [row.job_id, jobFromRow(row)]));
      for (const { before, decision } of requeue) {
        const job = after.get(before.jobId) as Job;
        jobs.push({ job, decision });
        messages.push(
          jobExpired(
            job,
            {
              action: 'requeued',
              attempt: before.attempt,
              reason: decision.reason,
              deviceId: before.claimedBy,
            },
            now,
          ),
        );
      }
    }
    for (const [reason, group] of fail) {
      const rows = await tx.$queryRaw<JobRow[]>`
        UPDATE addin_job
        SET status = 'Failed', result_status = 'failed', message = ${reason}, completed_at = ${now}::timestamptz,
          lease_expires_at = NULL, updated_at = ${now}::timestamptz
        WHERE job_id = ANY(${group.map(({ before }) => before.jobId)}::uuid[])
        RETURNING *`;
      const after = new Map(rows.map((row) => [row.job_id, jobFromRow(row)]));
      for (const { before, decision } of group) {
        const job = after.get(before.jobId) as Job;
        jobs.push({ job, decision });
        // Like any other failure: history and alerts see the expiry, the routing-worker gets the result.
        messages.push(
          jobExpired(
            job,
            { action: 'failed', attempt: before.attempt, reason, deviceId: before.claimedBy },
            now,
          ),
          jobResult(job, now),
        );
      }
    }
    if (messages.length > 0) await emit(tx, messages);
    return { jobs, full };
  }
}
