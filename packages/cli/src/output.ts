/** How a command reports its result: a human summary on stderr-free stdout, or one JSON document. */
export interface OutputOptions {
  json?: boolean;
}

/** A value as a person reads it: numbers rounded to what they mean, flat objects as `key value, ...`. */
export function readable(value: unknown): string {
  if (value === null || value === undefined) return '-';
  if (typeof value === 'number') return formatNumber(value);
  if (Array.isArray(value)) return value.length === 0 ? 'none' : value.map(readable).join(', ');
  if (typeof value === 'object') {
    if (Object.keys(value).length === 0) return 'none';
    return Object.entries(value)
      .map(([key, inner]) => `${key} ${readable(inner)}`)
      .join(', ');
  }
  return String(value);
}

/** Integers as they are, other numbers with 4 significant digits (NaN as `-`). */
export function formatNumber(value: number): string {
  if (!Number.isFinite(value)) return '-';
  if (Number.isInteger(value)) return String(value);
  return String(Number(value.toPrecision(4)));
}

/**
 * Prints a command's summary: JSON on stdout with `--json`, otherwise aligned `key  value` lines; a list
 * of objects or a long list gets one indented line per item, other values read as `readable` writes them.
 */
export function printSummary(summary: Record<string, unknown>, options: OutputOptions): void {
  if (options.json) {
    process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
    return;
  }
  process.stdout.write(formatSummary(summary));
}

export function formatSummary(summary: Record<string, unknown>): string {
  const width = Math.max(...Object.keys(summary).map((k) => k.length));
  const lines: string[] = [];
  for (const [key, value] of Object.entries(summary)) {
    // A list of objects, or a long list, gets a line per item.
    const items =
      Array.isArray(value) &&
      value.length > 0 &&
      (value.some((item) => typeof item === 'object' && item !== null) || readable(value).length > 60);
    if (items) {
      lines.push(key);
      for (const item of value) lines.push(`  ${readable(item)}`);
    } else lines.push(`${key.padEnd(width)}  ${readable(value)}`);
  }
  return `${lines.join('\n')}\n`;
}

export interface TableOptions {
  /** Columns wider than this wrap onto continuation lines (default: no limit). */
  maxWidth?: number;
  /** Columns aligned to the right (numbers). */
  right?: ReadonlySet<number>;
}

/** Rows of cells as an aligned text table with a header rule; long cells wrap within `maxWidth`. */
export function formatTable(
  header: readonly string[],
  rows: ReadonlyArray<readonly string[]>,
  options: TableOptions = {},
): string {
  const limit = options.maxWidth ?? Number.POSITIVE_INFINITY;
  const widths = header.map((title, c) =>
    Math.min(limit, Math.max(title.length, ...rows.map((row) => (row[c] ?? '').length))),
  );
  const chunks = (text: string, width: number): string[] => {
    if (text.length <= width) return [text];
    const parts: string[] = [];
    for (let at = 0; at < text.length; at += width) parts.push(text.slice(at, at + width));
    return parts;
  };
  const render = (cells: readonly string[]): string[] => {
    const wrapped = cells.map((cell, c) => chunks(cell, widths[c]!));
    const height = Math.max(...wrapped.map((parts) => parts.length));
    return Array.from({ length: height }, (_, line) =>
      wrapped
        .map((parts, c) => {
          const text = parts[line] ?? '';
          return options.right?.has(c) ? text.padStart(widths[c]!) : text.padEnd(widths[c]!);
        })
        .join('  ')
        .trimEnd(),
    );
  };
  return `${[...render(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.flatMap(render)].join('\n')}\n`;
}
