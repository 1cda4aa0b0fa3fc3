import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { canonicalJson, hashObject, sha256, sha256File } from '../src/index.ts';

describe('hashing', () => {
  it('hashes a file by streaming to the same digest as hashing its bytes', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'enecg-hash-'));
    const file = join(dir, 'a.bin');
    const bytes = new Uint8Array(3_000_000).map((_, i) => i % 251);
    await writeFile(file, bytes);
    expect(await sha256File(file)).toBe(sha256(bytes));
  });

  it('gives equal objects equal hashes whatever their key order', () => {
    expect(canonicalJson({ b: 1, a: { d: [2, { f: 1, e: 0 }], c: null } })).toBe(
      '{"a":{"c":null,"d":[2,{"e":0,"f":1}]},"b":1}',
    );
    expect(hashObject({ x: 1, y: 2 })).toBe(hashObject({ y: 2, x: 1 }));
    expect(hashObject({ x: 1 })).not.toBe(hashObject({ x: 2 }));
  });
});
