import { describe, expect, it } from 'vitest';
import { ByteSink } from '../src/parquet-format/byte-sink.ts';
import { LevelRuns, writeDeltaBinaryPacked } from '../src/parquet-format/encodings.ts';
import { ThriftCompactWriter } from '../src/parquet-format/thrift-compact.ts';

const hex = (sink: ByteSink) => Buffer.from(sink.written()).toString('hex');

describe('DELTA_BINARY_PACKED', () => {
  const encode = (values: number[]) => {
    const sink = new ByteSink(16);
    writeDeltaBinaryPacked(sink, Int32Array.from(values), values.length);
    return hex(sink);
  };

  it('encodes the examples of Parquet Encodings.md byte for byte', () => {
    // 1..5: block size 128 (0x80 0x01), 4 miniblocks, 5 values, first 1 (zigzag 2); min delta 1
    // (zigzag 2) and every miniblock 0 bits wide, so no miniblock bodies.
    expect(encode([1, 2, 3, 4, 5])).toBe('80010405020200000000');
    // 7 5 3 1 2 3 4 5: deltas -2 -2 -2 1 1 1 1, min -2 (zigzag 3), relative 0 0 0 3 3 3 3 at 2 bits:
    // one 32-value miniblock of 8 bytes, least significant bits first (0xc0 0x3f ...).
    expect(encode([7, 5, 3, 1, 2, 3, 4, 5])).toBe('800104080e0302000000c03f000000000000');
  });

  it('round-trips any 32-bit values, and int16 samples at every length around block boundaries', () => {
    let state = 7;
    const next = () => {
      state = (Math.imul(state, 1103515245) + 12345) >>> 0;
      return state;
    };
    const wide = Int32Array.from({ length: 1000 }, (_, i) =>
      i % 7 === 0 ? [2147483647, -2147483648, 0][i % 3]! : next() | 0,
    );
    const sink = new ByteSink(16);
    writeDeltaBinaryPacked(sink, wide, wide.length);
    expect(decodeDeltaBinaryPacked(sink.written())).toEqual(Array.from(wide));
    const samples = Int32Array.from({ length: 5003 }, (_, i) =>
      i % 50 === 0 ? -32768 : i % 77 === 0 ? 32767 : ((next() % 600) - 300) | 0,
    );
    // Short last blocks and miniblocks of every size (the kernel pads them), and the full array.
    for (const length of [2, 3, 32, 33, 34, 64, 97, 128, 129, 130, 200, 256, 257, 258, 5003]) {
      const part = samples.subarray(0, length);
      const encoded = new ByteSink(16);
      writeDeltaBinaryPacked(encoded, part, length);
      expect(decodeDeltaBinaryPacked(encoded.written())).toEqual(Array.from(part));
    }
  });

  it('writes no blocks for zero or one value', () => {
    expect(encode([])).toBe('80010400' + '00');
    expect(encode([-3])).toBe('8001040105');
  });
});

describe('RLE levels', () => {
  it('merges adjacent runs of one value and writes each as (count << 1, value)', () => {
    const sink = new ByteSink(4);
    const runs = new LevelRuns(sink, 2);
    runs.add(2, 3);
    runs.add(2, 2);
    runs.add(1, 1);
    runs.add(0, 0);
    runs.add(2, 200);
    runs.finish();
    // 5 x 2, 1 x 1, 200 x 2 (count 400 as a two-byte varint 0x90 0x03).
    expect(hex(sink)).toBe('0a020201900302');
  });
});

describe('Thrift compact protocol', () => {
  it('writes short and long field headers, strings, lists and nested structs', () => {
    const sink = new ByteSink(4);
    const thrift = new ThriftCompactWriter(sink);
    thrift.message(() => {
      thrift.i32(1, 1);
      thrift.string(2, 'ab');
      thrift.i32List(4, [1, 2]);
      thrift.i64(20, -1); // id jump of 16: long form (type byte, zigzag id)
      thrift.struct(21, () => thrift.bool(1, true));
    });
    expect(hex(sink)).toBe(`1502${'18026162'}${'29250204'}${'062801'}${'1c1100'}00`);
  });
});

/** A straightforward reader of DELTA_BINARY_PACKED (Encodings.md), to check the writer against. */
function decodeDeltaBinaryPacked(bytes: Uint8Array): number[] {
  let at = 0;
  const varint = () => {
    let value = 0;
    let scale = 1;
    for (;;) {
      const byte = bytes[at++]!;
      value += (byte & 0x7f) * scale;
      if (byte < 0x80) return value;
      scale *= 128;
    }
  };
  const unzigzag = (value: number) => (value % 2 === 0 ? value / 2 : -(value + 1) / 2);
  const blockSize = varint();
  const miniblocks = varint();
  const count = varint();
  const values = [unzigzag(varint())];
  const perMiniblock = blockSize / miniblocks;
  while (values.length < count) {
    const minDelta = unzigzag(varint());
    const widths = Array.from(bytes.subarray(at, at + miniblocks));
    at += miniblocks;
    for (const width of widths) {
      if (values.length >= count) break;
      for (let i = 0; i < perMiniblock; i++) {
        let relative = 0;
        for (let bit = 0; bit < width; bit++) {
          const position = i * width + bit;
          relative += ((bytes[at + (position >> 3)]! >> (position & 7)) & 1) * 2 ** bit;
        }
        // Deltas wrap in 32 bits, so the sums do too.
        if (values.length < count) values.push((values.at(-1)! + minDelta + relative) | 0);
      }
      at += (perMiniblock * width) / 8;
    }
  }
  return values;
}
