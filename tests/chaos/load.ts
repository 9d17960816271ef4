// The steady load of the chaos run: approvals through the routing API at a fixed rate (as approvers
// would), and simulated add-ins in a process of their own taking and completing the jobs. Every HTTP
// answer either of them receives is recorded, so the run can check that nothing answered 5xx except 503
// while a dependency was down.
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import type { OutcomeMix } from '@mcms/addin-client';
import { tokenFor, WORKSPACE_ROOT, type System, type SystemService } from '../support/system';
import type { SimulatorProcessSettings, SimulatorRecord } from './simulator-process';

/** One HTTP answer (status 0: no answer, e.g. connection refused while a service was down). */
export interface HttpRecord {
  who: 'simulator' | 'approver';
  service: SystemService;
  method: string;
  /** The path with ids replaced by `:id`, so answers group by route. */
  route: string;
  /** The job the call was about, when the path names one. */
  jobId?: string;
  status: number;
  at: number;
  error?: string;
}

/** Everything the load saw. */
export interface LoadLog {
  http: HttpRecord[];
  /** Jobs whose `/complete` was answered 200, with the result reported (the last one, if several). */
  completed: Map<string, { resultStatus: 'completed' | 'failed'; at: number }>;
  /** Routings approved (approve answered 200). */
  approved: string[];
  /** Regenerations accepted (202): a further job for an approved routing whose last job had finished. */
  regenerated: number;
  /** Approval flows given up (no 2xx after every retry), with the last answer. */
  abandoned: Array<{ step: string; status: number; error?: string }>;
}

export function newLoadLog(): LoadLog {
  return { http: [], completed: new Map(), approved: [], regenerated: 0, abandoned: [] };
}

const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/i;

export function routeOf(urlPath: string): { route: string; jobId?: string } {
  const id = urlPath.match(UUID)?.[0];
  return { route: urlPath.replace(UUID, ':id').replace(/\?.*$/, ''), ...(id && { jobId: id }) };
}

/** A running simulator process. */
export interface SimulatorProcess {
  readonly generation: number;
  readonly pid: number | undefined;
  /** `kill -9`: the add-in dies with its jobs in hand. */
  kill(): Promise<void>;
  /** SIGTERM: finishes the jobs in hand, then exits. */
  stop(): Promise<void>;
}

/** Options of {@link startSimulatorProcess}. */
export interface SimulatorProcessOptions {
  system: System;
  log: LoadLog;
  generation: number;
  devices: number;
  mix: Partial<OutcomeMix>;
  thinkMs: [number, number];
  /** Lines the process printed to stderr (a crash of the simulator itself). */
  onStderr?: (line: string) => void;
}

export function startSimulatorProcess(options: SimulatorProcessOptions): SimulatorProcess {
  const { system, log } = options;
  const settings: SimulatorProcessSettings = {
    gatewayUrl: system.urls['addin-gateway'],
    key: system.addinKey,
    sharedDriveRoot: system.sharedDriveRoot,
    devices: options.devices,
    // A new identity per process: the dead one's leases belong to devices that never come back.
    devicePrefix: `CHAOS-G${options.generation}-`,
    mix: options.mix,
    thinkMs: options.thinkMs,
    waitSeconds: 2,
  };
  const child: ChildProcess = spawn(
    process.execPath,
    [
      '-r',
      path.join(WORKSPACE_ROOT, 'scripts', 'register-ts.cjs'),
      path.join(__dirname, 'simulator-process.ts'),
    ],
    {
      cwd: path.join(WORKSPACE_ROOT, 'tests'),
      env: { PATH: process.env.PATH, MCMS_CHAOS_SIMULATOR: JSON.stringify(settings) },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let partial = '';
  child.stdout?.setEncoding('utf8');
  child.stdout?.on('data', (chunk: string) => {
    const lines = (partial + chunk).split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) if (line) take(JSON.parse(line) as SimulatorRecord);
  });
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (chunk: string) => options.onStderr?.(chunk));

  function take(record: SimulatorRecord): void {
    if (record.e === 'http') {
      log.http.push({
        who: 'simulator',
        service: 'addin-gateway',
        method: record.method,
        ...routeOf(record.path),
        status: record.status,
        at: record.at,
        ...(record.error && { error: record.error }),
      });
    } else if (record.e === 'completed') {
      log.completed.set(record.jobId, { resultStatus: record.resultStatus, at: record.at });
    }
  }

  return {
    generation: options.generation,
    pid: child.pid,
    async kill() {
      child.kill('SIGKILL');
      await exited;
    },
    async stop() {
      child.kill('SIGTERM');
      const killer = setTimeout(() => child.kill('SIGKILL'), 30_000);
      await exited;
      clearTimeout(killer);
    },
  };
}

/** Approvals sent at a fixed rate until stopped. */
export interface ApprovalLoad {
  /** Stops starting new approvals and waits for those in flight. */
  stop(): Promise<void>;
  readonly started: number;
}

const MAX_IN_FLIGHT = 64;
const RETRY_BUDGET_MS = 60_000;

/**
 * Create → request approval → approve, `rate` routings a second; every `regenerateEvery`-th tick also asks
 * for a new generation of an earlier approved routing (409 while its job runs is fine), so routings have
 * several jobs and must show their latest. A step that got no answer or a 503 is
 * retried (with back-off, for up to a minute) like a browser user would; a retried step that finds its
 * work already done (409) moves on. Every answer is recorded.
 */
export function startApprovals(
  system: System,
  log: LoadLog,
  { rate, regenerateEvery }: { rate: number; regenerateEvery: number },
): ApprovalLoad {
  const api = system.api('routing-worker');
  const editor = tokenFor('editor', { sub: 'chaos-editor', expiresInSeconds: 24 * 3600 });
  const approver = tokenFor('approver', { sub: 'chaos-approver', expiresInSeconds: 24 * 3600 });
  let stopped = false;
  let started = 0;
  const inFlight = new Set<Promise<void>>();

  async function step(
    name: string,
    urlPath: string,
    body: unknown,
    token: string,
    ok: (status: number, retried: boolean) => boolean,
  ): Promise<{ status: number; body: unknown } | undefined> {
    const deadline = Date.now() + RETRY_BUDGET_MS;
    let last: { status: number; error?: string } = { status: 0 };
    for (let attempt = 1; Date.now() < deadline; attempt++) {
      const at = Date.now();
      try {
        const answer = await api.post(urlPath, body, { token });
        log.http.push({
          who: 'approver',
          service: 'routing-worker',
          method: 'POST',
          ...routeOf(urlPath),
          status: answer.status,
          at,
        });
        if (ok(answer.status, attempt > 1)) return answer;
        last = { status: answer.status };
        if (answer.status !== 503) break;
      } catch (err) {
        const error = (err as { cause?: { code?: string } }).cause?.code ?? (err as Error).name;
        log.http.push({
          who: 'approver',
          service: 'routing-worker',
          method: 'POST',
          ...routeOf(urlPath),
          status: 0,
          at,
          error,
        });
        last = { status: 0, error };
      }
      await new Promise((resolve) => setTimeout(resolve, Math.min(2_000, 100 * 2 ** attempt)));
    }
    log.abandoned.push({ step: name, ...last });
    return undefined;
  }

  async function approveOne(n: number): Promise<void> {
    const id = `${Date.now().toString(36)}${n.toString(36)}`.toUpperCase();
    const codes = { routingCode: `CHAOS-${id}`, itemCode: `ITEM-${id}`, revisionCode: 'A' };
    const created = await step('create', '/api/routings', codes, editor, (s) => s === 201);
    const routingId = (created?.body as { id?: string } | undefined)?.id;
    if (!routingId) return;
    // A retry whose first try did reach the service finds the work done: 409, and that is fine.
    const done = (s: number, retried: boolean) => s === 200 || (retried && s === 409);
    if (!(await step('request-approval', `/api/routings/${routingId}/request-approval`, {}, editor, done)))
      return;
    if (await step('approve', `/api/routings/${routingId}/approve`, {}, approver, done))
      log.approved.push(routingId);
  }

  async function regenerateOne(routingId: string): Promise<void> {
    // 409: its job is still running, or (retried) the first try did regenerate it.
    const answered = await step(
      'regenerate',
      `/api/routings/${routingId}/regenerate`,
      undefined,
      approver,
      (s) => s === 202 || s === 409,
    );
    if (answered?.status === 202) log.regenerated++;
  }

  const launch = (work: Promise<void>) => {
    const tracked = work.finally(() => inFlight.delete(tracked));
    inFlight.add(tracked);
  };
  let ticks = 0;
  const timer = setInterval(() => {
    if (stopped || inFlight.size >= MAX_IN_FLIGHT) return;
    ticks++;
    if (ticks % regenerateEvery === 0 && log.approved.length > 0) {
      launch(regenerateOne(log.approved[Math.floor(Math.random() * log.approved.length)]!));
      return;
    }
    launch(approveOne(started++));
  }, 1_000 / rate);

  return {
    get started() {
      return started;
    },
    async stop() {
      stopped = true;
      clearInterval(timer);
      await Promise.all([...inFlight]);
    },
  };
}
