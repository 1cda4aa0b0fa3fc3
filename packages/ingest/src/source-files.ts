import { closeSync, constants, fstatSync, openSync, readSync, realpathSync } from 'node:fs';
import { basename, dirname, join, sep } from 'node:path';

/**
 * Reads files of a source folder, refusing any path or link that resolves outside it. Reads are
 * synchronous into reused buffers: a record's files are small, and both thread-pool round trips and a
 * fresh 120 kB buffer per file cost more than the reads themselves.
 */
export class SourceFiles {
  private readonly buffers: Buffer[] = [];
  /**
   * The last directory resolved and its real path: a record's header and signal files share one, so
   * each record costs one realpath rather than one per file.
   */
  private lastDirectory = '';
  private lastDirectoryReal: string | undefined;

  /** `root` must already be a real path (no links in it). */
  constructor(private readonly root: string) {}

  /**
   * The bytes of `relativePath`, or why it cannot be read. The returned view stays valid until the
   * next read into the same `slot`; callers copy what they keep.
   */
  read(relativePath: string, slot: number): Uint8Array | 'missing' | 'outside' {
    const path = join(this.root, relativePath);
    const directoryReal = this.realDirectory(dirname(path));
    if (directoryReal === undefined) return 'missing';
    let fd: number;
    try {
      // O_NOFOLLOW: a file that is itself a link fails with ELOOP and is resolved in full below, so
      // the directory's real path plus the name is the file's real path whenever the open succeeds.
      const real = `${directoryReal}${sep}${basename(path)}`;
      if (!real.startsWith(this.root + sep)) return 'outside';
      fd = openSync(real, constants.O_RDONLY | constants.O_NOFOLLOW);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') return 'missing';
      if (code !== 'ELOOP') throw error;
      let real: string;
      try {
        real = realpathSync.native(path);
      } catch {
        return 'missing';
      }
      if (!real.startsWith(this.root + sep)) return 'outside';
      fd = openSync(real, 'r');
    }
    try {
      return this.readOpen(fd, slot);
    } finally {
      closeSync(fd);
    }
  }

  private realDirectory(directory: string): string | undefined {
    if (directory !== this.lastDirectory) {
      let real: string | undefined;
      try {
        real = realpathSync.native(directory);
      } catch {
        real = undefined;
      }
      this.lastDirectory = directory;
      this.lastDirectoryReal = real;
    }
    return this.lastDirectoryReal;
  }

  private readOpen(fd: number, slot: number): Uint8Array {
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
  }
}
