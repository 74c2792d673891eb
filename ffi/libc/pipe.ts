/**
 * A pipe that file bytes are spliced into, to be spliced on (a FUSE reply): the kernel
 * moves page references, not bytes, so a reply of cached data costs one copy instead of
 * two. Both ends are non-blocking: a fill stops when the pipe is full, never waits.
 *
 * @module
 */

import { ErrnoError, lastErrno, libc } from "./library.ts";
import type { ReadOnlyFile } from "./read_only_file.ts";
import { ERRNO, F, O } from "./linux.ts";

const SPLICE_F_NONBLOCK = 2;

/** A pipe of a chosen capacity. */
export class Pipe {
  /** Bytes it holds at most (what the kernel granted, at least what was asked). */
  readonly capacity: number;
  #read: number;
  #write: number;
  readonly #offset = new BigInt64Array(1);
  #scratch: Uint8Array | null = null;

  private constructor(read: number, write: number, capacity: number) {
    this.#read = read;
    this.#write = write;
    this.capacity = capacity;
  }

  /**
   * Makes a pipe that holds at least `capacity` bytes.
   *
   * @param capacity bytes (above `/proc/sys/fs/pipe-max-size` needs CAP_SYS_RESOURCE)
   * @returns the pipe
   * @throws {ErrnoError} when the pipe cannot be made or grown (EPERM: over the limit)
   */
  static open(capacity: number): Pipe {
    const fds = new Int32Array(2);
    if (libc().pipe2(new Uint8Array(fds.buffer), O.NONBLOCK | O.CLOEXEC) !== 0) {
      throw new ErrnoError("pipe2()", lastErrno());
    }
    const read = fds[0]!;
    const write = fds[1]!;
    const granted = libc().fcntl(write, F.SETPIPE_SZ, capacity);
    if (granted < capacity) {
      const errno = lastErrno();
      libc().close(read);
      libc().close(write);
      throw new ErrnoError(`fcntl(F_SETPIPE_SZ, ${capacity})`, errno);
    }
    return new Pipe(read, write, libc().fcntl(write, F.GETPIPE_SZ, 0));
  }

  /** The read end, for other `ffi/` modules (a FUSE reply); -1 once closed. */
  get readDescriptor(): number {
    return this.#read;
  }

  /**
   * Splices `[offset, offset + length)` of a file into the pipe.
   *
   * @param file the source
   * @param offset where in the file
   * @param length bytes wanted
   * @returns bytes now in the pipe from this call: fewer than `length` when the file
   *   ended or the pipe filled up
   * @throws {ErrnoError} when splicing fails
   */
  fill(file: ReadOnlyFile, offset: number, length: number): number {
    let done = 0;
    while (done < length) {
      this.#offset[0] = BigInt(offset + done);
      const n = Number(
        libc().splice(
          file.descriptor,
          new Uint8Array(this.#offset.buffer),
          this.#write,
          null,
          BigInt(length - done),
          SPLICE_F_NONBLOCK,
        ),
      );
      if (n < 0) {
        const errno = lastErrno();
        if (errno === ERRNO.EINTR) continue;
        if (errno === ERRNO.EAGAIN) break; // full
        throw new ErrnoError(`splice("${file.path}", ${offset + done})`, errno);
      }
      if (n === 0) break;
      done += n;
    }
    return done;
  }

  /**
   * Empties the pipe (what a failed or abandoned reply left in it).
   *
   * @returns the bytes thrown away
   */
  drain(): number {
    let dropped = 0;
    for (;;) {
      this.#scratch ??= new Uint8Array(64 * 1024);
      const n = Number(libc().read(this.#read, this.#scratch, BigInt(this.#scratch.length)));
      if (n > 0) {
        dropped += n;
        continue;
      }
      if (n < 0 && lastErrno() === ERRNO.EINTR) continue;
      return dropped; // EAGAIN: empty
    }
  }

  /** Closes both ends; idempotent. */
  close(): void {
    if (this.#read >= 0) libc().close(this.#read);
    if (this.#write >= 0) libc().close(this.#write);
    this.#read = this.#write = -1;
  }
}
