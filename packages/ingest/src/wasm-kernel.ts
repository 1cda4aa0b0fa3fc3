import { readFileSync } from 'node:fs';

/** The linear memory a kernel exports (it grows in 64 KiB pages; `buffer` is replaced when it does). */
export interface KernelMemory {
  readonly buffer: ArrayBuffer;
  grow(pages: number): number;
}

const WASM_PAGE_BYTES = 65536;

/**
 * Instantiates one of the package's WebAssembly kernels (a .wasm file assembled from the .wat next to
 * it, see tools/build-wasm.ts) synchronously: the binaries are under 1 KB and compile in well under a
 * millisecond. Node 20 has WebAssembly SIMD, so there is no JavaScript fallback.
 */
export function instantiateKernel<Exports>(binary: URL): Exports {
  // The typings in use (ES2023 lib, @types/node 20) do not declare the WebAssembly global that
  // Node provides, so the two constructors needed are typed here.
  const { WebAssembly: wasm } = globalThis as unknown as {
    WebAssembly: {
      Module: new (bytes: Uint8Array) => object;
      Instance: new (module: object) => { exports: unknown };
    };
  };
  return new wasm.Instance(new wasm.Module(readFileSync(binary))).exports as Exports;
}

/**
 * Grows `memory` to at least `bytes`. Kernels keep their memory for the whole process, so it is
 * allocated once, at the size of the largest input seen.
 */
export function ensureKernelMemory(memory: KernelMemory, bytes: number): void {
  const missing = bytes - memory.buffer.byteLength;
  if (missing > 0) memory.grow(Math.ceil(missing / WASM_PAGE_BYTES));
}
