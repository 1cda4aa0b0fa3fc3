import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import wabt from 'wabt';

/** The WAT sources of the package's WebAssembly kernels (absolute paths). */
export const WAT_SOURCES = [
  fileURLToPath(new URL('../src/parquet-format/delta-binary-packed.wat', import.meta.url)),
  fileURLToPath(new URL('../src/wfdb/format16.wat', import.meta.url)),
];

/** The binary of one WAT file, as wabt assembles it (SIMD enabled, no names section: reproducible). */
export async function assembleWat(path: string): Promise<Uint8Array> {
  const wabtModule = await wabt();
  const parsed = wabtModule.parseWat(path, readFileSync(path, 'utf8'), { simd: true });
  try {
    parsed.validate();
    return Uint8Array.from(parsed.toBinary({ write_debug_names: false }).buffer);
  } finally {
    parsed.destroy();
  }
}
