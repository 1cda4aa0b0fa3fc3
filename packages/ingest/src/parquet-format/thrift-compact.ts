import type { ByteSink } from './byte-sink.ts';

/** Type codes of the Thrift compact protocol, as written in field headers and list headers. */
const ThriftType = {
  true: 1,
  false: 2,
  byte: 3,
  i16: 4,
  i32: 5,
  i64: 6,
  binary: 8,
  list: 9,
  struct: 12,
} as const;

const utf8 = new TextEncoder();

/** Zigzag form of a safe integer (arithmetic rather than shifts, so 64-bit fields work up to 2^53). */
function zigzag(value: number): number {
  return value >= 0 ? value * 2 : -value * 2 - 1;
}

/**
 * Writes Thrift structs in the compact protocol, which is how Parquet encodes page headers and the
 * file footer. Fields must be written in increasing id order within a struct (short field headers
 * carry the id as a delta from the previous one).
 */
export class ThriftCompactWriter {
  private lastFieldId = 0;
  private readonly enclosing: number[] = [];

  constructor(readonly sink: ByteSink) {}

  /** A top-level struct: its fields, then the stop byte. */
  message(fields: () => void): void {
    this.enter();
    fields();
    this.leave();
  }

  i32(id: number, value: number): void {
    this.fieldHeader(id, ThriftType.i32);
    this.sink.varint(zigzag(value));
  }

  i64(id: number, value: number): void {
    this.fieldHeader(id, ThriftType.i64);
    this.sink.varint(zigzag(value));
  }

  i16(id: number, value: number): void {
    this.fieldHeader(id, ThriftType.i16);
    this.sink.varint(zigzag(value));
  }

  byte(id: number, value: number): void {
    this.fieldHeader(id, ThriftType.byte);
    this.sink.byte(value & 0xff);
  }

  bool(id: number, value: boolean): void {
    this.fieldHeader(id, value ? ThriftType.true : ThriftType.false);
  }

  binary(id: number, bytes: Uint8Array): void {
    this.fieldHeader(id, ThriftType.binary);
    this.sink.varint(bytes.length);
    this.sink.append(bytes);
  }

  string(id: number, text: string): void {
    this.binary(id, utf8.encode(text));
  }

  struct(id: number, fields: () => void): void {
    this.fieldHeader(id, ThriftType.struct);
    this.enter();
    fields();
    this.leave();
  }

  i32List(id: number, values: readonly number[]): void {
    this.listHeader(id, ThriftType.i32, values.length);
    for (const value of values) this.sink.varint(zigzag(value));
  }

  stringList(id: number, values: readonly string[]): void {
    this.listHeader(id, ThriftType.binary, values.length);
    for (const value of values) {
      const bytes = utf8.encode(value);
      this.sink.varint(bytes.length);
      this.sink.append(bytes);
    }
  }

  structList<T>(id: number, items: readonly T[], fields: (item: T) => void): void {
    this.listHeader(id, ThriftType.struct, items.length);
    for (const item of items) {
      this.enter();
      fields(item);
      this.leave();
    }
  }

  private fieldHeader(id: number, type: number): void {
    const delta = id - this.lastFieldId;
    if (delta > 0 && delta <= 15) {
      this.sink.byte((delta << 4) | type);
    } else {
      this.sink.byte(type);
      this.sink.varint(zigzag(id));
    }
    this.lastFieldId = id;
  }

  private listHeader(id: number, elementType: number, size: number): void {
    this.fieldHeader(id, ThriftType.list);
    if (size < 15) {
      this.sink.byte((size << 4) | elementType);
    } else {
      this.sink.byte(0xf0 | elementType);
      this.sink.varint(size);
    }
  }

  private enter(): void {
    this.enclosing.push(this.lastFieldId);
    this.lastFieldId = 0;
  }

  private leave(): void {
    this.sink.byte(0);
    this.lastFieldId = this.enclosing.pop()!;
  }
}
