/**
 * Filesystem space through `statvfs(3)`, which Deno does not expose: the size of the
 * filesystem holding a path and its free space, for the blob cache's `disk_usage` limits.
 *
 * @module
 */

import { cString, ErrnoError, lastErrno, libc } from "./library.ts";
import { readField, STATVFS } from "./structs.ts";
import { ERRNO } from "./linux.ts";

/** How many times a call interrupted by a signal is retried. */
const EINTR_RETRY_MAX = 16;

/** Space of a filesystem, in bytes. */
export interface FsSpace {
  /** The fundamental block size (`f_frsize`), the unit of the counts below. */
  readonly blockSize: number;
  /** Size of the filesystem (`f_blocks × f_frsize`). */
  readonly totalBytes: number;
  /** Free space, including the part reserved for root (`f_bfree × f_frsize`). */
  readonly freeBytes: number;
  /** Free space an unprivileged process may use (`f_bavail × f_frsize`). */
  readonly availableBytes: number;
}

// statvfs is synchronous and JS runs on one thread, so one buffer serves every call.
const BUFFER = new Uint8Array(STATVFS.size);
const VIEW = new DataView(BUFFER.buffer);
const F = STATVFS.fields;

/**
 * Space of the filesystem holding `path` (any file or directory on it).
 *
 * @param path a path on the filesystem
 * @returns its size and free space in bytes
 * @throws {ErrnoError} when the call fails, e.g. ENOENT when `path` does not exist
 * @throws {TypeError} when `path` contains NUL
 * @throws {RangeError} when a byte count is 2^53 or more
 */
export function statvfs(path: string): FsSpace {
  const pathC = cString(path);
  for (let attempt = 0;; attempt++) {
    if (libc().statvfs(pathC, BUFFER) === 0) break;
    const errno = lastErrno();
    if (errno !== ERRNO.EINTR || attempt >= EINTR_RETRY_MAX) {
      throw new ErrnoError(`statvfs("${path}")`, errno);
    }
  }
  const blockSize = readField(VIEW, F.f_frsize);
  return {
    blockSize,
    totalBytes: bytes(readField(VIEW, F.f_blocks), blockSize),
    freeBytes: bytes(readField(VIEW, F.f_bfree), blockSize),
    availableBytes: bytes(readField(VIEW, F.f_bavail), blockSize),
  };
}

function bytes(blocks: number, blockSize: number): number {
  const value = blocks * blockSize;
  if (!Number.isSafeInteger(value)) {
    throw new RangeError(`Cannot count ${blocks} blocks of ${blockSize} bytes: not a safe integer`);
  }
  return value;
}
