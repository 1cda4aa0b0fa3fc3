/** How a command reports its result: a human summary on stderr-free stdout, or one JSON document. */
export interface OutputOptions {
  json?: boolean;
}

/** Prints a command's summary: JSON on stdout with `--json`, otherwise aligned `key: value` lines. */
export function printSummary(summary: Record<string, unknown>, options: OutputOptions): void {
  if (options.json) {
    process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
    return;
  }
  const width = Math.max(...Object.keys(summary).map((k) => k.length));
  for (const [key, value] of Object.entries(summary)) {
    const shown = typeof value === 'object' && value !== null ? JSON.stringify(value) : String(value);
    process.stdout.write(`${key.padEnd(width)}  ${shown}\n`);
  }
}
