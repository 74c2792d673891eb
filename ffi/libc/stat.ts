/**
 * `lstat` with nanosecond timestamps, through `statx(2)`. `Deno.lstat` and `node:fs` round
 * mtimes to milliseconds, which is too coarse to notice a rewrite within the same
 * millisecond.
 *
 * @module
 */

import { cString, ErrnoError, lastErrno, libc } from "./library.ts";
import { readField, STATX } from "./structs.ts";
import { ERRNO } from "./linux.ts";

const AT_FDCWD = -100;
const AT_SYMLINK_NOFOLLOW = 0x100;
const AT_STATX_SYNC_AS_STAT = 0x0;
/** `STATX_TYPE | MODE | NLINK | UID | GID | ATIME | MTIME | CTIME | INO | SIZE | BLOCKS`. */
const STATX_BASIC_STATS = 0x7ff;
/** The `STATX_BASIC_STATS` bits `FileStat` needs: all but `STATX_ATIME` (0x20). */
const STATX_NEEDED = STATX_BASIC_STATS & ~0x20;
const S_IFMT = 0o170000;
const S_IFREG = 0o100000;
const S_IFDIR = 0o040000;
const S_IFLNK = 0o120000;

/** What a path names. `"other"` covers fifos, sockets and devices. */
export type FileKind = "file" | "dir" | "symlink" | "other";

/** What `lstat` reports: the `struct statx` basic fields, as plain numbers. */
export interface FileStat {
  /** The file type, from `mode`. */
  readonly kind: FileKind;
  /** `st_mode`: type bits (`S_IFMT`) and permission bits. */
  readonly mode: number;
  /**
   * The device, encoded from `stx_dev_major`/`stx_dev_minor` as glibc's `makedev` does, so it
   * equals `st_dev` and `Deno.lstat().dev`. Equal devices give equal numbers.
   */
  readonly dev: number;
  /** Inode number (a safe integer). */
  readonly ino: number;
  /** Hard link count. */
  readonly nlink: number;
  /** Owner user id. */
  readonly uid: number;
  /** Owner group id. */
  readonly gid: number;
  /** Size in bytes; for a symlink, the length of its target. */
  readonly size: number;
  /** Allocated space in 512-byte units. */
  readonly blocks: number;
  /** Modification time, whole seconds since the epoch (floor, so negative before 1970). */
  readonly mtimeSecs: number;
  /** Modification time, nanoseconds past `mtimeSecs` (0 to 999,999,999). */
  readonly mtimeNsecs: number;
  /** Status change time, whole seconds since the epoch. */
  readonly ctimeSecs: number;
  /** Status change time, nanoseconds past `ctimeSecs`. */
  readonly ctimeNsecs: number;
}

// statx is synchronous and JS runs on one thread, so one buffer serves every call.
const BUFFER = new Uint8Array(STATX.size);
const VIEW = new DataView(BUFFER.buffer);
const F = STATX.fields;

/**
 * Status of `path` itself: a symlink is reported, not followed.
 *
 * @param path the path
 * @returns its status, or `null` when it does not exist (ENOENT, or ENOTDIR: a parent is
 *   not a directory)
 * @throws {ErrnoError} for any other failure, e.g. EACCES or ENAMETOOLONG
 * @throws {TypeError} when `path` contains NUL
 * @throws {Error} when the filesystem does not report a basic field
 */
export function lstat(path: string): FileStat | null {
  const flags = AT_SYMLINK_NOFOLLOW | AT_STATX_SYNC_AS_STAT;
  const result = libc().statx(AT_FDCWD, cString(path), flags, STATX_BASIC_STATS, BUFFER);
  if (result !== 0) {
    const errno = lastErrno();
    if (errno === ERRNO.ENOENT || errno === ERRNO.ENOTDIR) return null;
    throw new ErrnoError(`statx("${path}")`, errno);
  }
  const mask = readField(VIEW, F.stx_mask);
  if ((mask & STATX_NEEDED) !== STATX_NEEDED) {
    const missing = (STATX_NEEDED & ~mask).toString(16);
    throw new Error(`Cannot stat "${path}": the filesystem left out statx fields 0x${missing}`);
  }
  const mode = readField(VIEW, F.stx_mode);
  return {
    kind: kindOf(mode),
    mode,
    dev: makedev(readField(VIEW, F.stx_dev_major), readField(VIEW, F.stx_dev_minor)),
    ino: readField(VIEW, F.stx_ino),
    nlink: readField(VIEW, F.stx_nlink),
    uid: readField(VIEW, F.stx_uid),
    gid: readField(VIEW, F.stx_gid),
    size: readField(VIEW, F.stx_size),
    blocks: readField(VIEW, F.stx_blocks),
    mtimeSecs: readField(VIEW, F.stx_mtime_sec),
    mtimeNsecs: readField(VIEW, F.stx_mtime_nsec),
    ctimeSecs: readField(VIEW, F.stx_ctime_sec),
    ctimeNsecs: readField(VIEW, F.stx_ctime_nsec),
  };
}

function kindOf(mode: number): FileKind {
  switch (mode & S_IFMT) {
    case S_IFREG:
      return "file";
    case S_IFDIR:
      return "dir";
    case S_IFLNK:
      return "symlink";
    default:
      return "other";
  }
}

/**
 * glibc's `gnu_dev_makedev`: `((major & 0xfffff000) << 32) | ((major & 0xfff) << 8) |
 * ((minor & 0xffffff00) << 12) | (minor & 0xff)`, in float arithmetic (the parts do not
 * overlap, so `+` is `|`). Linux majors have 12 bits and minors 20, so the result is small.
 */
function makedev(major: number, minor: number): number {
  const high = (major & 0xfffff000) >>> 0;
  const middle = (minor & 0xffffff00) >>> 0;
  const dev = high * 0x1_0000_0000 + middle * 0x1000 + ((major & 0xfff) << 8) + (minor & 0xff);
  if (!Number.isSafeInteger(dev)) {
    throw new RangeError(`Cannot encode device ${major}:${minor} as a safe integer`);
  }
  return dev;
}
