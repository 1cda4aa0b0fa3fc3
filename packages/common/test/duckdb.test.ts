import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { queryRows, sqlString, withDuckDB } from '../src/index.ts';

describe('withDuckDB', () => {
  it('writes Parquet and reads it back from a fresh connection', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'enecg-duck-'));
    const file = join(dir, "it's.parquet");
    await withDuckDB(async (c) => {
      await c.run(
        `COPY (SELECT range AS id, range * 2 AS twice FROM range(5)) TO ${sqlString(file)} (FORMAT parquet)`,
      );
    });
    const rows = await withDuckDB((c) =>
      queryRows(c, `SELECT sum(twice) AS s, count(*) AS n FROM ${sqlString(file)}`),
    );
    expect(rows).toEqual([{ s: '20', n: '5' }]);
  });
});
