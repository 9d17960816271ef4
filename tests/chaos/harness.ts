// The chaos run of issue 7: the whole system on a private RabbitMQ node and PostgreSQL cluster, under
// steady load (approvals + simulated add-ins), with every fault kind injected in turn, round after round;
// then the load stops, the system drains, and every invariant is checked over every job. `npm run chaos`
// (scripts/chaos.mjs → tests/chaos/run.ts) runs the full one; tests/chaos/chaos-quick.test.ts a short
// one in CI. Design: docs/decisions/0008-fault-injection-on-private-infrastructure.md; docs/chaos.md.
import { randomUUID } from 'node:crypto';
import { appendFileSync } from 'node:fs';
import os from 'node:os';
import { CONSUMER_QUEUES } from '@mcms/contracts';
import { connect as amqpConnect } from 'amqplib';
import { ALL_SERVICES, startSystem, waitFor, type System } from '../support/system';
import { FAULT_KINDS, injectFault, prepareSharedDrive, type FaultKind, type FaultRun } from './faults';
import { checkInvariants, backlogOf, type InvariantResult, type Outage, type Poison } from './invariants';
import {
  newLoadLog,
  startApprovals,
  startSimulatorProcess,
  type LoadLog,
  type SimulatorProcess,
} from './load';
import { startPrivateInfrastructure, type InfraTimings, type PrivateInfrastructure } from './private-infra';

export interface ChaosOptions {
  quick: boolean;
  /** Approvals a second. */
  rate: number;
  /** Simulated add-ins (devices) per simulator process. */
  devices: number;
  /** Times every fault kind is injected. */
  rounds: number;
  /** How long the broker stays down and the shared drive away. */
  holdMs: number;
  /** Steady load between one fault's recovery and the next fault. */
  steadyMs: number;
  /** How long the run waits for the first alert after a fault is healed before calling it unrecovered. */
  recoveryTimeoutMs: number;
  queueType: 'classic' | 'quorum';
  /** Appends every line the services print to this file (for the post-mortem of a violation). */
  serviceLogFile?: string;
  /** Stops the run between faults (Ctrl-C); the clean-up still runs. */
  signal?: AbortSignal;
  log?: (line: string) => void;
}

export function defaultChaosOptions(quick: boolean): ChaosOptions {
  return quick
    ? {
        quick,
        rate: 8,
        devices: 4,
        rounds: 1,
        holdMs: 1_500,
        steadyMs: 500,
        recoveryTimeoutMs: 60_000,
        queueType: 'classic',
      }
    : {
        quick,
        rate: 50,
        devices: 16,
        rounds: 3,
        holdMs: 5_000,
        steadyMs: 5_000,
        recoveryTimeoutMs: 90_000,
        queueType: 'quorum',
      };
}

/** Short leases and a retry budget longer than any outage the run makes (so no result retries out). */
const LEASE_MS = 3_000;
const SWEEP_MS = 250;
const RETRY_DELAYS = ['500ms', '1s', '2s', '5s', '10s', '20s'];
const RETRY_DELAYS_MS = [500, 1_000, 2_000, 5_000, 10_000, 20_000];
const CHAOS_ENV = {
  NODE_ENV: 'test',
  LOG_LEVEL: 'warn',
  JOB_LEASE: `${LEASE_MS}ms`,
  LEASE_SWEEP_INTERVAL: `${SWEEP_MS}ms`,
  MCMS_RETRY_DELAYS: RETRY_DELAYS.join(','),
  SHARED_DRIVE_TIMEOUT: '2s',
  LONG_POLL_FALLBACK: '1s',
};
/** A 503 this long after a fault's recovery still counts as part of the outage (clients reconnecting). */
const OUTAGE_GRACE_MS = 5_000;
const MIX = { success: 17, failure: 2, crash: 1 };
/** One request in this many is a regeneration of an approved routing instead of a new approval. */
const REGENERATE_EVERY = 5;

/** One injected fault with the time to recover from it. */
export interface FaultReport extends FaultRun {
  round: number;
  /** From healed to the first alert stored for a job whose /complete was answered after the heal. */
  recoverMs: number | null;
}

export interface ChaosReport {
  meta: {
    date: string;
    host: string;
    cpus: number;
    node: string;
    quick: boolean;
    command: string;
    seconds: number;
    settings: Omit<ChaosOptions, 'signal' | 'log'> & {
      leaseMs: number;
      retryDelays: string[];
      mix: typeof MIX;
    };
  };
  faults: FaultReport[];
  byKind: Array<{
    kind: FaultKind;
    injected: number;
    recoverMsMedian: number | null;
    recoverMsMax: number | null;
  }>;
  infrastructure: InfraTimings;
  servicesStartupMs: Record<string, number>;
  approvals: { started: number; approved: number; regenerated: number; abandoned: LoadLog['abandoned'] };
  simulators: number;
  quietMs: number | null;
  result: InvariantResult;
  ok: boolean;
}

function abortable(signal: AbortSignal | undefined) {
  const check = () => {
    if (signal?.aborted) throw new Error('the chaos run was interrupted');
  };
  const sleep = (ms: number) =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms);
      signal?.addEventListener('abort', () => (clearTimeout(timer), resolve()), { once: true });
    }).then(check);
  return { check, sleep };
}

/** Publishes malformed messages straight to each consumer's work queue (through the default exchange). */
async function poisonQueues(system: System): Promise<Poison[]> {
  const connection = await amqpConnect(system.amqpUrl);
  connection.on('error', () => {});
  const poisons: Poison[] = [];
  try {
    const channel = await connection.createConfirmChannel();
    for (const queue of Object.values(CONSUMER_QUEUES)) {
      const notJson: Poison = { id: `poison-${randomUUID()}`, queue, kind: 'not-json' };
      const notEnvelope: Poison = { id: `poison-${randomUUID()}`, queue, kind: 'not-an-envelope' };
      channel.sendToQueue(`${system.prefix}${queue}`, Buffer.from(`{ this is not JSON ${notJson.id}`), {
        persistent: true,
        messageId: notJson.id,
        contentType: 'application/json',
      });
      channel.sendToQueue(
        `${system.prefix}${queue}`,
        Buffer.from(JSON.stringify({ chaosPoison: notEnvelope.id, payload: { jobId: 'not-a-uuid' } })),
        {
          persistent: true,
          messageId: notEnvelope.id,
          contentType: 'application/json',
          type: 'mcms.unknown',
        },
      );
      poisons.push(notJson, notEnvelope);
    }
    await channel.waitForConfirms();
  } finally {
    await connection.close().catch(() => {});
  }
  return poisons;
}

/**
 * The first alert stored for a job whose /complete was answered at or after `since`, as an epoch ms; null
 * when none came within `timeoutMs` or a service process died meanwhile (it can't recover by itself).
 */
async function recoveredAt(
  system: System,
  log: LoadLog,
  since: number,
  timeoutMs: number,
): Promise<number | null> {
  try {
    const at = await waitFor(
      async () => {
        if (system.running().length < ALL_SERVICES.length) return -1;
        const fresh = [...log.completed].filter(([, c]) => c.at >= since).map(([jobId]) => jobId);
        if (fresh.length === 0) return undefined;
        const rows = await system
          .sql<{ n: string }>(
            'notification-service',
            'SELECT count(*) AS n FROM notification WHERE job_id = ANY($1::uuid[])',
            [fresh],
          )
          .catch(() => [{ n: '0' }]);
        return Number(rows[0]?.n ?? 0) > 0 ? Date.now() : undefined;
      },
      { timeoutMs, intervalMs: 100, what: 'the first alert after the fault' },
    );
    return at === -1 ? null : at;
  } catch {
    return null;
  }
}

function median(values: number[]): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

/** Runs the whole chaos experiment and returns its report (it does not throw on violations). */
export async function runChaos(options: ChaosOptions): Promise<ChaosReport> {
  const say = options.log ?? (() => {});
  const { check, sleep } = abortable(options.signal);
  const started = Date.now();
  say('starting a private RabbitMQ node and PostgreSQL cluster…');
  const infra: PrivateInfrastructure = await startPrivateInfrastructure();
  let system: System | undefined;
  let simulator: SimulatorProcess | undefined;
  let removeSharedDrive: (() => Promise<void>) | undefined;
  try {
    say(`RabbitMQ ${infra.rabbit.url} (node ${infra.rabbit.node}), PostgreSQL ${infra.postgres.url}`);
    say('starting the four services on them…');
    system = await startSystem({
      name: 'chaos',
      amqpUrl: infra.rabbit.url,
      databaseUrl: infra.postgres.url,
      queueType: options.queueType,
      readyTimeoutMs: 90_000,
      env: CHAOS_ENV,
      // The private broker goes away with the run.
      deleteBrokerObjects: false,
      ...(options.serviceLogFile && {
        onLine: (line) => appendFileSync(options.serviceLogFile!, `${line.service} ${line.line}\n`),
      }),
    });
    const sys = system;
    removeSharedDrive = await prepareSharedDrive(sys.sharedDriveRoot);
    const log = newLoadLog();
    let generation = 0;
    const simulatorErrors: string[] = [];
    const nextSimulator = (): SimulatorProcess => {
      simulator = startSimulatorProcess({
        system: sys,
        log,
        generation: ++generation,
        devices: options.devices,
        mix: MIX,
        thinkMs: [20, 200],
        onStderr: (text) => simulatorErrors.push(text),
      });
      return simulator;
    };
    nextSimulator();
    say(`load: ${options.rate} approvals/s, ${options.devices} simulated add-ins…`);
    const approvals = startApprovals(sys, log, { rate: options.rate, regenerateEvery: REGENERATE_EVERY });
    const poisons = await poisonQueues(sys);
    say(`poisoned ${poisons.length} messages (2 per consumer queue)`);
    const warm = await recoveredAt(sys, log, started, options.recoveryTimeoutMs);
    if (warm === null) throw new Error('no job went through the system before any fault was injected');

    const faults: FaultReport[] = [];
    const outages: Outage[] = [];
    const crashes: string[] = [];
    for (let round = 1; round <= options.rounds; round++) {
      for (const kind of FAULT_KINDS) {
        check();
        say(`round ${round}/${options.rounds}: ${kind}…`);
        const run = await injectFault(kind, {
          system: sys,
          infra,
          simulator: { kill: () => simulator!.kill(), startNext: nextSimulator },
          holdMs: options.holdMs,
          sleep,
        });
        let recovered = await recoveredAt(sys, log, run.healedAt, options.recoveryTimeoutMs);
        const crashed = ALL_SERVICES.filter((service) => !sys.running().includes(service));
        for (const service of crashed) {
          // Not part of the fault: a service died by itself. A violation, and restarted so the run goes on.
          crashes.push(`${service} crashed after "${kind}" (round ${round}); see the service log`);
          say(`  ${service} CRASHED; restarting it`);
          await sys.restart(service, { readyTimeoutMs: 90_000 });
        }
        if (crashed.length > 0)
          recovered = await recoveredAt(sys, log, run.healedAt, options.recoveryTimeoutMs);
        const recoverMs = recovered === null ? null : recovered - run.healedAt;
        faults.push({ ...run, round, recoverMs });
        outages.push({ kind, from: run.injectedAt, to: (recovered ?? Date.now()) + OUTAGE_GRACE_MS });
        say(`  healed in ${run.healedAt - run.injectedAt} ms, first alert after ${recoverMs ?? 'never'} ms`);
        await sleep(options.steadyMs);
      }
    }

    say('stopping the approvals; the add-ins finish every job…');
    await approvals.stop();
    const openJobs = async () => {
      const [row] = await sys.sql<{ n: string }>(
        'addin-gateway',
        "SELECT count(*) AS n FROM addin_job WHERE status IN ('Pending', 'InProgress')",
      );
      return Number(row?.n ?? 0);
    };
    await waitFor(async () => (await openJobs()) === 0, {
      timeoutMs: 180_000,
      intervalMs: 250,
      what: 'every job to be taken and finished',
    }).catch(() => say('  some jobs are still open: the invariants will name them'));
    await simulator?.stop();
    simulator = undefined;
    say('waiting until every outbox and queue is empty…');
    const quietFrom = Date.now();
    const quiet = await waitFor(
      async () => [...(await backlogOf(sys, RETRY_DELAYS_MS)).values()].every((n) => n === 0),
      { timeoutMs: 120_000, intervalMs: 250, what: 'the system to be quiet' },
    ).catch(() => false);
    const quietMs = quiet ? Date.now() - quietFrom : null;

    say('checking the invariants over every job…');
    const result = await checkInvariants({
      system: sys,
      log,
      poisons,
      outages,
      retryDelaysMs: RETRY_DELAYS_MS,
      sweepSlackMs: 2 * SWEEP_MS + 1_000,
    });
    result.violations.push(...crashes);
    if (simulatorErrors.length > 0)
      result.violations.push(`a simulator process printed errors: ${simulatorErrors.join('').slice(0, 500)}`);
    for (const f of faults.filter((fault) => fault.recoverMs === null))
      result.violations.push(
        `no job completed and alerted within ${options.recoveryTimeoutMs} ms after ${f.kind}`,
      );

    const byKind = FAULT_KINDS.map((kind) => {
      const of = faults.filter((f) => f.kind === kind);
      const times = of.map((f) => f.recoverMs).filter((ms): ms is number => ms !== null);
      return {
        kind,
        injected: of.length,
        recoverMsMedian: median(times),
        recoverMsMax: times.length > 0 ? Math.max(...times) : null,
      };
    });
    const { signal: _signal, log: _log, serviceLogFile: _file, ...settings } = options;
    return {
      meta: {
        date: new Date(started).toISOString(),
        host: os.hostname(),
        cpus: os.cpus().length,
        node: process.version,
        quick: options.quick,
        command: options.quick ? 'tests/chaos/chaos-quick.test.ts' : 'npm run chaos',
        seconds: Math.round((Date.now() - started) / 1000),
        settings: { ...settings, leaseMs: LEASE_MS, retryDelays: RETRY_DELAYS, mix: MIX },
      },
      faults,
      byKind,
      infrastructure: structuredClone(infra.timings),
      servicesStartupMs: { ...sys.startupMs },
      approvals: {
        started: approvals.started,
        approved: log.approved.length,
        regenerated: log.regenerated,
        abandoned: log.abandoned,
      },
      simulators: generation,
      quietMs,
      result,
      ok: result.violations.length === 0 && result.lost === 0 && result.duplicated === 0,
    };
  } finally {
    say('stopping everything and removing the private infrastructure…');
    await simulator?.kill().catch(() => {});
    await system?.cleanup().catch((err: unknown) => say(`clean-up: ${String(err)}`));
    await removeSharedDrive?.();
    await infra.dispose();
  }
}

const table = (header: string[], rows: string[][]) =>
  [
    `| ${header.join(' | ')} |`,
    `| ${header.map(() => '---').join(' | ')} |`,
    ...rows.map((r) => `| ${r.join(' | ')} |`),
  ].join('\n');
const ms = (v: number | null) => (v === null ? 'never' : `${v} ms`);
const list = (values: number[]) => (values.length === 0 ? '—' : values.join(', '));

/** The report as Markdown: the verdict, faults by kind, jobs, answers, infrastructure times, violations. */
export function chaosToMarkdown(r: ChaosReport): string {
  const { result: x } = r;
  const s = r.meta.settings;
  return [
    `Chaos run ${r.meta.date} on ${r.meta.host} (${r.meta.cpus} CPUs, Node ${r.meta.node}), ${r.meta.quick ? 'quick variant' : 'full run'} ` +
      `(\`${r.meta.command}\`), ${r.meta.seconds} s: ${s.rate} approvals/s, ${s.devices} simulated add-ins per process, ` +
      `${s.rounds} round(s) of every fault, outages of ${s.holdMs} ms, ${s.queueType} queues, lease ${s.leaseMs} ms.`,
    '',
    `**${r.ok ? 'PASSED' : 'FAILED'}: lost = ${x.lost}, duplicated = ${x.duplicated}, invariant violations = ${x.violations.length}.**`,
    '',
    table(
      ['fault', 'injected', 'recovery (heal → first alert) median', 'max'],
      r.byKind.map((k) => [k.kind, String(k.injected), ms(k.recoverMsMedian), ms(k.recoverMsMax)]),
    ),
    '',
    table(
      ['jobs', 'count'],
      [
        ['jobs created (approvals and regenerations)', String(x.jobs.total)],
        ['  Completed / Failed', `${x.jobs.completed} / ${x.jobs.failed}`],
        ['  still Pending / InProgress', `${x.jobs.pending} / ${x.jobs.inProgress}`],
        ['  /complete answered 200', String(x.jobs.completeAnswered200)],
        ['  requeued by lease expiry (attempt > 1)', String(x.jobs.requeued)],
        ['routings approved / approvals started', `${x.routingsApproved} / ${r.approvals.started}`],
        ['regenerations accepted (a further job for a routing)', String(r.approvals.regenerated)],
        ['approval flows given up after retries', String(r.approvals.abandoned.length)],
        ['simulator processes (one per kill)', String(r.simulators)],
        ['**lost**', `**${x.lost}**`],
        ['**duplicated**', `**${x.duplicated}**`],
        [
          'dead letters: poisoned / found',
          `${x.deadLetters.poisoned} / ${x.deadLetters.found} (${
            Object.entries(x.deadLetters.reasons)
              .map(([k, n]) => `${k} ×${n}`)
              .join(', ') || 'none'
          })`,
        ],
        [
          'HTTP answers by status',
          Object.entries(x.http.byStatus)
            .map(([k, n]) => `${k}: ${n}`)
            .join(', '),
        ],
        [
          '5xx: 503 during an outage / 503 with no fault active (overload) / any other 5xx',
          `${x.http.expected503} / ${x.http.overload503} / **${x.http.unexpected5xx}**`,
        ],
        ['time to quiet after the load stopped', ms(r.quietMs)],
      ],
    ),
    '',
    table(
      ['private infrastructure', 'ms'],
      [
        ['PostgreSQL initdb (once per run)', String(r.infrastructure.postgresInitMs)],
        ['PostgreSQL start', list(r.infrastructure.postgresStartMs)],
        ['PostgreSQL restart -m fast', list(r.infrastructure.postgresRestartMs.fast)],
        ['PostgreSQL restart -m immediate', list(r.infrastructure.postgresRestartMs.immediate)],
        ['RabbitMQ start (to accepting AMQP)', list(r.infrastructure.rabbitStartMs)],
        ['RabbitMQ stop', list(r.infrastructure.rabbitStopMs)],
        [
          'services start (spawn → /readyz)',
          Object.entries(r.servicesStartupMs)
            .map(([k, v]) => `${k} ${v}`)
            .join(', '),
        ],
      ],
    ),
    '',
    x.violations.length === 0
      ? 'No invariant violated.'
      : ['Violations:', ...x.violations.map((v) => `- ${v}`)].join('\n'),
    '',
  ].join('\n');
}
