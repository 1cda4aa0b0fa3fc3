import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { assembleWat, WAT_SOURCES } from '../tools/assemble-wat.ts';

describe('WebAssembly kernels', () => {
  it.each(WAT_SOURCES)(
    'the committed binary is %s assembled (source and binary cannot drift)',
    async (source) => {
      const committed = readFileSync(source.replace(/\.wat$/, '.wasm'));
      expect(Buffer.from(await assembleWat(source)).equals(committed)).toBe(true);
    },
  );
});
