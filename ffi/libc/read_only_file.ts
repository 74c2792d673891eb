/**
 * A file read by descriptor: `pread` in one call (no seek), and a close that runs off the
 * JS thread. The last close of a deleted file frees its blocks, in the caller: for a
 * 512 MiB blob that took 300 ms, a stall the FUSE worker must not take.
 *
 * @module
 */

import { cString, ErrnoError, lastErrno, libc } from "./library.ts";
import { ERRNO, O } from "./linux.ts";

/** A file open for reading. */
export class ReadOnlyFile {
  readonly path: string;
  #fd: number;

  private constructor(path: string, fd: number) {
    this.path = path;
    this.#fd = fd;
  }

  /**
   * Opens a file for reading.
   *
   * @param path the file
   * @returns the file
   * @throws {ErrnoError} when it cannot be opened (ENOENT when it does not exist)
   */
  static open(path: string): ReadOnlyFile {
    const fd = libc().open(cString(path), O.RDONLY | O.CLOEXEC, 0);
    if (fd < 0) throw new ErrnoError(`open("${path}")`, lastErrno());
    return new ReadOnlyFile(path, fd);
  }

  /** The descriptor, for other `ffi/` modules (`Pipe.fill`); -1 once closed. */
  get descriptor(): number {
    return this.#fd;
  }

  /**
   * Reads at an offset until `buffer` is full or the file ends.
   *
   * @param buffer where the bytes go
   * @param offset where in the file
   * @returns the bytes read: fewer than `buffer.length` only at the end of the file
   * @throws {ErrnoError} when a read fails
   * @throws {Error} when the file is closed
   */
  pread(buffer: Uint8Array, offset: number): number {
    if (this.#fd < 0) throw new Error(`Cannot read "${this.path}": closed`);
    let done = 0;
    while (done < buffer.length) {
      const part = buffer.subarray(done);
      const n = Number(libc().pread(this.#fd, part, BigInt(part.length), BigInt(offset + done)));
      if (n < 0) {
        const errno = lastErrno();
        if (errno === ERRNO.EINTR) continue;
        throw new ErrnoError(`pread("${this.path}", ${offset + done})`, errno);
      }
      if (n === 0) break;
      done += n;
    }
    return done;
  }

  /**
   * Closes the file on another thread; idempotent.
   *
   * @returns settles when it is closed (errors are of no use then, and ignored)
   */
  close(): Promise<void> {
    const fd = this.#fd;
    this.#fd = -1;
    if (fd < 0) return Promise.resolve();
    return libc().close_nonblocking(fd).then(() => {});
  }
}
