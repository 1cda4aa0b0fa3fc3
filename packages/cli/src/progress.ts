/**
 * Progress of long stage commands on stderr, without dependencies. On a terminal one line is redrawn in
 * place (counts, percentage, rate, ETA); in a log file or CI a plain line is written only every 10 % or
 * every 5 s, so logs stay short. `--json` and `--quiet` silence it: stdout stays a pure JSON document.
 */

/** Where progress goes: `process.stderr` in the CLI, a recorder in tests. */
export interface ProgressStream {
  isTTY?: boolean;
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
        if (at - lastWrite < redrawMs && done !== total) return;
        // \r back to the line start, then erase what a longer previous line left behind.
        stream.write(`\r${line()}\x1b[K`);
        lastWrite = at;
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
      if (tty) stream.write(`\r${line()}\x1b[K\n`);
      else if (writtenDone !== state.done) stream.write(`${line()}\n`);
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
