// The scenarios of the benchmark, run against a started system (tests/support/system.ts): the completion
// path, the full lifecycle at fixed rates, and the completion path again over a grown database. Setup
// (routings, approvals, claims, output files, seeded rows) is never timed.
import { randomBytes } from 'node:crypto';
import {
  createAddinClient,
  jobFolderPath,
  summarizeLatencies,
  writeJobOutputs,
  type AddinClient,
  type LatencySummary,
} from '@mcms/addin-client';
import { CONSUMER_QUEUES, type AddinJob, type Notification, type OutputFile } from '@mcms/contracts';
import { connect as amqpConnect } from 'amqplib';
import { io } from 'socket.io-client';
import { ALL_SERVICES, type System, type SystemService } from '../support/system';
import type { BenchHttpClient } from './http-client';
import {
  round,
  startHostClock,
  startSampler,
  type HostUsage,
  type ProcessGroup,
  type ProcessUsage,
} from './resources';

/** Reports how far a long phase is. */
export type ProgressFn = (phase: string, done: number, total: number) => void;

/** What every scenario needs. */
export interface ScenarioContext {
  system: System;
  /** JWTs signed with the system's secret. */
  tokens: { editor: string; approver: string; viewer: string };
  groups: readonly ProcessGroup[];
  addins: number;
  /** The simulated add-ins' HTTP client (http-client.ts). */
  http: BenchHttpClient;
  progress: ProgressFn;
  /** With `--profile`: starts and stops a CPU profile in every service around each timed phase. */
  profile?: { start(phase: string): void; stop(): void };
}

/** Whether every job was accounted for: the contract of the CI variant. */
export interface Accounting {
  jobs: number;
  expectedCompleted: number;
  expectedFailed: number;
  routingsCompleted: number;
  routingsFailed: number;
  /** Jobs with exactly one final history entry (AddinJobCompleted / AddinJobFailed). */
  historyFinal: number;
  historyFinalEntries: number;
  /** Jobs with exactly one alert on the socket. */
  alertedOnce: number;
  alertsReceived: number;
  ok: boolean;
}

export interface CompletionResult {
  jobs: number;
  priorJobs: number;
  seconds: number;
  resultsPerSec: number;
  complete: LatencySummary;
  completeToAlert: LatencySummary;
  /** CPU milliseconds of services + broker + database per result. */
  cpuMsPerResult: number;
  /** Wall milliseconds per result (1000 / resultsPerSec). */
  wallMsPerResult: number;
  /** Committed PostgreSQL transactions per result (pg_stat_database, whole cluster; includes the harness's polls). */
  dbTxPerResult: number;
  accounting: Accounting;
  resources: ProcessUsage[];
  /** The whole machine meanwhile: busy cores and the hypervisor's steal. */
  host: HostUsage;
}

export interface LifecycleResult {
  targetRate: number;
  jobs: number;
  /** Simulated add-ins taking the jobs: {@link lifecycleAddins}. */
  addins: number;
  /** Approvals sent a second (the schedule's own ability to keep up). */
  approveRate: number;
  /**
   * Alerts a second in the second half of the schedule (steady state): equals the target rate when the
   * system keeps up, falls behind it when it does not.
   */
  achievedRate: number;
  /** Seconds from the last approval sent to the last alert. */
  drainSeconds: number;
  held: boolean;
  /** Why not held, when not. */
  verdict: string;
  stages: {
    approve: LatencySummary;
    approveToClaim: LatencySummary;
    /** The `next` call that handed the job out (it may have waited for one: a long poll). */
    claim: LatencySummary;
    complete: LatencySummary;
    completeToAlert: LatencySummary;
    approveToAlert: LatencySummary;
  };
  backlog: { first: number; last: number; max: number; growing: boolean; samples: number[] };
  /** CPU milliseconds of services + broker + database per job, over the timed run (fixed costs included). */
  cpuMsPerJob: number;
  /** Committed PostgreSQL transactions per job over the timed run (whole cluster: the backlog polls too). */
  dbTxPerJob: number;
  accounting: Accounting;
  resources: ProcessUsage[];
  /** The whole machine meanwhile: busy cores and the hypervisor's steal. */
  host: HostUsage;
}

// Every tenth job fails (ESPRIT reports an error): the failure path is part of the flow.
const FAILS_EVERY = 10;
const FAILURE = { resultStatus: 'failed', message: 'ESPRIT: tool path collision at operation 3' } as const;

const SETUP_CONCURRENCY = 16;

function wait(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function pollUntil<T>(
  probe: () => Promise<T | undefined>,
  { timeoutMs, what, intervalMs = 25 }: { timeoutMs: number; what: string; intervalMs?: number },
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline)
      throw new Error(`benchmark: timed out after ${timeoutMs} ms waiting for ${what}`);
    await wait(intervalMs);
  }
}

/** Runs `work(i)` for i in 0..n-1 with `concurrency` at once, reporting progress. */
async function inParallel<T>(
  n: number,
  concurrency: number,
  work: (i: number) => Promise<T>,
  onDone?: (done: number) => void,
): Promise<T[]> {
  const results = new Array<T>(n);
  let next = 0;
  let done = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, n) }, async () => {
      while (next < n) {
        const i = next++;
        results[i] = await work(i);
        onDone?.(++done);
      }
    }),
  );
  return results;
}

/** A socket.io client of notification-service that stamps each alert's arrival. */
export interface AlertClock {
  /** Arrival times (performance.now()) per job id. */
  readonly arrivals: Map<string, number[]>;
  count: number;
  close(): void;
}

export async function connectAlertClock(system: System, token: string): Promise<AlertClock> {
  const socket = io(system.urls['notification-service'], {
    auth: { token },
    transports: ['websocket'],
    reconnection: false,
    forceNew: true,
  });
  const clock: AlertClock = {
    arrivals: new Map(),
    count: 0,
    close: () => void socket.disconnect(),
  };
  socket.on('notification', (alert: Notification) => {
    const at = performance.now();
    clock.count++;
    const seen = clock.arrivals.get(alert.jobId);
    if (seen) seen.push(at);
    else clock.arrivals.set(alert.jobId, [at]);
  });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error('benchmark: no socket.io connection within 10 s')),
      10_000,
    );
    socket.once('connect', () => {
      clearTimeout(timer);
      resolve();
    });
    socket.once('connect_error', (err: Error) => {
      clearTimeout(timer);
      reject(new Error(`benchmark: socket.io connection refused: ${err.message}`));
    });
  });
  return clock;
}

interface Prepared {
  routingId: string;
  jobId: string;
  routingCode: string;
}

async function createRouting(ctx: ScenarioContext, label: string, requestApproval: boolean) {
  const api = ctx.system.api('routing-worker', ctx.http.fetch);
  const id = randomBytes(5).toString('hex').toUpperCase();
  const codes = { routingCode: `${label}-${id}`, itemCode: `ITEM-${id}`, revisionCode: 'A' };
  const created = await api.post<{ id: string }>('/api/routings', codes, { token: ctx.tokens.editor });
  if (created.status !== 201)
    throw new Error(`create routing: ${created.status} ${JSON.stringify(created.body)}`);
  if (requestApproval) {
    const asked = await api.post(
      `/api/routings/${created.body.id}/request-approval`,
      {},
      { token: ctx.tokens.editor },
    );
    if (asked.status !== 200)
      throw new Error(`request approval: ${asked.status} ${JSON.stringify(asked.body)}`);
  }
  return { routingId: created.body.id, ...codes };
}

/**
 * What the simulated ESPRIT run of a lifecycle job writes, written in setup (decision 0019): the routing's folder
 * and its three outputs, named by the routing since its job does not exist yet. In a plant ESPRIT writes them
 * from the workstation onto the file server; here, in the timed part, creating a folder and three files per job
 * took ~40 % of the harness's CPU, on the two cores the system is measured on.
 */
async function prewriteOutputs(
  ctx: ScenarioContext,
  routing: { routingId: string; routingCode: string; itemCode: string; revisionCode: string },
): Promise<{ folder: string; outputs: OutputFile[] }> {
  const job = {
    jobId: routing.routingId,
    routingCode: routing.routingCode,
    attempt: 1,
    parameters: { itemCode: routing.itemCode, revisionCode: routing.revisionCode },
  };
  const outputs = await writeJobOutputs(ctx.system.sharedDriveRoot, job);
  return { folder: jobFolderPath(ctx.system.sharedDriveRoot, job), outputs };
}

/**
 * Approves like the web UI would: a 503 (the service shedding load: no database connection within its
 * wait) is retried after its `Retry-After` (or 250 ms), and counted in `shed` so an overloaded rate shows
 * as such instead of crashing the run.
 */
async function approve(ctx: ScenarioContext, routingId: string, shed = { count: 0 }): Promise<string> {
  for (let attempt = 1; ; attempt++) {
    const answer = await ctx.system
      .api('routing-worker', ctx.http.fetch)
      .post<{ lastAddinJobId: string }>(
        `/api/routings/${routingId}/approve`,
        {},
        { token: ctx.tokens.approver },
      );
    if (answer.status === 200) return answer.body.lastAddinJobId;
    if (answer.status !== 503 || attempt >= 40) {
      throw new Error(`approve: ${answer.status} ${JSON.stringify(answer.body)}`);
    }
    shed.count++;
    const retryAfter = Number(answer.headers.get('retry-after'));
    await wait(Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter * 1000 : 250);
  }
}

/**
 * How long one simulated workstation needs per job at best in the lifecycle, in seconds: `next` (the claim),
 * three files written and hashed, `/complete`, each a few tens of milliseconds on a loaded machine. A fleet of
 * K add-ins can take at most about K / this many jobs a second however fast the system is.
 */
const ADDIN_CYCLE_SECONDS = 0.5;

/**
 * The add-ins of a lifecycle at `rate` jobs/s: at least `--addins`, and enough that the fleet's own closed loop
 * (K add-ins, one job at a time each) is not what caps the rate — 50 at 100/s, 250 at 500/s. With 32 at
 * every rate, 100/s was held or not depending on the add-ins' round-trip times, not on the system's
 * throughput. A plant taking 500 jobs a second would have far more workstations than that.
 */
export function lifecycleAddins(rate: number, addins: number): number {
  return Math.max(addins, Math.ceil(rate * ADDIN_CYCLE_SECONDS));
}

function addinClients(ctx: ScenarioContext, label: string, count = ctx.addins): AddinClient[] {
  return Array.from({ length: count }, (_, i) =>
    createAddinClient({
      fetch: ctx.http.fetch,
      baseUrl: ctx.system.urls['addin-gateway'],
      key: ctx.system.addinKey,
      deviceId: `${label}-${String(i + 1).padStart(2, '0')}`,
      timeoutMs: 30_000,
    }),
  );
}

const failsAt = (i: number) => i % FAILS_EVERY === FAILS_EVERY - 1;

async function sqlCount(ctx: ScenarioContext, service: SystemService, text: string, params: unknown[]) {
  const rows = await ctx.system.sql<{ n: string }>(service, text, params);
  return Number(rows[0]?.n ?? 0);
}

/** Counts what the system shows for `jobs`: routings, history and alerts. */
async function account(
  ctx: ScenarioContext,
  jobs: readonly Prepared[],
  failed: ReadonlySet<string>,
  clock: AlertClock,
): Promise<Accounting> {
  const routingIds = jobs.map((j) => j.routingId);
  const jobIds = jobs.map((j) => j.jobId);
  const statuses = await ctx.system.sql<{ status: string | null; n: string }>(
    'routing-worker',
    `SELECT last_generation_status::text AS status, count(*) AS n FROM routing
      WHERE id = ANY($1::uuid[]) AND last_addin_job_id = ANY($2::uuid[]) GROUP BY 1`,
    [routingIds, jobIds],
  );
  const statusCount = (s: string) => Number(statuses.find((r) => r.status === s)?.n ?? 0);
  const history = await ctx.system.sql<{ jobs: string; entries: string }>(
    'history-service',
    `SELECT count(*) FILTER (WHERE n = 1) AS jobs, coalesce(sum(n), 0) AS entries FROM (
       SELECT job_id, count(*) AS n FROM history_entry
        WHERE job_id = ANY($1::uuid[]) AND change_type IN ('AddinJobCompleted', 'AddinJobFailed')
        GROUP BY job_id) per_job`,
    [jobIds],
  );
  let alertedOnce = 0;
  let alertsReceived = 0;
  for (const jobId of jobIds) {
    const n = clock.arrivals.get(jobId)?.length ?? 0;
    alertsReceived += n;
    if (n === 1) alertedOnce++;
  }
  const expectedFailed = jobs.filter((j) => failed.has(j.jobId)).length;
  const result = {
    jobs: jobs.length,
    expectedCompleted: jobs.length - expectedFailed,
    expectedFailed,
    routingsCompleted: statusCount('Completed'),
    routingsFailed: statusCount('Failed'),
    historyFinal: Number(history[0]?.jobs ?? 0),
    historyFinalEntries: Number(history[0]?.entries ?? 0),
    alertedOnce,
    alertsReceived,
  };
  return {
    ...result,
    ok:
      result.routingsCompleted === result.expectedCompleted &&
      result.routingsFailed === result.expectedFailed &&
      result.historyFinal === jobs.length &&
      result.historyFinalEntries === jobs.length &&
      result.alertedOnce === jobs.length &&
      result.alertsReceived === jobs.length,
  };
}

/** Waits until every job's result shows in the routing, the history and an alert (polled with a deadline). */
async function waitAccounted(
  ctx: ScenarioContext,
  jobs: readonly Prepared[],
  clock: AlertClock,
  timeoutMs: number,
  onProgress?: (done: number) => void,
): Promise<void> {
  const routingIds = jobs.map((j) => j.routingId);
  const jobIds = jobs.map((j) => j.jobId);
  await pollUntil(
    async () => {
      const alerted = jobIds.filter((id) => clock.arrivals.has(id)).length;
      onProgress?.(alerted);
      if (alerted < jobs.length) return undefined;
      const routings = await sqlCount(
        ctx,
        'routing-worker',
        `SELECT count(*) AS n FROM routing WHERE id = ANY($1::uuid[]) AND last_generation_status IN ('Completed', 'Failed')`,
        [routingIds],
      );
      if (routings < jobs.length) return undefined;
      const history = await sqlCount(
        ctx,
        'history-service',
        `SELECT count(DISTINCT job_id) AS n FROM history_entry
          WHERE job_id = ANY($1::uuid[]) AND change_type IN ('AddinJobCompleted', 'AddinJobFailed')`,
        [jobIds],
      );
      return history >= jobs.length ? true : undefined;
    },
    { timeoutMs, what: `${jobs.length} results in the routings, the history and the alerts` },
  );
}

async function committedTransactions(ctx: ScenarioContext): Promise<number> {
  const rows = await ctx.system.sql<{ n: string }>(
    'routing-worker',
    'SELECT sum(xact_commit) AS n FROM pg_stat_database',
  );
  return Number(rows[0]?.n ?? 0);
}

function systemCpuSeconds(resources: readonly ProcessUsage[]): number {
  return resources.filter((r) => !r.name.startsWith('bench')).reduce((sum, r) => sum + r.cpuSeconds, 0);
}

/**
 * The completion path: `jobs` routings approved and their jobs claimed by the simulated add-ins (setup),
 * then every `/complete` as fast as the add-ins can send it, timed until the last result shows in the
 * routing, the history and an alert on a connected socket.
 */
export async function completionPath(
  ctx: ScenarioContext,
  { jobs: n, priorJobs = 0, label = 'completion' }: { jobs: number; priorJobs?: number; label?: string },
): Promise<CompletionResult> {
  const { system } = ctx;
  const phase = `${label}: setup`;
  const routings = await inParallel(
    n,
    SETUP_CONCURRENCY,
    () => createRouting(ctx, 'CP', true),
    (d) => ctx.progress(`${phase} (routings)`, d, n),
  );
  const prepared: Prepared[] = await inParallel(
    n,
    SETUP_CONCURRENCY,
    async (i) => ({ ...routings[i]!, jobId: await approve(ctx, routings[i]!.routingId) }),
    (d) => ctx.progress(`${phase} (approvals)`, d, n),
  );
  const byJob = new Map(prepared.map((p, i) => [p.jobId, i]));

  // Claim every job; each add-in completes the jobs it holds the lease of.
  const clients = addinClients(ctx, 'BENCH');
  const held: Array<Array<{ job: AddinJob; body: Parameters<AddinClient['complete']>[1] }>> = clients.map(
    () => [],
  );
  const failed = new Set<string>();
  let claimed = 0;
  const claimDeadline = Date.now() + 60_000 + n * 20;
  await Promise.all(
    clients.map(async (client, c) => {
      while (claimed < n) {
        if (Date.now() > claimDeadline)
          throw new Error(`benchmark: only ${claimed} of ${n} jobs could be claimed`);
        const job = await client.next({ waitSeconds: 1 });
        if (!job) continue;
        const i = byJob.get(job.jobId);
        if (i === undefined) throw new Error(`benchmark: claimed a job that is not this run's: ${job.jobId}`);
        claimed++;
        ctx.progress(`${phase} (claims + output files)`, claimed, n);
        if (failsAt(i)) {
          failed.add(job.jobId);
          held[c]!.push({ job, body: FAILURE });
        } else {
          const outputs: OutputFile[] = await writeJobOutputs(system.sharedDriveRoot, job);
          held[c]!.push({ job, body: { resultStatus: 'completed', outputs } });
        }
      }
    }),
  );
  // Let the started events land (routings InProgress) and every outbox drain, so the timed part is results only.
  await pollUntil(
    async () => {
      const inProgress = await sqlCount(
        ctx,
        'routing-worker',
        `SELECT count(*) AS n FROM routing WHERE id = ANY($1::uuid[]) AND last_generation_status = 'InProgress'`,
        [prepared.map((p) => p.routingId)],
      );
      ctx.progress(`${phase} (routings InProgress)`, inProgress, n);
      return inProgress === n ? true : undefined;
    },
    { timeoutMs: 60_000 + n * 10, what: 'the routings to show InProgress', intervalMs: 100 },
  );
  await quiet(ctx, 60_000);
  await steadyStatistics(ctx);

  const clock = await connectAlertClock(system, ctx.tokens.viewer);
  try {
    const completedAt = new Map<string, number>();
    const latencies: number[] = [];
    ctx.profile?.start(label);
    const sampler = startSampler(ctx.groups);
    const hostClock = startHostClock();
    const txBefore = await committedTransactions(ctx);
    const started = performance.now();
    let sent = 0;
    await Promise.all(
      clients.map(async (client, c) => {
        for (const { job, body } of held[c]!) {
          const t = performance.now();
          await client.complete(job.jobId, body);
          const end = performance.now();
          latencies.push(end - t);
          completedAt.set(job.jobId, end);
          ctx.progress(`${label}: /complete`, ++sent, n);
        }
      }),
    );
    await waitAccounted(ctx, prepared, clock, 60_000 + n * 10, (d) => ctx.progress(`${label}: alerts`, d, n));
    const seconds = (performance.now() - started) / 1000;
    const resources = sampler.stop();
    const host = hostClock.stop();
    ctx.profile?.stop();
    const txAfter = await committedTransactions(ctx);
    const alertLatencies = prepared.flatMap((p) => {
      const at = clock.arrivals.get(p.jobId)?.[0];
      const done = completedAt.get(p.jobId);
      return at !== undefined && done !== undefined ? [at - done] : [];
    });
    const accounting = await account(ctx, prepared, failed, clock);
    const resultsPerSec = n / seconds;
    return {
      jobs: n,
      priorJobs,
      seconds: round(seconds, 3),
      resultsPerSec: round(resultsPerSec),
      complete: roundSummary(summarizeLatencies(latencies)),
      completeToAlert: roundSummary(summarizeLatencies(alertLatencies)),
      cpuMsPerResult: round((systemCpuSeconds(resources) * 1000) / n, 3),
      wallMsPerResult: round(1000 / resultsPerSec, 3),
      dbTxPerResult: round((txAfter - txBefore) / n, 2),
      accounting,
      resources,
      host,
    };
  } finally {
    clock.close();
  }
}

// The rows waiting in an outbox, through its primary key: the relays' deletes leave the table full of dead rows
// until autovacuum comes, and a plain count(*) read them all four times a second (2–3 ms of PostgreSQL a count in
// the lifecycle, charged to the system); the index scan skips the entries it has found dead once (~0.5 ms).
// No backlog comes near the limit.
const OUTBOX_WAITING_SQL =
  'SELECT count(*) AS n FROM (SELECT id FROM outbox_message ORDER BY id LIMIT 1000000) waiting';

/** Outbox rows waiting in every service + messages ready in every consumer queue. */
export async function backlog(
  ctx: ScenarioContext,
  depth: (queue: string) => Promise<number>,
): Promise<number> {
  const outboxes = await Promise.all(ALL_SERVICES.map((s) => sqlCount(ctx, s, OUTBOX_WAITING_SQL, [])));
  const queues = await Promise.all(Object.values(CONSUMER_QUEUES).map((q) => depth(q)));
  return [...outboxes, ...queues].reduce((a, b) => a + b, 0);
}

/** Opens a channel that reads queue depths of the system (`checkQueue`). */
async function queueDepths(system: System) {
  const connection = await amqpConnect(system.amqpUrl);
  connection.on('error', () => {});
  const channel = await connection.createChannel();
  channel.on('error', () => {});
  return {
    depth: async (queue: string) => (await channel.checkQueue(`${system.prefix}${queue}`)).messageCount,
    close: () => connection.close().catch(() => {}),
  };
}

/** Waits until no outbox row and no queued message is left anywhere. */
async function quiet(ctx: ScenarioContext, timeoutMs: number): Promise<void> {
  const depths = await queueDepths(ctx.system);
  try {
    await pollUntil(async () => ((await backlog(ctx, depths.depth)) === 0 ? true : undefined), {
      timeoutMs,
      what: 'every outbox and queue to drain',
      intervalMs: 100,
    });
  } finally {
    await depths.close();
  }
}

/** What the system costs with nothing to do: the add-ins' long polls, the alert socket, the timers. */
export interface IdleResult {
  addins: number;
  seconds: number;
  /** `next` calls the add-ins made (each waited up to its 1 s long poll and found nothing). */
  polls: number;
  resources: ProcessUsage[];
  /** The whole machine meanwhile: busy cores and the hypervisor's steal. */
  host: HostUsage;
}

/**
 * The system idle for `seconds` with `addins` simulated add-ins long-polling `next` exactly as in the
 * lifecycle (1 s waits), the alert socket connected and the lifecycle's backlog sampling running: the fixed
 * part of the lifecycle's cost, which a rate's figures include and a per-job cost does not explain.
 */
export async function idleSystem(
  ctx: ScenarioContext,
  { addins, seconds }: { addins: number; seconds: number },
): Promise<IdleResult> {
  const clock = await connectAlertClock(ctx.system, ctx.tokens.viewer);
  const depths = await queueDepths(ctx.system);
  const clients = addinClients(ctx, 'IDLE', addins);
  let stopping = false;
  let polls = 0;
  const workers = clients.map(async (client) => {
    while (!stopping) {
      const job = await client.next({ waitSeconds: 1 });
      polls++;
      if (job) throw new Error(`benchmark: the idle system handed out a job: ${job.jobId}`);
    }
  });
  // Handled now, thrown below: a worker's failure must not be an unhandled rejection while the phase runs.
  const polling = Promise.all(workers);
  polling.catch(() => {});
  try {
    ctx.profile?.start('idle');
    const sampler = startSampler(ctx.groups);
    const hostClock = startHostClock();
    const started = performance.now();
    while (performance.now() - started < seconds * 1000) {
      await backlog(ctx, depths.depth);
      ctx.progress('idle', Math.min(seconds, Math.round((performance.now() - started) / 1000)), seconds);
      await wait(250);
    }
    const resources = sampler.stop();
    const host = hostClock.stop();
    ctx.profile?.stop();
    return { addins, seconds, polls, resources, host };
  } finally {
    stopping = true;
    try {
      await polling;
    } finally {
      await depths.close();
      clock.close();
    }
  }
}

/**
 * The full lifecycle at a fixed rate: routings waiting for approval (setup), then approvals sent on a
 * schedule of `rate` a second for `seconds` (open loop: a slow answer does not slow the schedule), the
 * add-ins long-polling `next` and completing at once; timed to the last alert. Held = the approvals went
 * out on time, every job was alerted within the drain deadline and the backlog did not grow.
 */
export async function lifecycleAtRate(
  ctx: ScenarioContext,
  { rate, seconds }: { rate: number; seconds: number },
): Promise<LifecycleResult> {
  const n = Math.max(1, Math.round(rate * seconds));
  const label = `lifecycle ${rate}/s`;
  const routings = await inParallel(
    n,
    SETUP_CONCURRENCY,
    () => createRouting(ctx, 'LC', true),
    (d) => ctx.progress(`${label}: setup (routings)`, d, n),
  );
  const written = await inParallel(
    n,
    SETUP_CONCURRENCY,
    (i) => (failsAt(i) ? Promise.resolve(undefined) : prewriteOutputs(ctx, routings[i]!)),
    (d) => ctx.progress(`${label}: setup (output files)`, d, n),
  );
  await steadyStatistics(ctx);
  const index = new Map(routings.map((r, i) => [r.routingId, i]));
  const times = routings.map(() => ({
    approveSent: NaN,
    approveDone: NaN,
    claimAsked: NaN,
    claimed: NaN,
    completeSent: NaN,
    completeDone: NaN,
  }));
  const jobIds: string[] = new Array(n);
  const failed = new Set<string>();
  const clock = await connectAlertClock(ctx.system, ctx.tokens.viewer);
  const depths = await queueDepths(ctx.system);
  const addins = lifecycleAddins(rate, ctx.addins);
  const clients = addinClients(ctx, 'LIFE', addins);
  let stopping = false;
  try {
    ctx.profile?.start(`lifecycle-${rate}`);
    const txBefore = await committedTransactions(ctx);
    const sampler = startSampler(ctx.groups);
    const hostClock = startHostClock();
    const backlogSamples: number[] = [];
    let sampling = true;
    const backlogLoop = (async () => {
      while (sampling) {
        backlogSamples.push(await backlog(ctx, depths.depth));
        await wait(250);
      }
    })();
    const workers = clients.map(async (client) => {
      while (!stopping) {
        const asked = performance.now();
        const job = await client.next({ waitSeconds: 1 });
        if (!job) continue;
        const claimedAt = performance.now();
        const i = index.get(job.routingId);
        if (i === undefined) throw new Error(`benchmark: claimed a job that is not this run's: ${job.jobId}`);
        const t = times[i]!;
        t.claimAsked = asked;
        t.claimed = claimedAt;
        let body: Parameters<AddinClient['complete']>[1];
        if (failsAt(i)) {
          failed.add(job.jobId);
          body = FAILURE;
        } else {
          const files = written[i]!;
          if (jobFolderPath(ctx.system.sharedDriveRoot, job) !== files.folder)
            throw new Error(
              `benchmark: job ${job.jobId} writes elsewhere than its files were written in setup`,
            );
          body = { resultStatus: 'completed', outputs: files.outputs };
        }
        t.completeSent = performance.now();
        await client.complete(job.jobId, body);
        t.completeDone = performance.now();
      }
    });

    const shed = { count: 0 };
    const started = performance.now();
    const intervalMs = 1000 / rate;
    const inFlight = new Set<Promise<void>>();
    let lastSent = started;
    for (let i = 0; i < n; i++) {
      const due = started + i * intervalMs;
      const ahead = due - performance.now();
      if (ahead > 1) await wait(ahead);
      const t = times[i]!;
      t.approveSent = performance.now();
      lastSent = t.approveSent;
      const p = approve(ctx, routings[i]!.routingId, shed).then((jobId) => {
        t.approveDone = performance.now();
        jobIds[i] = jobId;
      });
      inFlight.add(p);
      void p.finally(() => inFlight.delete(p));
      ctx.progress(`${label}: approvals`, i + 1, n);
    }
    await Promise.all(inFlight);
    const approveRate = n / Math.max(0.001, (lastSent - started) / 1000 + intervalMs / 1000);
    let drained = true;
    try {
      await pollUntil(
        async () => {
          const alerted = jobIds.filter((id) => clock.arrivals.has(id)).length;
          ctx.progress(`${label}: alerts`, alerted, n);
          return alerted === n ? true : undefined;
        },
        { timeoutMs: 15_000 + seconds * 1000, what: `${n} alerts` },
      );
    } catch {
      drained = false;
    }
    const lastAlert = Math.max(...jobIds.map((id) => clock.arrivals.get(id)?.[0] ?? 0));
    const resources = sampler.stop();
    const host = hostClock.stop();
    const txAfter = await committedTransactions(ctx);
    ctx.profile?.stop();
    sampling = false;
    await backlogLoop;
    if (!drained) {
      // Not timed any more: let the add-ins finish every job, so no job of this rate is left for the next
      // scenario and the accounting below still counts every one.
      await pollUntil(
        async () => {
          const alerted = jobIds.filter((id) => id !== undefined && clock.arrivals.has(id)).length;
          ctx.progress(`${label}: draining what it could not hold`, alerted, n);
          return alerted === n ? true : undefined;
        },
        { timeoutMs: 60_000 + n * 50, what: `${n} alerts after the run`, intervalMs: 250 },
      );
    }
    stopping = true;
    await Promise.all(workers);

    const prepared: Prepared[] = routings.map((r, i) => ({ ...r, jobId: jobIds[i]! }));
    const accounting = await account(ctx, prepared, failed, clock);
    const stage = (f: (t: (typeof times)[number], alert: number) => number) =>
      roundSummary(
        summarizeLatencies(
          times.flatMap((t, i) => {
            const v = f(t, clock.arrivals.get(jobIds[i]!)?.[0] ?? NaN);
            return Number.isFinite(v) ? [v] : [];
          }),
        ),
      );
    // Growing: the last third of the samples holds clearly more than the first third, and more than a
    // tenth of a second of work (a small constant backlog is in-flight work, not a backlog).
    const third = Math.max(1, Math.floor(backlogSamples.length / 3));
    const mean = (xs: number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : 0);
    const first = mean(backlogSamples.slice(0, third));
    const last = mean(backlogSamples.slice(-third));
    const growing = last > Math.max(2 * first, rate * 0.1);
    const onSchedule = approveRate >= rate * 0.95;
    const windowStart = started + (seconds * 1000) / 2;
    const alertsInWindow = jobIds.filter((id) => {
      const at = clock.arrivals.get(id)?.[0];
      return at !== undefined && at >= windowStart && at <= lastSent;
    }).length;
    const achievedRate = alertsInWindow / Math.max(0.001, (lastSent - windowStart) / 1000);
    const keepingUp = achievedRate >= rate * 0.9;
    const reasons = [
      !onSchedule && `approvals went out at ${round(approveRate)}/s only`,
      shed.count > 0 && `${shed.count} approvals answered 503 (load shed) and were retried`,
      !keepingUp && `alerts came at ${round(achievedRate)}/s in the second half`,
      !drained && 'not every job was alerted within the drain deadline',
      growing && `backlog grew from ${round(first)} to ${round(last)}`,
      !accounting.ok && 'not every job was accounted for',
    ].filter(Boolean);
    return {
      targetRate: rate,
      jobs: n,
      addins,
      approveRate: round(approveRate),
      achievedRate: round(achievedRate),
      drainSeconds: round(((drained ? lastAlert : performance.now()) - lastSent) / 1000, 2),
      held: reasons.length === 0,
      verdict: reasons.length === 0 ? 'held' : reasons.join('; '),
      stages: {
        approve: stage((t) => t.approveDone - t.approveSent),
        approveToClaim: stage((t) => t.claimed - t.approveSent),
        claim: stage((t) => t.claimed - t.claimAsked),
        complete: stage((t) => t.completeDone - t.completeSent),
        completeToAlert: stage((t, alert) => alert - t.completeDone),
        approveToAlert: stage((t, alert) => alert - t.approveSent),
      },
      backlog: {
        first: round(first),
        last: round(last),
        max: Math.max(0, ...backlogSamples),
        growing,
        samples: backlogSamples,
      },
      cpuMsPerJob: round((systemCpuSeconds(resources) * 1000) / n, 2),
      dbTxPerJob: round((txAfter - txBefore) / n, 2),
      accounting,
      resources,
      host,
    };
  } finally {
    stopping = true;
    clock.close();
    await depths.close();
  }
}

function roundSummary(s: LatencySummary): LatencySummary {
  const r = (v: number | null) => (v === null ? null : round(v, 1));
  return { count: s.count, p50: r(s.p50), p95: r(s.p95), p99: r(s.p99), max: r(s.max) };
}

/**
 * Seeds prior jobs `from`..`to`-1 with their routing, generation result, history, alert and inbox rows in
 * every service's schema, with set-based SQL (setup, not the system's work). The growth run's completion path
 * analyzes them at the end of its setup, as every scenario's does.
 */
export async function seedPriorJobs(ctx: ScenarioContext, from: number, to: number): Promise<void> {
  const chunk = 25_000;
  for (let start = from; start < to; start += chunk) {
    const end = Math.min(to, start + chunk) - 1;
    const range = [start, end];
    const series = `generate_series($1::int, $2::int) AS i`;
    const rid = `md5('seed-r-' || i)::uuid`;
    const jid = `md5('seed-j-' || i)::uuid`;
    const at = `(now() - interval '30 days' + i * interval '1 second')`;
    await ctx.system.sql(
      'addin-gateway',
      `INSERT INTO addin_job (job_id, routing_id, routing_code, item_code, revision_code, cam_revision, parameters,
         status, attempt, created_at, pending_since, started_at, completed_at, claimed_by, result_status, outputs,
         result_hash, requested_by, correlation_id, updated_at)
       SELECT ${jid}, ${rid}, 'SEED-' || i, 'SEEDITEM-' || i, 'A', '1.0.0',
         jsonb_build_object('routingCode', 'SEED-' || i, 'itemCode', 'SEEDITEM-' || i, 'revisionCode', 'A', 'camRevision', '1.0.0'),
         'Completed', 1, ${at}, ${at}, ${at}, ${at}, 'SEED-WS', 'completed', '[]'::jsonb, md5(i::text), 'seed', 'seed-' || i, ${at}
       FROM ${series}`,
      range,
    );
    await ctx.system.sql(
      'addin-gateway',
      `INSERT INTO inbox_message (consumer, message_id, processed_at)
       SELECT '${CONSUMER_QUEUES.espritGeneration}', md5('seed-gi-' || i)::uuid, ${at} FROM ${series}`,
      range,
    );
    await ctx.system.sql(
      'routing-worker',
      `INSERT INTO routing (id, routing_code, item_code, revision_code, status, cam_revision, last_addin_job_id,
         last_generation_status, last_generated_at, generation_progress, created_at, updated_at)
       SELECT ${rid}, 'SEED-' || i, 'SEEDITEM-' || i, 'A', 'Approved'::"RoutingStatus", '1.1.0', ${jid},
         'Completed'::"GenerationStatus", ${at}, 100, ${at}, ${at}
       FROM ${series}`,
      range,
    );
    await ctx.system.sql(
      'routing-worker',
      `INSERT INTO generation_result (job_id, routing_id, result_status, generation_status, stale,
         cam_revision_before, cam_revision_after, processed_at)
       SELECT ${jid}, ${rid}, 'completed', 'Completed'::"GenerationStatus", false, '1.0.0', '1.1.0', ${at}
       FROM ${series}`,
      range,
    );
    await ctx.system.sql(
      'routing-worker',
      `INSERT INTO inbox_message (consumer, message_id, processed_at)
       SELECT q, md5('seed-ri-' || q || i)::uuid, ${at}
       FROM ${series}, unnest(ARRAY['${CONSUMER_QUEUES.routingJobResults}', '${CONSUMER_QUEUES.routingJobProgress}']) AS q`,
      range,
    );
    await ctx.system.sql(
      'history-service',
      `INSERT INTO history_entry (id, routing_id, change_type, job_id, created_by, created_at, recorded_at)
       SELECT md5('seed-h-' || t || i)::uuid, ${rid}, t,
         CASE WHEN t LIKE 'AddinJob%' THEN ${jid} END, 'seed', ${at}, ${at}
       FROM ${series}, unnest(ARRAY['RoutingCreated', 'ApprovalRequested', 'RoutingApproved', 'AddinJobQueued',
         'AddinJobStarted', 'AddinJobCompleted']) AS t`,
      range,
    );
    await ctx.system.sql(
      'history-service',
      `INSERT INTO inbox_message (consumer, message_id, processed_at)
       SELECT '${CONSUMER_QUEUES.historyEvents}', md5('seed-hi-' || k || '-' || i)::uuid, ${at}
       FROM ${series}, generate_series(1, 6) AS k`,
      range,
    );
    await ctx.system.sql(
      'notification-service',
      `INSERT INTO notification (event_id, type, severity, routing_id, routing_code, job_id, message, created_at)
       SELECT md5('seed-n-' || i)::uuid, 'generation.completed', 'info', ${rid}, 'SEED-' || i, ${jid},
         'CAM program of SEED-' || i || ' generated', ${at}
       FROM ${series}`,
      range,
    );
    await ctx.system.sql(
      'notification-service',
      `INSERT INTO inbox_message (consumer, message_id, processed_at)
       SELECT '${CONSUMER_QUEUES.notificationAlerts}', md5('seed-ni-' || i)::uuid, ${at} FROM ${series}`,
      range,
    );
    ctx.progress(`growth: seeding ${to} prior jobs`, end + 1 - from, to - from);
  }
}

/**
 * ANALYZE in every service's schema at the end of a scenario's setup: the timed part runs with the statistics
 * autovacuum keeps in a plant's long-running database (within its minute), not those of tables created seconds
 * before — plans made from those read whole tables that grew since (decision 0021).
 */
async function steadyStatistics(ctx: ScenarioContext): Promise<void> {
  for (const service of ALL_SERVICES) {
    // The service's own tables: a bare ANALYZE would analyze every schema of the database.
    const tables = await ctx.system.sql<{ name: string }>(
      service,
      'SELECT quote_ident(tablename) AS name FROM pg_tables WHERE schemaname = current_schema()',
    );
    await ctx.system.sql(service, `ANALYZE ${tables.map((t) => t.name).join(', ')}`);
  }
}
