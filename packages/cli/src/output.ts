/** Where the CLI talks: injected, so tests run it in-process and see exactly what an operator sees. */
export interface CliIo {
  stdout(text: string): void;
  stderr(text: string): void;
  /** Whether a person can answer a question (stdin is a terminal). */
  readonly stdinIsTTY: boolean;
  /** Whether progress can redraw a line (stderr is a terminal). */
  readonly stderrIsTTY: boolean;
  /** Asks on the terminal; resolves with the answer line. */
  ask(question: string): Promise<string>;
}

/** Column-aligned text: the header, a rule, then one line per row. */
export function table(headers: readonly string[], rows: ReadonlyArray<readonly string[]>): string {
  const widths = headers.map((header, i) =>
    Math.max(header.length, ...rows.map((row) => (row[i] ?? '').length)),
  );
  const line = (cells: readonly string[]) =>
    cells
      .map((cell, i) => (i === cells.length - 1 ? cell : cell.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  return [line(headers), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n') + '\n';
}

/** `value` or `-`, shortened to `max` characters for a table cell. */
export function cell(value: unknown, max = 60): string {
  if (value === undefined || value === null || value === '') return '-';
  const text = String(value).replace(/\s+/g, ' ');
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

export interface Progress {
  update(done: number, detail?: string): void;
  finish(): void;
}

const REDRAW_EVERY_MS = 100;

/**
 * A one-line progress display on stderr (redrawn in place, at most every 100 ms), so stdout stays clean
 * for `--json`. Silent when stderr is not a terminal: logs and scripts get the summary only.
 */
export function progress(io: CliIo, label: string, total: number): Progress {
  if (!io.stderrIsTTY || total <= 0) return { update: () => undefined, finish: () => undefined };
  let drawnAt = 0;
  let last = '';
  const draw = (done: number, detail = '') => {
    const width = 30;
    const filled = Math.min(width, Math.round((done / total) * width));
    last = `\r${label} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${done}/${total}${detail ? ` ${detail}` : ''}`;
    io.stderr(last);
    drawnAt = performance.now();
  };
  return {
    update(done, detail) {
      if (done >= total || performance.now() - drawnAt >= REDRAW_EVERY_MS) draw(done, detail);
    },
    finish() {
      if (last) io.stderr('\n');
    },
  };
}
