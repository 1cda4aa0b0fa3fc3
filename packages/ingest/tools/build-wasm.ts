// Assembles the WebAssembly kernels (src/**/*.wat) into the committed .wasm binaries next to them.
// `npm run build:wasm -w @enecg/ingest`; test/wasm-kernels.test.ts checks they match.
import { writeFileSync } from 'node:fs';
import { assembleWat, WAT_SOURCES } from './assemble-wat.ts';

for (const source of WAT_SOURCES) {
  const binary = await assembleWat(source);
  const target = source.replace(/\.wat$/, '.wasm');
  writeFileSync(target, binary);
  console.log(`${target}: ${binary.length} bytes`);
}
