import type { EspritGenerationCommand } from '@mcms/contracts';
import {
  createBatcher,
  enqueueOutbox,
  type Batcher,
  fromPgClient,
  withPgTransaction,
  type OutgoingMessage,
} from '@mcms/messaging';
import { prepared, sqlParams } from '@mcms/db';
import type { Pool, PoolClient } from 'pg';
import { conflict, notFound } from '@mcms/platform';
import { canonicalResult, decideCompletion, resultHashOf, type CompletionBody } from '../domain/completion';
import { decideExpiry, pendingCutoff, type ExpiryDecision, type ExpiryPolicy } from '../domain/expiry';
import { heartbeatRefusal, holdsLease, leaseUntil, type Job, type JobStatus } from '../domain/job';
import { jobExpired, jobQueued, jobResult, jobStarted } from './job-messages';
import { JOB_COLUMNS, jobFromRow, type JobRow } from './job-rows';

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

/**
 * Jobs this replica handed out and not yet saw completed, as `claimNext` returned them, at most this many
 * (the oldest is forgotten first): there are about as many as add-ins at work, and a forgotten one only costs
 * its completion the read it would have made anyway.
 */
const HANDED_OUT_MAX = 2_000;

/** {@link JOB_COLUMNS} of `addin_job j`, for statements that join it. */
const J_JOB_COLUMNS = JOB_COLUMNS.split(', ')
  .map((column) => `j.${column}`)
  .join(', ');

// Finishes a batch of completions ($1: one record each) in one statement: each job only if it is still
// InProgress, held by that device, at that attempt — the condition of a single completion — and each finished
// job's result command goes to the outbox with it. A job matched by nothing is left to its caller to decide again.
// $2 repeats the job ids as an array: PostgreSQL guesses 100 rows for any jsonb_to_recordset, so without it the
// plan scans every InProgress job and hash-joins — a cost that grows with the jobs at work, not the batch; with
// it, the primary key finds each (decision 0014).
const FINISH_JOBS_SQL = `WITH finish AS (
    SELECT job_id, status, completed_at, result_status, message, outputs, result_hash, device_id, attempt,
      message_id, exchange, routing_key, envelope
    FROM jsonb_to_recordset($1::jsonb) AS f(job_id uuid, status text, completed_at timestamptz,
      result_status text, message text, outputs jsonb, result_hash text, device_id text, attempt int,
      message_id uuid, exchange text, routing_key text, envelope jsonb)
  ), changed AS (
    UPDATE addin_job j
    SET status = f.status, completed_at = f.completed_at, result_status = f.result_status, message = f.message,
      outputs = f.outputs, result_hash = f.result_hash, lease_expires_at = NULL, updated_at = f.completed_at
    FROM finish f
    WHERE j.job_id = ANY($2::uuid[]) AND j.job_id = f.job_id AND j.status = 'InProgress'
      AND j.claimed_by = f.device_id AND j.attempt = f.attempt
    RETURNING ${J_JOB_COLUMNS}
  ), queued AS (
    INSERT INTO outbox_message (message_id, exchange, routing_key, envelope)
    SELECT f.message_id, f.exchange, f.routing_key, f.envelope FROM changed JOIN finish f USING (job_id)
    RETURNING 1
  )
  SELECT ${JOB_COLUMNS} FROM changed`;

/** Completions one statement finishes at most, and statements finishing completions at once. */
const FINISH_BATCH_MAX = 64;
const FINISH_BATCHES_AT_ONCE = 2;

/** What became of one record of a batch statement: its row, nothing matched, or its own failure. */
type BatchOutcome = JobRow | undefined | { failed: unknown };

/** One completion to finish, as {@link FINISH_JOBS_SQL} reads it. */
interface FinishRecord extends OutboxRecord {
  job_id: string;
  status: JobStatus;
  completed_at: Date;
  result_status: string;
  message: string | null;
  outputs: unknown;
  result_hash: string;
  device_id: string;
  attempt: number;
}

/** The outbox row a batch record's statement writes with it. */
interface OutboxRecord {
  message_id: string;
  exchange: string;
  routing_key: string;
  envelope: unknown;
}

const READ_JOB_SQL = `SELECT ${JOB_COLUMNS} FROM addin_job WHERE job_id = $1::uuid`;

// A heartbeat: the lease moves only while the device holds it ($1 job, $2 device, $3 new expiry, $4 now).
const EXTEND_LEASE_SQL = `UPDATE addin_job SET lease_expires_at = $3::timestamptz, updated_at = $4::timestamptz
  WHERE job_id = $1::uuid AND status = 'InProgress' AND claimed_by = $2
  RETURNING lease_expires_at`;

const COUNT_PENDING_SQL = `SELECT count(*)::int AS n
  FROM (SELECT 1 FROM addin_job WHERE status = 'Pending' LIMIT $1::int) pending`;

// The sweeper's picks ($1 the cutoff, $2 the batch): locked, skipping what a claim or a completion holds.
const EXPIRED_LEASES_SQL = `SELECT ${JOB_COLUMNS} FROM addin_job
  WHERE status = 'InProgress' AND lease_expires_at <= $1::timestamptz
  ORDER BY lease_expires_at LIMIT $2::int FOR UPDATE SKIP LOCKED`;
const WAITED_TOO_LONG_SQL = `SELECT ${JOB_COLUMNS} FROM addin_job
  WHERE status = 'Pending' AND pending_since <= $1::timestamptz
  ORDER BY pending_since LIMIT $2::int FOR UPDATE SKIP LOCKED`;

// The sweeper's decisions ($1 the job ids, $2 now; $3 the failure's reason).
const REQUEUE_SQL = `UPDATE addin_job
  SET status = 'Pending', attempt = attempt + 1, pending_since = $2::timestamptz, started_at = NULL,
    claimed_by = NULL, lease_expires_at = NULL, updated_at = $2::timestamptz
  WHERE job_id = ANY($1::uuid[])
  RETURNING ${JOB_COLUMNS}`;
const FAIL_SQL = `UPDATE addin_job
  SET status = 'Failed', result_status = 'failed', message = $3, completed_at = $2::timestamptz,
    lease_expires_at = NULL, updated_at = $2::timestamptz
  WHERE job_id = ANY($1::uuid[])
  RETURNING ${JOB_COLUMNS}`;

// New Pending jobs (attempt 1), one per record of $1, each unless its jobId exists, and the `addin-job.queued` of
// each one inserted: data-modifying CTEs run to completion together, so the jobs and their outbox rows commit
// together. A record whose job exists is in neither.
const CREATE_JOBS_SQL = `WITH incoming AS (
    SELECT job_id, routing_id, routing_code, item_code, revision_code, cam_revision, parameters, created_at,
      requested_by, correlation_id, message_id, exchange, routing_key, envelope
    FROM jsonb_to_recordset($1::jsonb) AS c(job_id uuid, routing_id uuid, routing_code text,
      item_code text, revision_code text, cam_revision text, parameters jsonb, created_at timestamptz,
      requested_by text, correlation_id text, message_id uuid, exchange text, routing_key text, envelope jsonb)
  ), created AS (
    INSERT INTO addin_job (job_id, routing_id, routing_code, item_code, revision_code, cam_revision,
      parameters, status, attempt, created_at, pending_since, requested_by, correlation_id, updated_at)
    SELECT job_id, routing_id, routing_code, item_code, revision_code, cam_revision, parameters, 'Pending', 1,
      created_at, created_at, requested_by, correlation_id, created_at
    FROM incoming
    ON CONFLICT (job_id) DO NOTHING
    RETURNING ${JOB_COLUMNS}
  ), queued AS (
    INSERT INTO outbox_message (message_id, exchange, routing_key, envelope)
    SELECT i.message_id, i.exchange, i.routing_key, i.envelope FROM created JOIN incoming i USING (job_id)
    RETURNING 1
  )
  SELECT ${JOB_COLUMNS} FROM created`;

/** Jobs one statement creates at most, and statements creating jobs at once. */
const CREATE_BATCH_MAX = 64;
const CREATE_BATCHES_AT_ONCE = 2;

/** One job to create, as {@link CREATE_JOBS_SQL} reads it: the row's own columns and its queued event. */
type CreateRecord = Pick<
  JobRow,
  | 'job_id'
  | 'routing_id'
  | 'routing_code'
  | 'item_code'
  | 'revision_code'
  | 'cam_revision'
  | 'parameters'
  | 'created_at'
  | 'requested_by'
  | 'correlation_id'
> &
  OutboxRecord;

// When a claimed job started: the claim's clock, but never before the job became Pending. A claim reads its clock
// before its statement runs, and a job created in between is found by that statement: its start (and its started
// event, which history orders by time) would then precede its creation. It is put 1 ms after instead (the columns
// keep milliseconds), and the lease moves with it.
const CLAIM_STARTED_AT = `GREATEST(c.started_at, j.pending_since + interval '1 millisecond')`;

// $1: the claims of a batch, numbered 1…n in arrival order ($2 = n). The n oldest Pending jobs nobody else is
// claiming right now (SKIP LOCKED), oldest first, go to the claims in that order; a claim past the last
// Pending job gets nothing.
const CLAIM_SQL = `WITH claim AS (
    SELECT n, device_id, started_at, lease_expires_at FROM jsonb_to_recordset($1::jsonb)
      AS c(n bigint, device_id text, started_at timestamptz, lease_expires_at timestamptz)
  ), picked AS (
    SELECT job_id, row_number() OVER (ORDER BY created_at, job_id) AS n FROM (
      SELECT job_id, created_at FROM addin_job WHERE status = 'Pending'
      ORDER BY created_at, job_id LIMIT $2 FOR UPDATE SKIP LOCKED) oldest
  )
  UPDATE addin_job j
  SET status = 'InProgress', claimed_by = c.device_id, started_at = ${CLAIM_STARTED_AT},
    lease_expires_at = c.lease_expires_at + (${CLAIM_STARTED_AT} - c.started_at), updated_at = ${CLAIM_STARTED_AT}
  FROM picked p JOIN claim c USING (n)
  WHERE j.job_id = p.job_id
  RETURNING ${J_JOB_COLUMNS}, c.n`;

/** Claims one transaction hands out at most, and claim transactions at once. */
const CLAIM_BATCH_MAX = 32;
const CLAIM_BATCHES_AT_ONCE = 2;

/** One claim, as {@link CLAIM_SQL} reads it (numbered when its batch runs). */
interface ClaimRecord {
  device_id: string;
  started_at: Date;
  lease_expires_at: Date;
}

/**
 * Records keyed by job id that one statement (`sql`, with the `values` of a batch) handles per batch, returning
 * the rows it wrote: those that arrive while `maxConcurrent` statements run go together in the next one, at
 * most `maxItems`.
 *
 * A job twice in one batch (the same completion twice at once, a command published twice) goes in once: the
 * repeat shares its first's failure, or is answered "nothing matched" — its caller then reads the job and finds
 * what the first did. One record the database refuses must not fail its neighbours: after a failed batch each
 * goes again on its own, and only what fails alone fails. (A database that is down fails them all, as it would
 * have one by one.)
 */
function statementBatcher<T extends { job_id: string }>(
  pool: Pool,
  options: {
    sql: string;
    values: (records: readonly T[]) => unknown[];
    maxItems: number;
    maxConcurrent: number;
  },
): Batcher<T, BatchOutcome> {
  const statement = prepared(options.sql);
  const runAll = async (records: readonly T[]) => {
    const { rows } = await pool.query<JobRow>({ ...statement, values: options.values(records) });
    return new Map(rows.map((row) => [row.job_id, row]));
  };
  return createBatcher<T, BatchOutcome>({
    maxItems: options.maxItems,
    maxWaitMs: 0,
    maxConcurrent: options.maxConcurrent,
    run: async (records): Promise<BatchOutcome[]> => {
      const first = new Map<string, T>();
      for (const record of records) if (!first.has(record.job_id)) first.set(record.job_id, record);
      const unique = [...first.values()];
      let outcomes: Map<T, BatchOutcome>;
      try {
        const written = await runAll(unique);
        outcomes = new Map(unique.map((record) => [record, written.get(record.job_id)]));
      } catch (batchError) {
        if (unique.length === 1) throw batchError;
        const alone = await Promise.all(
          unique.map((record) =>
            runAll([record]).then(
              (rows): BatchOutcome => rows.get(record.job_id),
              (err: unknown): BatchOutcome => ({ failed: err }),
            ),
          ),
        );
        outcomes = new Map(unique.map((record, i) => [record, alone[i]]));
      }
      return records.map((record) => {
        if (outcomes.has(record)) return outcomes.get(record);
        // A repeat: its first's failure, or "nothing matched".
        const firstOutcome = outcomes.get(first.get(record.job_id) as T);
        return firstOutcome !== undefined && 'failed' in firstOutcome ? firstOutcome : undefined;
      });
    },
  });
}

/** The {@link JobStore} on node-postgres (every statement; no Prisma client at run time, decision 0015). */
export function createJobStore(pool: Pool): JobStore {
  // See `complete`: what a job was when this replica handed it out spares its completion a read.
  const handedOut = new Map<string, Job>();
  const rememberHandedOut = (job: Job): void => {
    handedOut.delete(job.jobId);
    handedOut.set(job.jobId, job);
    if (handedOut.size > HANDED_OUT_MAX) handedOut.delete(handedOut.keys().next().value as string);
  };
  // Completions finish in batches: one statement (one transaction, one WAL flush) for those that arrive while
  // the statement before them runs, instead of one each; under load that is most of them.
  const finishing = statementBatcher<FinishRecord>(pool, {
    sql: FINISH_JOBS_SQL,
    values: (records) => [JSON.stringify(records), records.map((record) => record.job_id)],
    maxItems: FINISH_BATCH_MAX,
    maxConcurrent: FINISH_BATCHES_AT_ONCE,
  });
  // Jobs are created in batches the same way: the commands the consumer handles at once (its prefetch) go in
  // one statement.
  const creating = statementBatcher<CreateRecord>(pool, {
    sql: CREATE_JOBS_SQL,
    values: (records) => [JSON.stringify(records)],
    maxItems: CREATE_BATCH_MAX,
    maxConcurrent: CREATE_BATCHES_AT_ONCE,
  });
  // A batch of claims is one transaction — the UPDATE hands the oldest Pending jobs nobody else is claiming
  // (SKIP LOCKED) to the waiting devices in order, then the started events of what it handed out are queued —
  // instead of a transaction of four round trips per claim. A transaction, because each started event is built
  // from the row the UPDATE picked (decision 0013 says why a one-statement claim was not kept).
  const claiming = createBatcher<ClaimRecord, Job | undefined>({
    maxItems: CLAIM_BATCH_MAX,
    maxWaitMs: 0,
    maxConcurrent: CLAIM_BATCHES_AT_ONCE,
    run: async (records) => {
      const handed = await withPgTransaction(pool, async (client) => {
        const { rows } = await client.query<JobRow & { n: string }>({
          ...prepared(CLAIM_SQL),
          values: [JSON.stringify(records.map((record, n) => ({ ...record, n: n + 1 }))), records.length],
        });
        const jobs = new Map(rows.map((row) => [Number(row.n) - 1, jobFromRow(row)]));
        if (jobs.size > 0) {
          // The row's start, not the claim's clock (see CLAIM_STARTED_AT); a claimed job always has one.
          const started = [...jobs.values()].map((job) => jobStarted(job, job.startedAt as Date));
          await enqueueOutbox(fromPgClient(client), started);
        }
        return jobs;
      });
      // Remembered once committed: a claim that rolled back handed nothing out.
      for (const job of handed.values()) rememberHandedOut(job);
      return records.map((_, index) => handed.get(index));
    },
  });
  const find = async (jobId: string): Promise<Job | undefined> => {
    const { rows } = await pool.query<JobRow>({ ...prepared(READ_JOB_SQL), values: [jobId] });
    return rows[0] === undefined ? undefined : jobFromRow(rows[0]);
  };

  return {
    // One statement on plain pg, shared with the commands handled meanwhile: the job and its `addin-job.queued`
    // together (CREATE_JOBS_SQL), and a redelivered command (or the routing-worker's outbox publishing it
    // again) finds its job (ON CONFLICT DO NOTHING), so nothing is inserted and no second event is queued.
    async create(command, now) {
      const p = command.payload;
      // A new job is always attempt 1: its event is known before the row exists.
      const queued = jobQueued(
        { jobId: p.jobId, routingId: p.routingId, routingCode: p.routingCode, attempt: 1 },
        command,
        now,
      );
      const outcome = await creating.submit({
        job_id: p.jobId,
        routing_id: p.routingId,
        routing_code: p.routingCode,
        item_code: p.itemCode,
        revision_code: p.revisionCode,
        cam_revision: p.camRevision,
        parameters: p.parameters,
        created_at: now,
        requested_by: p.requestedBy,
        correlation_id: command.correlationId,
        message_id: queued.envelope.messageId,
        exchange: queued.exchange,
        routing_key: queued.routingKey,
        envelope: queued.envelope,
      });
      if (outcome !== undefined && 'failed' in outcome) throw outcome.failed;
      return outcome === undefined ? undefined : jobFromRow(outcome);
    },

    // Claims in groups, like completions: the claims that arrive while one runs go together in the next.
    claimNext: (deviceId, now, leaseMs) =>
      claiming.submit({ device_id: deviceId, started_at: now, lease_expires_at: leaseUntil(now, leaseMs) }),

    async extendLease(jobId, deviceId, now, leaseMs) {
      // The hot path is one conditional statement (the condition is `holdsLease`); only a refusal reads the job.
      const { rows } = await pool.query<{ lease_expires_at: Date }>({
        ...prepared(EXTEND_LEASE_SQL),
        values: [jobId, deviceId, leaseUntil(now, leaseMs), now],
      });
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

    async complete(jobId, deviceId, body, now) {
      const result = canonicalResult(body);
      const hash = resultHashOf(result);
      // The add-ins' hot path, on plain pg: decide on the job as it is, then one statement that changes the job
      // and writes its result command to the outbox together. The statement only matches the state the
      // decision was made on (InProgress, held by this device, same attempt; routing and correlation never
      // change), so a job that changed in between (lease expired, requeued, reclaimed) is read and decided
      // again. The first decision is made on the job as this replica handed it out, when it did: then the
      // completion is one round trip instead of two (Prisma's interactive transaction before them took five and
      // about a fifth of the gateway's CPU), and that statement is shared with the completions arriving
      // meanwhile (group commit, decision 0013). Only a finish is decided on that memory — a stale
      // one is then harmless, because PostgreSQL checks the statement's condition under the row lock and a
      // mismatch falls back to reading the job; a refusal or a replay is always decided on a read.
      let remembered = handedOut.get(jobId);
      handedOut.delete(jobId);
      for (let attempt = 0; ; attempt += 1) {
        let current: Job;
        if (remembered !== undefined && holdsLease(remembered, deviceId)) {
          current = remembered;
          remembered = undefined;
        } else {
          remembered = undefined;
          const read = await find(jobId);
          if (read === undefined) throw notFound(`job ${jobId}`);
          current = read;
        }
        // A refusal or a replay read from a snapshot is as true as one read under a lock: final states are final.
        const decision = decideCompletion(current, deviceId, { resultStatus: result.resultStatus, hash });
        if (decision.kind === 'refuse') throw conflict(decision.code, decision.message);
        if (decision.kind === 'replay') return { job: current, replayed: true };

        const finished: Job = {
          ...current,
          status: decision.status,
          completedAt: now,
          resultStatus: result.resultStatus,
          message: result.message,
          outputs: result.outputs,
          resultHash: hash,
          leaseExpiresAt: null,
          updatedAt: now,
        };
        // One statement, shared with the completions arriving meanwhile (group commit): the job and its result
        // command commit together.
        const message = jobResult(finished, now);
        const outcome = await finishing.submit({
          job_id: jobId,
          status: finished.status,
          completed_at: now,
          result_status: result.resultStatus,
          message: result.message,
          outputs: result.outputs,
          result_hash: hash,
          device_id: deviceId,
          attempt: current.attempt,
          message_id: message.envelope.messageId,
          exchange: message.exchange,
          routing_key: message.routingKey,
          envelope: message.envelope,
        });
        if (outcome !== undefined && 'failed' in outcome) throw outcome.failed;
        if (outcome !== undefined) return { job: jobFromRow(outcome), replayed: false };
        // Changed between the read and the write: decide again on the new state (it can change only a few
        // times: requeue, claim, completion).
        if (attempt >= 6) throw conflict('job_changed', `job ${jobId} kept changing during its completion`);
      }
    },

    find,

    async sweep(now, policy, batchSize = 100) {
      const swept: SweptJob[] = [];
      for (;;) {
        const { jobs, full } = await withPgTransaction(pool, (client) =>
          sweepBatch(client, now, policy, batchSize),
        );
        swept.push(...jobs);
        if (!full) return swept;
      }
    },

    async countPending(limit) {
      const { rows } = await pool.query<{ n: number }>({ ...prepared(COUNT_PENDING_SQL), values: [limit] });
      return rows[0]?.n ?? 0;
    },

    async list({ status, limit, after }) {
      // Keyset paging on (created_at, job_id): stable while jobs are added, and the (status, created_at) index
      // serves the status filter. Only the conditions given are in the statement, so each plan fits its query.
      const params = sqlParams();
      const conditions: string[] = [];
      if (status !== undefined) conditions.push(`status = ${params.add(status)}`);
      if (after !== undefined) {
        conditions.push(
          `(created_at, job_id) > (${params.add(after.createdAt)}::timestamptz, ${params.add(after.jobId)}::uuid)`,
        );
      }
      const where = conditions.length === 0 ? '' : `WHERE ${conditions.join(' AND ')} `;
      const { rows } = await pool.query<JobRow>(
        `SELECT ${JOB_COLUMNS} FROM addin_job ${where}ORDER BY created_at, job_id LIMIT ${params.add(limit)}`,
        params.values,
      );
      return rows.map(jobFromRow);
    },
  };

  // One batch: lock what is due (SKIP LOCKED, so replicas sweeping at once split the work and never block a
  // claim or a completion), decide per job, write the decisions with one statement per outcome.
  async function sweepBatch(
    client: PoolClient,
    now: Date,
    policy: ExpiryPolicy,
    batchSize: number,
  ): Promise<{ jobs: SweptJob[]; full: boolean }> {
    const { rows: expiredLeases } = await client.query<JobRow>({
      ...prepared(EXPIRED_LEASES_SQL),
      values: [now, batchSize],
    });
    const { rows: waitedTooLong } = await client.query<JobRow>({
      ...prepared(WAITED_TOO_LONG_SQL),
      values: [pendingCutoff(now, policy), batchSize],
    });
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
      const { rows } = await client.query<JobRow>({
        ...prepared(REQUEUE_SQL),
        values: [requeue.map(({ before }) => before.jobId), now],
      });
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
      const { rows } = await client.query<JobRow>({
        ...prepared(FAIL_SQL),
        values: [group.map(({ before }) => before.jobId), now, reason],
      });
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
    if (messages.length > 0) await enqueueOutbox(fromPgClient(client), messages);
    return { jobs, full };
  }
}
