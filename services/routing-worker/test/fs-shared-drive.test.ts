import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rename, rm, symlink, writeFile } from 'node:fs/promises';
import fs from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createLogger, isAppError } from '@mcms/platform';
import { createFsSharedDrive, type FsSharedDrive } from '../src/adapters/fs-shared-drive';

const FOLDER = ['ITEM-7', 'B', 'Routings', 'GT310001'];
type OpenDone = (err: NodeJS.ErrnoException | null, fd: number) => void;
const log = createLogger({ service: 'routing-worker-test', level: 'silent' });

let base: string;
let root: string;
let drive: FsSharedDrive;

beforeEach(async () => {
  base = await mkdtemp(path.join(tmpdir(), 'rw-share-'));
  root = path.join(base, 'MCMS');
  await mkdir(path.join(root, ...FOLDER), { recursive: true });
  drive = createFsSharedDrive({ root, timeoutMs: 2_000, log, resetTimeoutMs: 300 });
});

afterEach(async () => {
  drive.close();
  await rm(base, { recursive: true, force: true });
});

async function put(name: string, content: string) {
  await mkdir(path.dirname(path.join(root, ...FOLDER, name)), { recursive: true });
  await writeFile(path.join(root, ...FOLDER, name), content);
  return {
    path: name,
    sha256: createHash('sha256').update(content).digest('hex'),
    sizeBytes: Buffer.byteLength(content),
  };
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => {
      throw new Error('expected a rejection');
    },
    (err: unknown) => err,
  );
}

describe('the shared drive on the file system', () => {
  it('accepts outputs that exist with their reported size and SHA-256, in subfolders and with Windows separators', async () => {
    const nc = await put('GT310001.nc', 'G0 X0 Y0\nM30\n');
    const esp = await put('esprit/GT310001.esp', 'esprit project');
    await expect(
      drive.verifyOutputs(FOLDER, [nc, { ...esp, path: 'esprit\\GT310001.esp' }]),
    ).resolves.toEqual({ ok: true });
  });

  it('names a missing file, a wrong size and a wrong checksum, each with why', async () => {
    const nc = await put('GT310001.nc', 'G0 X0 Y0\n');
    const stl = await put('GT310001.stl', 'solid part');
    const wrongHash = 'f'.repeat(64);

    const verification = await drive.verifyOutputs(FOLDER, [
      { path: 'GT310001.esp', sha256: nc.sha256, sizeBytes: 3 },
      { ...nc, sizeBytes: nc.sizeBytes + 1 },
      { ...stl, sha256: wrongHash },
    ]);

    expect(verification).toEqual({
      ok: false,
      problems: [
        { path: 'GT310001.esp', reason: 'missing on the shared drive' },
        { path: 'GT310001.nc', reason: `size is ${nc.sizeBytes} bytes, expected ${nc.sizeBytes + 1}` },
        { path: 'GT310001.stl', reason: `SHA-256 is ${stl.sha256}, expected ${wrongHash}` },
      ],
    });
  });

  it('treats every output as missing when the routing folder does not exist', async () => {
    await expect(
      drive.verifyOutputs(
        ['ITEM-7', 'B', 'Routings', 'NOPE'],
        [{ path: 'a.nc', sha256: 'a'.repeat(64), sizeBytes: 1 }],
      ),
    ).resolves.toEqual({ ok: false, problems: [{ path: 'a.nc', reason: 'missing on the shared drive' }] });
  });

  it('refuses a symbolic link that leads outside the routing folder', async () => {
    const secret = path.join(base, 'secret.txt');
    await writeFile(secret, 'not yours');
    await symlink(secret, path.join(root, ...FOLDER, 'link.nc'));
    const verification = await drive.verifyOutputs(FOLDER, [
      { path: 'link.nc', sha256: createHash('sha256').update('not yours').digest('hex'), sizeBytes: 9 },
    ]);
    expect(verification).toEqual({
      ok: false,
      problems: [{ path: 'link.nc', reason: 'links outside the routing folder' }],
    });
  });

  it('accepts a symbolic link that stays inside the routing folder, checking the file it leads to', async () => {
    const nc = await put('programs/GT310001.nc', 'G0 X0 Y0\nM30\n');
    await symlink(
      path.join(root, ...FOLDER, 'programs', 'GT310001.nc'),
      path.join(root, ...FOLDER, 'link.nc'),
    );
    await expect(drive.verifyOutputs(FOLDER, [{ ...nc, path: 'link.nc' }])).resolves.toEqual({ ok: true });
    await expect(
      drive.verifyOutputs(FOLDER, [{ ...nc, path: 'link.nc', sha256: 'e'.repeat(64) }]),
    ).resolves.toEqual({
      ok: false,
      problems: [{ path: 'link.nc', reason: `SHA-256 is ${nc.sha256}, expected ${'e'.repeat(64)}` }],
    });
  });

  it('refuses a directory and a FIFO as not regular files, without waiting for a FIFO writer', async () => {
    await mkdir(path.join(root, ...FOLDER, 'GT310001.nc'));
    execFileSync('mkfifo', [path.join(root, ...FOLDER, 'GT310001.stl')]);
    const verification = await drive.verifyOutputs(FOLDER, [
      { path: 'GT310001.nc', sha256: 'a'.repeat(64), sizeBytes: 1 },
      { path: 'GT310001.stl', sha256: 'b'.repeat(64), sizeBytes: 1 },
    ]);
    expect(verification).toEqual({
      ok: false,
      problems: [
        { path: 'GT310001.nc', reason: 'not a regular file' },
        { path: 'GT310001.stl', reason: 'not a regular file' },
      ],
    });
  });

  it('hashes an output bigger than one read in pieces, and names a changed byte in it', async () => {
    const content = Buffer.alloc(2.5 * 1024 * 1024, 'G1 X1 Y1\n');
    await writeFile(path.join(root, ...FOLDER, 'GT310001.stl'), content);
    const stl = {
      path: 'GT310001.stl',
      sha256: createHash('sha256').update(content).digest('hex'),
      sizeBytes: content.length,
    };
    await expect(drive.verifyOutputs(FOLDER, [stl])).resolves.toEqual({ ok: true });

    content[content.length - 1] = 0x21; // the last byte, in the last piece
    await writeFile(path.join(root, ...FOLDER, 'GT310001.stl'), content);
    const changed = createHash('sha256').update(content).digest('hex');
    await expect(drive.verifyOutputs(FOLDER, [stl])).resolves.toEqual({
      ok: false,
      problems: [{ path: 'GT310001.stl', reason: `SHA-256 is ${changed}, expected ${stl.sha256}` }],
    });
  });

  it('reports an unmounted share as a retryable error, not as missing files', async () => {
    await rename(root, `${root}.offline`);
    const err = await rejection(
      drive.verifyOutputs(FOLDER, [{ path: 'a.nc', sha256: 'a'.repeat(64), sizeBytes: 1 }]),
    );
    expect(isAppError(err) && err.retryable).toBe(true);
    expect(isAppError(err) && err.code).toBe('dependency_unavailable');

    await rename(`${root}.offline`, root);
    const nc = await put('GT310001.nc', 'M30\n');
    await expect(drive.verifyOutputs(FOLDER, [nc])).resolves.toEqual({ ok: true });
  });

  it('reports a share that went away in the middle of a check as retryable, not as missing files', async () => {
    // Found by the chaos run (tests/chaos): the root check passed, then the share vanished before the
    // files were looked at, and a completed job became a failed generation ("missing on the shared drive").
    const nc = await put('GT310001.nc', 'G0 X0 Y0\n');
    const realOpen = fs.open;
    let vanished = 0;
    const vanish = jest.spyOn(fs, 'open').mockImplementation(((
      file: string,
      flags: number,
      done: OpenDone,
    ) => {
      vanish.mockRestore();
      vanished++;
      void (async () => {
        await rename(root, `${root}.away`);
        await writeFile(root, 'not a directory any more');
        realOpen(file, flags, done);
      })();
    }) as unknown as typeof fs.open);

    const err = await rejection(drive.verifyOutputs(FOLDER, [nc]));

    expect(vanished).toBe(1);
    expect(isAppError(err) && err.retryable && err.code === 'dependency_unavailable').toBe(true);
  });

  it('looks again when the share came back by the end of a check, and accepts what is there', async () => {
    const nc = await put('GT310001.nc', 'G0 X0 Y0\n');
    const realOpen = fs.open;
    let blipped = 0;
    const blip = jest.spyOn(fs, 'open').mockImplementation(((file: string, flags: number, done: OpenDone) => {
      blip.mockRestore();
      blipped++;
      void (async () => {
        await rename(root, `${root}.away`);
        realOpen(file, flags, (err, fd) => {
          void rename(`${root}.away`, root).then(() => done(err, fd));
        });
      })();
    }) as unknown as typeof fs.open);

    await expect(drive.verifyOutputs(FOLDER, [nc])).resolves.toEqual({ ok: true });
    expect(blipped).toBe(1);
  });

  it('opens its breaker after repeated failures, fails fast while open, and closes once the share answers', async () => {
    await rename(root, `${root}.offline`);
    for (let i = 0; i < 3; i += 1) await rejection(drive.writeMetaJson(FOLDER, '{}\n'));
    await rename(`${root}.offline`, root);

    // The share is back, but the open breaker doesn't even look.
    const err = await rejection(drive.writeMetaJson(FOLDER, '{}\n'));
    expect(isAppError(err) && err.retryable).toBe(true);
    expect((err as Error).message).toContain('EOPENBREAKER');

    const deadline = Date.now() + 5_000;
    for (;;) {
      const outcome = await drive.writeMetaJson(FOLDER, '{}\n').then(
        () => 'written',
        () => 'refused',
      );
      if (outcome === 'written') break;
      if (Date.now() > deadline) throw new Error('the breaker never closed again');
      await new Promise((resolve) => setTimeout(resolve, 50)); // polling interval while the breaker's reset timer runs
    }
    expect(await readFile(path.join(root, ...FOLDER, 'meta.json'), 'utf8')).toBe('{}\n');
  });

  it('replaces meta.json atomically and leaves no temporary file behind', async () => {
    await drive.writeMetaJson(FOLDER, '{"camRevision":"1.1.0"}\n');
    await drive.writeMetaJson(FOLDER, '{"camRevision":"1.2.0"}\n');
    expect(await readFile(path.join(root, ...FOLDER, 'meta.json'), 'utf8')).toBe('{"camRevision":"1.2.0"}\n');
    expect(await readdir(path.join(root, ...FOLDER))).toEqual(['meta.json']);
  });
});
