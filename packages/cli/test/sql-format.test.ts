import { describe, expect, it } from 'vitest';
import { formatRows } from '../src/commands/sql.ts';

const SHA = 'ce9762b7db89c70aebdeda41d829e42fbecdcb8e009c6dd060d452a199adf697';
const rows = [
  { name: 'waveforms', sha256: SHA, rows: 79 },
  { name: 'a, "quoted"\nname', sha256: null, rows: 0 },
];

describe('enecg sql output', () => {
  it('shows every value in full in a table', () => {
    const text = formatRows(rows, 'table');
    expect(text).toContain(SHA);
    expect(text.trimEnd().endsWith('(2 rows)')).toBe(true);
    expect(text).toContain('NULL');
  });

  it('wraps values wider than --max-width onto continuation lines, losing nothing', () => {
    const lines = formatRows([rows[0]!], 'table', 20).split('\n');
    expect(lines.every((line) => line.length <= 20 + 2 + 20 + 2 + 4)).toBe(true);
    const shaColumn = lines.slice(2, -2).map((line) => line.slice(11, 31).trim());
    expect(shaColumn.join('')).toBe(SHA);
  });

  it('writes CSV with RFC 4180 quoting, empty for NULL', () => {
    expect(formatRows(rows, 'csv')).toBe(`name,sha256,rows\nwaveforms,${SHA},79\n"a, ""quoted""\nname",,0\n`);
  });

  it('writes JSON rows as they are', () => {
    expect(JSON.parse(formatRows(rows, 'json'))).toEqual(rows);
  });
});
