import { createHash, randomUUID } from 'node:crypto';
import fs, { constants } from 'node:fs';
import { realpath, rename, stat, unlink } from 'node:fs/promises';
import path from 'node:path';
import type { Logger, Metrics } from '@mcms/platform';
import { unavailable } from '@mcms/platform';
import CircuitBreaker from 'opossum';
import { normaliseOutputs, type OutputFile } from '../domain/cam-revision';
import type { OutputProblem, OutputVerification } from '../domain/generation';
import type { SharedDrive } from '../domain/ports';

/** Options of {@link createFsSharedDrive}. */
export interface FsSharedDriveOptions {
  /** The mounted share (`W:\MCMS` on the workstations). */
  root: string;
  /** Budget of one operation on the share (checking one file, writing meta.json); past it the share counts as unreachable. */
  timeoutMs: number;
  log: Logger;
  metrics?: Metrics;
  /** How long the breaker stays open before letting one trial through; default 10 s. */
  resetTimeoutMs?: number;
}

/** The shared drive on the local file system, behind a circuit breaker. */
export interface FsSharedDrive extends SharedDrive {
  /** Stops the breaker's statistics timers. */
  close(): void;
}

// What a missing file looks like. Anything else the file system says (EACCES, EIO, ESTALE, a timeout,
// the breaker open) is about the share, not the add-in's result: retryable, so the result is not lost.
const MISSING = new Set(['ENOENT', 'ENOTDIR']);
const MISSING_REASON = 'missing on the shared drive';

// How an output is opened to be checked: read-only; not through a symbolic link (it fails with ELOOP, and the
// link is then resolved and checked to stay inside the routing folder); and non-blocking, so that a FIFO
// planted among the outputs is opened at once (and refused as not a regular file) instead of holding a
// thread-pool thread until a writer appears. O_NONBLOCK changes nothing for a regular file.
const OPEN_TO_CHECK = constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK;
// The largest read of one check: an output up to this size takes one read, a bigger one is hashed in pieces.
const READ_CHUNK_BYTES = 1 << 20;

// File descriptors through the callback API, not fs/promises' FileHandle: the same system calls at half the CPU
// per output here (a FileHandle is a tracked object of its own; measured 31–58 µs vs 75–87 µs for open, fstat,
// read and close of a 2 kB file). Looked up on `fs` at each call, so tests can stand in for one.
function fsCall<T>(call: (done: (err: NodeJS.ErrnoException | null, value: T) => void) => void): Promise<T> {
  return new Promise<T>((resolve, reject) => call((err, value) => (err ? reject(err) : resolve(value))));
}
const openFd = (file: string, flags: number | string) => fsCall<number>((done) => fs.open(file, flags, done));
const closeFd = (fd: number) => fsCall<void>((done) => fs.close(fd, (err) => done(err, undefined)));

/**
 * Checks an opened output against what the add-in reported: a regular file of that size whose bytes hash to
 * that SHA-256 — one fstat and, up to {@link READ_CHUNK_BYTES}, one read. It reads the size the fstat gave
 * (looping over short reads, which a network share may return); a file that shrank in between is caught by
 * its byte count. Bytes appended after the fstat are not read: the add-in reports once its files are
 * closed, and what it reported is what is checked.
 */
async function checkOpened(fd: number, file: OutputFile): Promise<string | undefined> {
  const info = await fsCall<fs.Stats>((done) => fs.fstat(fd, done));
  if (!info.isFile()) return 'not a regular file';
  if (info.size !== file.sizeBytes) return `size is ${info.size} bytes, expected ${file.sizeBytes}`;
  const hash = createHash('sha256');
  const buffer = Buffer.allocUnsafe(Math.min(info.size, READ_CHUNK_BYTES));
  let total = 0;
  while (total < info.size) {
    const length = Math.min(buffer.length, info.size - total);
    const bytesRead = await fsCall<number>((done) => fs.read(fd, buffer, 0, length, null, done));
    if (bytesRead === 0) break;
    hash.update(buffer.subarray(0, bytesRead));
    total += bytesRead;
  }
  if (total !== info.size) return `size is ${total} bytes, expected ${file.sizeBytes}`;
  const actual = hash.digest('hex');
  return actual === file.sha256 ? undefined : `SHA-256 is ${actual}, expected ${file.sha256}`;
}

/**
 * The shared drive as a mounted directory. Every operation goes through one opossum breaker with a
 * timeout: when the share hangs or fails, callers get a retryable `dependency_unavailable` at once
 * (the message waits in a retry tier) instead of piling up on a dead mount.
 */
export function createFsSharedDrive(options: FsSharedDriveOptions): FsSharedDrive {
  const root = path.resolve(options.root);
  const log = options.log.child({ component: 'shared-drive' });
  const failures = options.metrics?.counter(
    'mcms_shared_drive_failures_total',
    'Shared-drive operations that failed or were refused',
    ['operation'],
  );
  const breakerOpen = options.metrics?.gauge(
    'mcms_shared_drive_breaker_open',
    '1 while the shared-drive breaker is open',
  );
  const breaker = new CircuitBreaker(async (operation: () => Promise<unknown>) => operation(), {
    name: 'shared-drive',
    timeout: options.timeoutMs,
    resetTimeout: options.resetTimeoutMs ?? 10_000,
    errorThresholdPercentage: 50,
    volumeThreshold: 3,
  });
  breaker.on('open', () => {
    breakerOpen?.set(1);
    log.warn({ root }, 'shared drive unreachable; breaker open');
  });
  breaker.on('halfOpen', () => log.info({ root }, 'shared drive breaker half-open; trying again'));
  breaker.on('close', () => {
    breakerOpen?.set(0);
    log.info({ root }, 'shared drive reachable again; breaker closed');
  });

  async function guarded<T>(operation: string, fn: () => Promise<T>): Promise<T> {
    try {
      return (await breaker.fire(fn)) as T;
    } catch (err) {
      failures?.inc({ operation });
      const code = (err as { code?: unknown }).code;
      throw unavailable(
        `shared drive unavailable (${operation}: ${typeof code === 'string' ? code : (err as Error).message})`,
        err,
      );
    }
  }

  async function assertRootReachable(): Promise<void> {
    await guarded('root', async () => {
      const info = await stat(root);
      if (!info.isDirectory())
        throw Object.assign(new Error(`${root} is not a directory`), { code: 'ENOTDIR' });
    });
  }

  async function checkFile(folder: string, file: OutputFile): Promise<string | undefined> {
    const target = path.resolve(folder, file.path);
    if (!target.startsWith(folder + path.sep)) return 'resolves outside the routing folder';
    return guarded('verify', async () => {
      let fd;
      try {
        fd = await openFd(target, OPEN_TO_CHECK);
      } catch (err) {
        const code = (err as { code?: string }).code ?? '';
        if (code === 'ELOOP') return checkLink(folder, target, file);
        if (MISSING.has(code)) return MISSING_REASON;
        throw err;
      }
      try {
        return await checkOpened(fd, file);
      } finally {
        await closeFd(fd);
      }
    });
  }

  /** `target` is a symbolic link (O_NOFOLLOW refused it): accepted only when it leads inside the routing folder. */
  async function checkLink(folder: string, target: string, file: OutputFile): Promise<string | undefined> {
    let real;
    try {
      real = await realpath(target);
      if (!real.startsWith((await realpath(folder)) + path.sep)) return 'links outside the routing folder';
    } catch (err) {
      if (MISSING.has((err as { code?: string }).code ?? '')) return MISSING_REASON;
      throw err;
    }
    const fd = await openFd(real, OPEN_TO_CHECK);
    try {
      return await checkOpened(fd, file);
    } finally {
      await closeFd(fd);
    }
  }

  async function checkFiles(folder: string, files: readonly OutputFile[]): Promise<OutputProblem[]> {
    const problems: OutputProblem[] = [];
    // One file at a time: the timeout then bounds one file, and a big STL doesn't starve the others.
    for (const file of files) {
      const reason = await checkFile(folder, file);
      if (reason !== undefined) problems.push({ path: file.path, reason });
    }
    return problems;
  }

  return {
    async verifyOutputs(segments, outputs) {
      // No look at the root first: with the share gone every file looks missing, and that is when the root
      // is looked at (below). A stat of the root per result was a tenth of the checks' file-system calls.
      const folder = path.join(root, ...segments);
      const files = normaliseOutputs(outputs);
      let problems = await checkFiles(folder, files);
      if (problems.some((problem) => problem.reason === MISSING_REASON)) {
        // A file looks missing as well when the share went away after the check above (the chaos run
        // caught a completed job turned into a failed generation that way): if the share is gone now,
        // this throws a retryable error; if it is back, the second look is the answer.
        await assertRootReachable();
        problems = await checkFiles(folder, files);
      }
      const verification: OutputVerification = problems.length === 0 ? { ok: true } : { ok: false, problems };
      return verification;
    },

    async writeMetaJson(segments, content) {
      // With the share gone the open below fails, and every failure here is retryable: no root check first.
      const folder = path.join(root, ...segments);
      const target = path.join(folder, 'meta.json');
      // Same folder, so the rename is atomic: readers see the old file or the new one, never half of one.
      const temp = path.join(folder, `.meta.json.${randomUUID()}.tmp`);
      await guarded('write-meta', async () => {
        try {
          const fd = await openFd(temp, 'wx');
          try {
            const bytes = Buffer.from(content, 'utf8');
            for (let written = 0; written < bytes.length;) {
              written += await fsCall<number>((done) =>
                fs.write(fd, bytes, written, bytes.length - written, null, done),
              );
            }
            await fsCall<void>((done) => fs.fsync(fd, (err) => done(err, undefined)));
          } finally {
            await closeFd(fd);
          }
          await rename(temp, target);
        } catch (err) {
          await unlink(temp).catch(() => undefined);
          throw err;
        }
      });
    },

    close() {
      breaker.shutdown();
    },
  };
}
