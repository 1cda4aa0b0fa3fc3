import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    // These tests start real processes and DuckDB instances; on a loaded 2-core CI box one that takes
    // 3.5 s alone was seen past vitest's 5 s default. Tests assert results, never speed.
    testTimeout: 60_000,
    hookTimeout: 120_000,
  },
});
