import { createLogger } from './logger';
import { onShutdown, runShutdown } from './shutdown';

function capturingLogger() {
  const lines: Array<{ level: string; msg: string; [key: string]: unknown }> = [];
  const log = createLogger({
    service: 'test',
    level: 'debug',
    destination: { write: (line: string) => void lines.push(JSON.parse(line)) },
  });
  return { log, lines };
}

describe('runShutdown', () => {
  it('runs every step in order, each awaited, even when one throws', async () => {
    const { log, lines } = capturingLogger();
    const ran: string[] = [];
    const steps = [
      async function stopHttp() {
        await Promise.resolve();
        ran.push('http');
      },
      function stopConsumers() {
        ran.push('consumers');
        throw new Error('channel already closed');
      },
      async function closeBroker() {
        await Promise.resolve();
        ran.push('broker');
      },
      () => void ran.push('database'),
    ];

    const result = await runShutdown(log, steps, { timeoutMs: 5_000 });

    expect(ran).toEqual(['http', 'consumers', 'broker', 'database']);
    expect(result).toEqual({ ok: false, failed: ['stopConsumers'], timedOut: false });
    expect(lines).toContainEqual(
      expect.objectContaining({
        level: 'error',
        step: 'stopConsumers',
        err: expect.objectContaining({ message: 'channel already closed' }),
      }),
    );
  });

  it('reports success when every step succeeds', async () => {
    const { log } = capturingLogger();

    expect(await runShutdown(log, [() => undefined, async () => undefined])).toEqual({
      ok: true,
      failed: [],
      timedOut: false,
    });
  });

  it('gives up when the budget runs out and starts no further step', async () => {
    const { log, lines } = capturingLogger();
    const ran: string[] = [];

    const result = await runShutdown(
      log,
      [() => void ran.push('first'), () => new Promise<void>(() => undefined), () => void ran.push('never')],
      { timeoutMs: 30 },
    );

    expect(result).toEqual({ ok: false, failed: [], timedOut: true });
    expect(ran).toEqual(['first']);
    expect(lines).toContainEqual(expect.objectContaining({ level: 'error', msg: 'shutdown timed out' }));
  });
});

describe('onShutdown', () => {
  const removers: Array<() => void> = [];
  afterEach(() => removers.splice(0).forEach((remove) => remove()));

  it('runs the steps on SIGTERM, exits 0, and ignores a second signal', async () => {
    const { log, lines } = capturingLogger();
    let runs = 0;
    const exited = new Promise<number>((resolve) => {
      removers.push(onShutdown(log, [() => void runs++], { exit: resolve }));
    });

    process.emit('SIGTERM', 'SIGTERM');
    process.emit('SIGINT', 'SIGINT');

    expect(await exited).toBe(0);
    expect(runs).toBe(1);
    expect(lines).toContainEqual(
      expect.objectContaining({
        level: 'warn',
        signal: 'SIGINT',
        msg: 'shutdown already in progress; signal ignored',
      }),
    );
  });

  it('exits 1 when a step fails', async () => {
    const { log } = capturingLogger();
    const exited = new Promise<number>((resolve) => {
      removers.push(
        onShutdown(
          log,
          [
            () => {
              throw new Error('pool busy');
            },
          ],
          { exit: resolve },
        ),
      );
    });

    process.emit('SIGINT', 'SIGINT');

    expect(await exited).toBe(1);
  });

  it('removes its signal handlers when asked', () => {
    const before = { term: process.listenerCount('SIGTERM'), int: process.listenerCount('SIGINT') };
    const remove = onShutdown(capturingLogger().log, [], { exit: () => undefined });

    expect(process.listenerCount('SIGTERM')).toBe(before.term + 1);
    expect(process.listenerCount('SIGINT')).toBe(before.int + 1);
    remove();
    expect(process.listenerCount('SIGTERM')).toBe(before.term);
    expect(process.listenerCount('SIGINT')).toBe(before.int);
  });
});
