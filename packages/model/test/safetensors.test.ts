import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InputError } from '@enecg/common';
import { describe, expect, it } from 'vitest';
import {
  decodeSafetensors,
  encodeSafetensors,
  readSafetensors,
  WeightReader,
  writeSafetensors,
} from '../src/safetensors/index.ts';

function handMade(header: object, data: Uint8Array): Uint8Array {
  const text = new TextEncoder().encode(JSON.stringify(header));
  const out = new Uint8Array(8 + text.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(text.length), true);
  out.set(text, 8);
  out.set(data, 8 + text.length);
  return out;
}

describe('safetensors', () => {
  it('round-trips tensors and metadata through a file, deterministically', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'st-'));
    const tensors = {
      'b.weight': { shape: [2, 3], data: Float32Array.from([1, 2, 3, 4, 5, 6]) },
      'a.bias': { shape: [2], data: Float32Array.from([-0.5, 1e-8]) },
    };
    await writeSafetensors(join(dir, 'w.safetensors'), tensors, { format: 'pt' });
    const back = await readSafetensors(join(dir, 'w.safetensors'));
    expect(back.metadata).toEqual({ format: 'pt' });
    expect([...back.tensors.keys()].sort()).toEqual(['a.bias', 'b.weight']);
    expect(back.tensors.get('b.weight')!.shape).toEqual([2, 3]);
    expect([...back.tensors.get('a.bias')!.data]).toEqual([-0.5, Math.fround(1e-8)]);
    const bytes = await readFile(join(dir, 'w.safetensors'));
    expect(Buffer.from(encodeSafetensors(tensors, { format: 'pt' })).equals(bytes)).toBe(true);
    expect(Number(bytes.readBigUInt64LE(0)) % 8).toBe(0);
  });

  it('reads F16, BF16 and F64 as float32', () => {
    const data = new Uint8Array(2 + 2 + 8);
    const view = new DataView(data.buffer);
    view.setUint16(0, 0x3c00, true); // 1.0 in half precision
    view.setUint16(2, 0xc040, true); // -3.0 in bfloat16
    view.setFloat64(4, 0.25, true);
    const parsed = decodeSafetensors(
      handMade(
        {
          h: { dtype: 'F16', shape: [1], data_offsets: [0, 2] },
          b: { dtype: 'BF16', shape: [1], data_offsets: [2, 4] },
          d: { dtype: 'F64', shape: [1], data_offsets: [4, 12] },
        },
        data,
      ),
      'mem',
    );
    expect(parsed.tensors.get('h')!.data[0]).toBe(1);
    expect(parsed.tensors.get('b')!.data[0]).toBe(-3);
    expect(parsed.tensors.get('d')!.data[0]).toBe(0.25);
  });

  it('refuses corrupt files with the file and tensor named', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'st-'));
    const path = join(dir, 'bad.safetensors');
    await writeFile(
      path,
      handMade({ w: { dtype: 'F32', shape: [3], data_offsets: [0, 8] } }, new Uint8Array(8)),
    );
    await expect(readSafetensors(path)).rejects.toThrow(
      /bad\.safetensors, field w: shape \[3\] of F32 needs 12 bytes/,
    );
    expect(() =>
      decodeSafetensors(
        handMade({ w: { dtype: 'I64', shape: [1], data_offsets: [0, 8] } }, new Uint8Array(8)),
        'x',
      ),
    ).toThrow(InputError);
    expect(() => decodeSafetensors(new Uint8Array(4), 'x')).toThrow(/shorter than/);
  });

  it('WeightReader refuses missing, mis-shaped and left-over tensors by name', () => {
    const contents = decodeSafetensors(
      encodeSafetensors({
        'layer.weight': { shape: [2, 2], data: new Float32Array(4) },
        extra: { shape: [1], data: new Float32Array(1) },
      }),
      'ckpt.safetensors',
    );
    const reader = new WeightReader(contents, 'ckpt.safetensors');
    expect(() => reader.take('layer.bias', [2])).toThrow(/tensor layer\.bias is missing/);
    expect(() => reader.take('layer.weight', [4])).toThrow(
      /tensor layer\.weight has shape \[2,2\], expected \[4\]/,
    );
    reader.take('layer.weight', [2, 2]);
    expect(() => reader.assertAllUsed()).toThrow(/unexpected tensor\(s\) extra/);
    reader.assertAllUsed((name) => name === 'extra');
  });
});
