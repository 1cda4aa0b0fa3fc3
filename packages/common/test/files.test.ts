import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { sha256 } from '../src/hashing.ts';
import { storeContentOnce, writeFileOnce } from '../src/index.ts';

describe('artifacts written once', () => {
  let folder: string;
  beforeEach(async () => {
    folder = await mkdtemp(join(tmpdir(), 'enecg-files-'));
  });
  afterEach(async () => {
    await rm(folder, { recursive: true, force: true });
  });

  it('writeFileOnce: of writers racing for one name exactly one creates it, and nothing rewrites it', async () => {
    const path = join(folder, 'nested', 'evaluation.json');
    const created = await Promise.all(
      Array.from({ length: 8 }, (_, i) => writeFileOnce(path, `writer ${i}\n`)),
    );
    expect(created.filter(Boolean)).toHaveLength(1);
    const winner = created.indexOf(true);
    expect(await readFile(path, 'utf8')).toBe(`writer ${winner}\n`);
    expect(await writeFileOnce(path, 'later\n')).toBe(false);
    expect(await readFile(path, 'utf8')).toBe(`writer ${winner}\n`);
    // No temporary file stays behind.
    expect(await readdir(join(folder, 'nested'))).toEqual(['evaluation.json']);
  });

  it('storeContentOnce: the same bytes reuse the file; other bytes go beside it under their hash', async () => {
    const path = join(folder, 'report.html');
    expect(await storeContentOnce(path, '<p>first</p>')).toBe(path);
    expect(await storeContentOnce(path, '<p>first</p>')).toBe(path);
    const second = await storeContentOnce(path, '<p>second</p>');
    expect(second).toBe(join(folder, `report-${sha256('<p>second</p>').slice(0, 16)}.html`));
    expect(await storeContentOnce(path, '<p>second</p>')).toBe(second);
    expect(await readFile(path, 'utf8')).toBe('<p>first</p>');
    expect(await readFile(second, 'utf8')).toBe('<p>second</p>');
    expect((await readdir(folder)).sort()).toEqual([basename(second), 'report.html']);
  });
});
