/**
 * Sparse files: where a file really holds data (`lseek(2)` `SEEK_DATA`/`SEEK_HOLE`) and
 * giving space back (`fallocate(2)` `FALLOC_FL_PUNCH_HOLE`). `Deno.FsFile.seek` refuses
 * whence 3 and 4, and Deno has no fallocate, so both go through libc.
 *
 * Both functions open the path for the duration of the call: their callers use them at
 * start-up and when trimming a cache file, not on every read.
 *
 * @module
 */

import { cString, ErrnoError, lastErrno, libc } from "./library.ts";
import { ERRNO, O } from "./linux.ts";

const SEEK_DATA = 3;
const SEEK_HOLE = 4;
const FALLOC_FL_KEEP_SIZE = 0x01;
const FALLOC_FL_PUNCH_HOLE = 0x02;
/** How many times a call interrupted by a signal is retried. */
const EINTR_RETRY_MAX = 16;
/** Most data extents {@linkcode dataExtents} reports; a file with more is refused. */
export const DATA_EXTENTS_MAX = 1_000_000;

/** A half-open byte range `[start, end)` of a file. */
export type Extent = readonly [start: number, end: number];

/**
 * The parts of a file that hold data, as the filesystem reports them with `SEEK_DATA` and
 * `SEEK_HOLE` (block-granular on ext4 and tmpfs; a filesystem without hole support reports
 * the whole file as data). Unwritten (preallocated) extents count as holes on ext4.
 *
 * @param path a regular file
 * @returns the data extents in increasing order, or `null` when the file does not exist
 * @throws {ErrnoError} when the file cannot be opened or seeked (other than ENOENT)
 * @throws {RangeError} when the file has more than {@linkcode DATA_EXTENTS_MAX} extents
 * @throws {TypeError} when `path` contains NUL
 */
export function dataExtents(path: string): Extent[] | null {
  const fd = openRetrying(path, O.RDONLY);
  if (fd === null) return null;
  try {
    const extents: Extent[] = [];
    for (let offset = 0;;) {
      const start = seek(fd, offset, SEEK_DATA, path);
      if (start === null) return extents; // ENXIO: no data at or after `offset`
      const end = seek(fd, start, SEEK_HOLE, path);
      if (end === null || end <= start) {
        throw new Error(`Cannot list data of "${path}": SEEK_HOLE went backwards at ${start}`);
      }
      if (extents.length >= DATA_EXTENTS_MAX) {
        throw new RangeError(`Cannot list data of "${path}": over ${DATA_EXTENTS_MAX} extents`);
      }
      extents.push([start, end]);
      offset = end;
    }
  } finally {
    libc().close(fd);
  }
}

/**
 * Deallocates `[offset, offset + length)` of a file, keeping its size: the range reads as
 * zeros afterwards. Whole filesystem blocks inside the range are freed; the partial blocks at
 * its ends are zeroed in place.
 *
 * @param path a regular file
 * @param offset first byte
 * @param length number of bytes; 0 does nothing
 * @throws {ErrnoError} e.g. ENOENT, or EOPNOTSUPP when the filesystem cannot punch holes
 * @throws {RangeError} when `offset` or `length` is not a non-negative safe integer
 * @throws {TypeError} when `path` contains NUL
 */
export function punchHole(path: string, offset: number, length: number): void {
  for (const [name, value] of [["offset", offset], ["length", length]] as const) {
    if (!Number.isSafeInteger(value) || value < 0) {
      throw new RangeError(`Cannot punch a hole in "${path}": invalid ${name} ${value}`);
    }
  }
  if (length === 0) return;
  const fd = openRetrying(path, O.WRONLY);
  if (fd === null) throw new ErrnoError(`open("${path}")`, ERRNO.ENOENT);
  try {
    const mode = FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE;
    for (let attempt = 0;; attempt++) {
      if (libc().fallocate(fd, mode, BigInt(offset), BigInt(length)) === 0) return;
      const errno = lastErrno();
      if (errno !== ERRNO.EINTR || attempt >= EINTR_RETRY_MAX) {
        throw new ErrnoError(`fallocate("${path}", PUNCH_HOLE, ${offset}, ${length})`, errno);
      }
    }
  } finally {
    libc().close(fd);
  }
}

/** `open(path, flags | O_CLOEXEC)`; `null` on ENOENT. */
function openRetrying(path: string, flags: number): number | null {
  const pathC = cString(path);
  for (let attempt = 0;; attempt++) {
    const fd = libc().open(pathC, flags | O.CLOEXEC, 0);
    if (fd >= 0) return fd;
    const errno = lastErrno();
    if (errno === ERRNO.ENOENT) return null;
    if (errno !== ERRNO.EINTR || attempt >= EINTR_RETRY_MAX) {
      throw new ErrnoError(`open("${path}")`, errno);
    }
  }
}

/** `lseek(fd, offset, whence)`; `null` on ENXIO (no data / past the end). */
function seek(fd: number, offset: number, whence: number, path: string): number | null {
  const result = Number(libc().lseek(fd, BigInt(offset), whence));
  if (result >= 0) return result;
  const errno = lastErrno();
  if (errno === ERRNO.ENXIO) return null;
  const name = whence === SEEK_DATA ? "SEEK_DATA" : "SEEK_HOLE";
  throw new ErrnoError(`lseek("${path}", ${offset}, ${name})`, errno);
}
