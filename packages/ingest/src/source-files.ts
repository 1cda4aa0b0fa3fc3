import { closeSync, fstatSync, openSync, readSync, realpathSync } from 'node:fs';
import { join, sep } from 'node:path';

/**
 * Reads files of a source folder, refusing any path or link that resolves outside it. Reads are
 * synchronous into reused buffers: a record's files are small, and both thread-pool round trips and a
 * fresh 120 kB buffer per file cost more than the reads themselves.
 */
export class SourceFiles {
  private readonly buffers: Buffer[] = [];

  /** `root` must already be a real path (no links in it). */
  constructor(private readonly root: string) {}

  /**
   * The bytes of `relativePath`, or why it cannot be read. The returned view stays valid until the
   * next read into the same `slot`; callers copy what they keep.
   */
  read(relativePath: string, slot: number): Uint8Array | 'missing' | 'outside' {
    let real: string;
    try {
      real = realpathSync.native(join(this.root, relativePath));
    } catch {
      return 'missing';
    }
    if (!real.startsWith(this.root + sep)) return 'outside';
    const fd = openSync(real, 'r');
    try {
      const size = fstatSync(fd).size;
      let buffer = this.buffers[slot];
      if (buffer === undefined || buffer.length < size) {
        // Unpooled, so the view starts at offset 0 and 16-bit samples can be viewed in place.
        buffer = Buffer.allocUnsafeSlow(Math.max(size, 256 * 1024));
        this.buffers[slot] = buffer;
      }
      let filled = 0;
      while (filled < size) {
        const read = readSync(fd, buffer, filled, size - filled, filled);
        if (read === 0) break;
        filled += read;
      }
      return buffer.subarray(0, filled);
    } finally {
      closeSync(fd);
    }
  }
}
