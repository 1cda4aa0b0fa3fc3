/**
 * Hands out Int16Array views of a few large buffers, reused batch after batch: decoding a record
 * then costs no fresh 120 kB allocation, so no page faults on new memory and no external-memory
 * pressure on the garbage collector. Views stay valid until `reset()`, which the owner calls once
 * nothing refers to them any more (ingest: after a batch's waveform part is written).
 */
export class SampleArena {
  private readonly chunks: Int16Array[] = [];
  private chunk = 0;
  private used = 0;

  /** `chunkValues`: samples per buffer (default 4 Mi, 8 MB: about 70 twelve-lead 10 s records). */
  constructor(private readonly chunkValues = 1 << 22) {}

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
