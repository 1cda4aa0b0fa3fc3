/**
 * Progress of long stage commands on stderr, without dependencies. On a terminal one line is redrawn in
 * place (counts, percentage, rate, ETA); in a log file or CI a plain line is written only every 10 % or
 * every 5 s, so logs stay short. `--json` and `--quiet` silence it: stdout stays a pure JSON document.
 */

/** Where progress goes: `process.stderr` in the CLI, a recorder in tests. */
export interface ProgressStream {
  isTTY?: boolean;
  /** Terminal width: lines are cut to it, since a wrapped line cannot be redrawn in place. */
  columns?: number;
  write(text: string): unknown;
}

export interface ProgressOptions {
  /** What is counted, e.g. `ingest`; starts every line. */
  label: string;
  /** Plural noun of the counted things, e.g. `records`. */
  unit: string;
  stream?: ProgressStream;
  /** Milliseconds clock; injectable for tests. */
  now?: () => number;
  /** Without a terminal: write a line at least every this fraction of the total (default 0.1). */
  plainEveryFraction?: number;
  /** Without a terminal: write a line at least every this many ms (default 5000). */
  plainEveryMs?: number;
  /** On a terminal: redraw at most this often (default 100 ms), so a fast loop does not flood it. */
  redrawEveryMs?: number;
}

export interface Progress {
  /** `done` of `total` (unknown total: counts and rate only); `detail` is appended, e.g. `3 cached`. */
  update(done: number, total?: number, detail?: string): void;
  /** Writes the final state (and ends the terminal line). Later updates are ignored. */
  finish(): void;
}

const SILENT: Progress = { update() {}, finish() {} };

/** The progress a command shows: none with `--json` or `--quiet`, otherwise on stderr. */
export function commandProgress(
  label: string,
  unit: string,
  options: { json?: boolean; quiet?: boolean },
): Progress {
  if (options.json || options.quiet) return SILENT;
  return createProgress({ label, unit, stream: process.stderr });
}

/** Runs `work`, then ends the progress line even when `work` fails, so an error starts on a line of its own. */
export async function withProgress<T>(progress: Progress, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } finally {
    progress.finish();
  }
}

export function createProgress(options: ProgressOptions): Progress {
  const stream = options.stream ?? process.stderr;
  const now = options.now ?? Date.now;
  const tty = stream.isTTY === true;
  const everyFraction = options.plainEveryFraction ?? 0.1;
  const everyMs = options.plainEveryMs ?? 5000;
  const redrawMs = options.redrawEveryMs ?? 100;
  const started = now();
  let state: { done: number; total: number | undefined; detail: string | undefined } | undefined;
  let lastWrite = Number.NEGATIVE_INFINITY;
  let lastPlainFraction = 0;
  let writtenDone: number | undefined;
  /** On a terminal: an update that was not drawn yet (finish draws it). */
  let undrawn = false;
  let finished = false;

  const line = (): string => {
    if (!state) return '';
    const elapsedMs = now() - started;
    return formatProgressLine({ label: options.label, unit: options.unit, elapsedMs, ...state });
  };

  return {
    update(done, total, detail) {
      if (finished) return;
      state = { done, total, detail };
      const at = now();
      if (tty) {
        if (at - lastWrite < redrawMs && done !== total) {
          undrawn = true;
          return;
        }
        // \r back to the line start, then erase what a longer previous line left behind.
        stream.write(`\r${fitToTerminal(line(), stream)}\x1b[K`);
        lastWrite = at;
        undrawn = false;
        return;
      }
      const fraction = total ? done / total : 0;
      const crossed = total !== undefined && total > 0 && fraction - lastPlainFraction >= everyFraction;
      const late = at - lastWrite >= everyMs && at - started >= everyMs;
      if (crossed || late) {
        stream.write(`${line()}\n`);
        lastWrite = at;
        writtenDone = done;
        if (total) lastPlainFraction = fraction - (fraction % everyFraction);
      }
    },
    finish() {
      if (finished) return;
      finished = true;
      if (!state) return;
      // The last drawn line stays as it is; redrawing it would only change its rate and time.
      if (tty) stream.write(undrawn ? `\r${fitToTerminal(line(), stream)}\x1b[K\n` : '\n');
      else if (writtenDone !== state.done) stream.write(`${line()}\n`);
    },
  };
}

/** A terminal line cut to the terminal's width (an ellipsis marks the cut). */
export function fitToTerminal(line: string, stream: ProgressStream): string {
  const width = stream.columns;
  if (!width || line.length < width) return line;
  return `${line.slice(0, Math.max(0, width - 2))}…`;
}

/**
 * Several live lines at once (one per running activity of `enecg run`), with log lines scrolling above
 * them. On a terminal the block is redrawn in place; elsewhere each line is written when its text
 * changes, at most every `plainEveryMs` per line, so a log gets a line per stage every few seconds.
 */
export interface LiveLines {
  /** Shows these lines, keyed by what they follow (an activity id). */
  render(lines: ReadonlyArray<{ key: string; text: string }>): void;
  /** A permanent line, written above the live block. */
  log(text: string): void;
  /** Removes the live block (its lines were temporary), leaving the logged lines. */
  finish(): void;
}

export function createLiveLines(
  options: { stream?: ProgressStream; now?: () => number; plainEveryMs?: number } = {},
): LiveLines {
  const stream = options.stream ?? process.stderr;
  const now = options.now ?? Date.now;
  const plainEveryMs = options.plainEveryMs ?? 10_000;
  const tty = stream.isTTY === true;
  let drawn: string[] = [];
  const plainWritten = new Map<string, { text: string; at: number }>();
  const clear = () => {
    if (drawn.length > 0) stream.write(`\x1b[${drawn.length}A\r\x1b[J`);
  };
  const draw = (texts: string[]) => {
    for (const text of texts) stream.write(`${fitToTerminal(text, stream)}\x1b[K\n`);
    drawn = texts;
  };
  return {
    render(lines) {
      if (tty) {
        clear();
        draw(lines.map((line) => line.text));
        return;
      }
      const at = now();
      for (const { key, text } of lines) {
        const last = plainWritten.get(key);
        if (last && (last.text === text || at - last.at < plainEveryMs)) continue;
        stream.write(`${text}\n`);
        plainWritten.set(key, { text, at });
      }
    },
    log(text) {
      if (!tty) {
        stream.write(`${text}\n`);
        return;
      }
      const texts = drawn;
      clear();
      stream.write(`${text}\x1b[K\n`);
      draw(texts);
    },
    finish() {
      if (tty) clear();
      drawn = [];
    },
  };
}

export interface ProgressLine {
  label: string;
  unit: string;
  done: number;
  total: number | undefined;
  detail: string | undefined;
  elapsedMs: number;
}

/** `ingest 40/120 records (33%), 12.5 records/s, ETA 6s, 2 quarantined` */
export function formatProgressLine(progress: ProgressLine): string {
  const { label, unit, done, total, detail, elapsedMs } = progress;
  const parts = [
    total === undefined
      ? `${label} ${done} ${unit}`
      : `${label} ${done}/${total} ${unit} (${total === 0 ? 100 : Math.floor((100 * done) / total)}%)`,
  ];
  const seconds = elapsedMs / 1000;
  if (seconds > 0 && done > 0) {
    const rate = done / seconds;
    parts.push(`${rate >= 10 ? rate.toFixed(0) : rate.toFixed(1)} ${unit}/s`);
    if (total !== undefined && done < total) parts.push(`ETA ${formatDuration((total - done) / rate)}`);
  }
  if (total !== undefined && done >= total) parts.push(`done in ${formatDuration(seconds)}`);
  if (detail) parts.push(detail);
  return parts.join(', ');
}

/** 7 -> `7s`, 65 -> `1m05s`, 3725 -> `1h02m`. */
export function formatDuration(totalSeconds: number): string {
  const seconds = Math.max(0, Math.round(totalSeconds));
  if (seconds < 60) return `${seconds}s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes}m${String(seconds % 60).padStart(2, '0')}s`;
  return `${Math.floor(minutes / 60)}h${String(minutes % 60).padStart(2, '0')}m`;
}
