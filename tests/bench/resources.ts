// CPU and peak RSS of every process that takes part in a scenario, read from /proc (Linux only): the
// services by their own pids, RabbitMQ (`beam.smp`) and PostgreSQL (`postgres`, every backend) by name,
// and the benchmark's own process (the simulated add-ins and the socket.io client).
import { readdirSync, readFileSync } from 'node:fs';
import os from 'node:os';

/** What one process group used while a sampler ran. */
export interface ProcessUsage {
  name: string;
  /** Processes seen (PostgreSQL has one per connection). */
  processes: number;
  /** CPU seconds used between start and stop. */
  cpuSeconds: number;
  /** `cpuSeconds` / wall seconds: 1.0 = one core busy all the time. */
  cores: number;
  /**
   * The highest memory seen across samples: VmRSS of a single process; for a group of processes sharing
   * memory (PostgreSQL's backends share the buffer cache) the sum of their Pss, so shared pages count once.
   */
  peakRssMb: number;
}

/** A group of processes to watch: found again on every sample, so new backends are counted. */
export interface ProcessGroup {
  name: string;
  find(): number[];
  /** Sum Pss instead of RSS (processes that share memory). */
  proportional?: boolean;
}

// Linux reports utime/stime in clock ticks; USER_HZ is 100 on every mainstream kernel config.
const TICKS_PER_SECOND = 100;

function readStat(
  pid: number,
  proportional = false,
  memory = true,
): { cpuTicks: number; rssKb: number } | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may contain spaces: the fields after it start behind the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const cpuTicks = Number(fields[11]) + Number(fields[12]);
    if (!memory) return { cpuTicks, rssKb: 0 };
    const rss = proportional
      ? /Pss:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'))
      : /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return { cpuTicks, rssKb: rss ? Number(rss[1]) : 0 };
  } catch {
    return null; // the process ended between listing and reading
  }
}

function allPids(): number[] {
  return readdirSync('/proc')
    .filter((entry) => /^\d+$/.test(entry))
    .map(Number);
}

function readText(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}

/**
 * Processes whose command name (`/proc/<pid>/comm`) is `comm`, looked for again every `rescanMs`: a scan
 * reads the name of every process on the machine (~140 reads), and scanning on every sample for RabbitMQ and
 * PostgreSQL took ~0.04 cores from the machine under test. A backend that starts between scans is counted
 * from the next one; the services' pools keep theirs for the whole run.
 */
export function byCommand(name: string, comm: string, proportional = false, rescanMs = 2_000): ProcessGroup {
  let pids: number[] = [];
  let scannedAt = -Infinity;
  return {
    name,
    proportional,
    find: () => {
      const now = Date.now();
      if (now - scannedAt >= rescanMs) {
        pids = allPids().filter((pid) => readText(`/proc/${pid}/comm`).trim() === comm);
        scannedAt = now;
      }
      return pids;
    },
  };
}

/** The one service process running `entry` with `MCMS_TOPOLOGY_PREFIX=<prefix>` (other runs have other prefixes). */
export function serviceProcess(name: string, entry: string, prefix: string): ProcessGroup {
  let cached: number[] | undefined;
  return {
    name,
    find: () => {
      cached ??= allPids().filter(
        (pid) =>
          readText(`/proc/${pid}/cmdline`).includes(entry) &&
          readText(`/proc/${pid}/environ`).split('\0').includes(`MCMS_TOPOLOGY_PREFIX=${prefix}`),
      );
      return cached;
    },
  };
}

/** The benchmark's own process. */
export function selfProcess(name = 'bench (load + client)'): ProcessGroup {
  return { name, find: () => [process.pid] };
}

/** A running sampler: `stop()` returns the usage of every group since `startSampler`. */
export interface Sampler {
  stop(): ProcessUsage[];
}

/**
 * Samples every group each `intervalMs` (and once at start and stop). Pss (`smaps_rollup`) is read only every
 * `pssEveryMs`: the kernel walks the process's page tables for it — ~2.4 ms per PostgreSQL backend here, so
 * 60 backends four times a second took a third of a core from the machine under test (and held their memory
 * locks), and every 2 s still ~0.07 cores (a CPU profile of the harness, 2026-12-03); CPU ticks and VmRSS
 * cost ~15 µs a read. PostgreSQL's memory moves slowly (backends, buffers), so every 5 s and at the end finds
 * its peak as well.
 */
export function startSampler(groups: readonly ProcessGroup[], intervalMs = 250, pssEveryMs = 5_000): Sampler {
  const started = Date.now();
  const state = groups.map(() => ({
    first: new Map<number, number>(),
    last: new Map<number, number>(),
    peakKb: 0,
  }));
  let pssReadAt = -Infinity;
  const sample = (final = false) => {
    const now = Date.now();
    const readPss = final || now - pssReadAt >= pssEveryMs;
    if (readPss) pssReadAt = now;
    groups.forEach((group, i) => {
      const s = state[i]!;
      const memory = !group.proportional || readPss;
      let rssKb = 0;
      for (const pid of group.find()) {
        const stat = readStat(pid, group.proportional, memory);
        if (!stat) continue;
        if (!s.first.has(pid)) s.first.set(pid, stat.cpuTicks);
        s.last.set(pid, stat.cpuTicks);
        rssKb += stat.rssKb;
      }
      if (memory) s.peakKb = Math.max(s.peakKb, rssKb);
    });
  };
  sample();
  const timer = setInterval(sample, intervalMs);
  timer.unref();
  return {
    stop() {
      clearInterval(timer);
      sample(true);
      const wallSeconds = Math.max(0.001, (Date.now() - started) / 1000);
      return groups.map((group, i) => {
        const s = state[i]!;
        let ticks = 0;
        for (const [pid, last] of s.last) ticks += last - (s.first.get(pid) ?? last);
        const cpuSeconds = ticks / TICKS_PER_SECOND;
        return {
          name: group.name,
          processes: s.last.size,
          cpuSeconds: round(cpuSeconds, 2),
          cores: round(cpuSeconds / wallSeconds, 2),
          peakRssMb: round(s.peakKb / 1024, 1),
        };
      });
    },
  };
}

/** What the whole machine did while a scenario ran (`/proc/stat`, every CPU). */
export interface HostUsage {
  /** Cores busy on average (user, system, interrupts…), of every process, ours or not. */
  busyCores: number;
  /**
   * Percent of the time the hypervisor ran someone else on our virtual CPUs while they wanted to run (steal):
   * a run whose steal is high was slowed by the host's other tenants, not by the code.
   */
  stealPercent: number;
}

function readHostTicks(): { total: number; idle: number; steal: number } {
  // cpu  user nice system idle iowait irq softirq steal guest guest_nice
  const fields = readText('/proc/stat').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  const [user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0] = fields;
  return { total: user + nice + system + idle + iowait + irq + softirq + steal, idle: idle + iowait, steal };
}

/** Starts measuring the machine as a whole; `stop()` returns what it did since. */
export function startHostClock(): { stop(): HostUsage } {
  const first = readHostTicks();
  return {
    stop() {
      const last = readHostTicks();
      const total = Math.max(1, last.total - first.total);
      const cpus = os.cpus().length || 1;
      const busy = total - (last.idle - first.idle) - (last.steal - first.steal);
      return {
        busyCores: round((busy / total) * cpus, 2),
        stealPercent: round((100 * (last.steal - first.steal)) / total, 1),
      };
    },
  };
}

export function round(value: number, digits = 0): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}
