/**
 * Hands out Int16Array views of reused buffers: decoding a record then costs no fresh 120 kB
 * allocation, so no page faults on new memory and no external-memory pressure on the garbage
 * collector. Views stay valid until `reset()`, which the owner calls once nothing refers to them any
 * more (ingest: after each record, once the waveform writer has encoded it, so every record decodes
 * into the same memory, still in the CPU cache).
 */
export class SampleArena {
  private readonly chunks: Int16Array[] = [];
  private chunk = 0;
  private used = 0;

  /** `chunkValues`: samples per buffer (default 256 Ki, 512 kB: four twelve-lead 10 s records). */
  constructor(private readonly chunkValues = 1 << 18) {}

  /** A view of `length` samples, contents unspecified (the caller overwrites every one). */
  allocate = (length: number): Int16Array => {
    if (length > this.chunkValues) return new Int16Array(length);
    let current = this.chunks[this.chunk];
    if (current !== undefined && this.used + length > current.length) {
      this.chunk++;
      this.used = 0;
      current = this.chunks[this.chunk];
    }
    if (current === undefined) {
      current = new Int16Array(this.chunkValues);
      this.chunks.push(current);
    }
    const view = current.subarray(this.used, this.used + length);
    this.used += length;
    return view;
  };

  /** Makes every buffer available again; views handed out before must no longer be used. */
  reset(): void {
    this.chunk = 0;
    this.used = 0;
  }
}
