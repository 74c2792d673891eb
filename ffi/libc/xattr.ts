/**
 * Extended attributes (`xattr(7)`), which Deno and `node:fs` do not expose. Every call uses
 * the `l*` variant, so a symlink is never followed: its own attributes are read or written.
 * On Linux, `user.*` attributes exist only on regular files and directories; setting one
 * on a symlink fails with EPERM.
 *
 * @module
 */

import { cString, ErrnoError, lastErrno, libc } from "./library.ts";
import { ERRNO } from "./linux.ts";

const XATTR_CREATE = 1;
const XATTR_REPLACE = 2;
/** How many times a read is retried when the value grows between size probe and read. */
const XATTR_READ_RETRY_MAX = 4;

/**
 * A read first tries this buffer, so a small value costs one syscall and one copy; a larger
 * one is sized with a probe. Calls are synchronous on one thread, so one buffer serves all.
 */
const SCRATCH = new Uint8Array(1024);
const SCRATCH_SIZE = BigInt(SCRATCH.length);
const ENCODER = new TextEncoder();
const DECODER = new TextDecoder();

/** `"create"` fails with EEXIST if the name exists; `"replace"` with ENODATA if it does not. */
export type XattrFlag = "create" | "replace";

/**
 * Reads an extended attribute of `path` itself (a symlink is not followed).
 *
 * @param path the file
 * @param name the attribute, e.g. `"user.realize.mark"`
 * @returns a copy of the value, or `null` when the attribute is absent (ENODATA) or the
 *   filesystem has no xattrs (ENOTSUP; also the answer for an unknown namespace)
 * @throws {ErrnoError} for other failures, including ENOENT when `path` does not exist:
 *   the caller decides what a missing file means
 * @throws {TypeError} when `path` or `name` contains NUL
 */
export function getXattr(path: string, name: string): Uint8Array | null {
  const c = libc();
  const pathC = cString(path);
  const nameC = cString(name);
  const result = readSized((buffer, size) => Number(c.lgetxattr(pathC, nameC, buffer, size)));
  if (typeof result !== "number") return result;
  if (result === ERRNO.ENODATA || result === ERRNO.ENOTSUP) return null;
  throw new ErrnoError(`lgetxattr("${path}", "${name}")`, result);
}

/**
 * Sets an extended attribute of `path` itself (a symlink is not followed).
 *
 * @param path the file
 * @param name the attribute, e.g. `"user.realize.mark"`
 * @param value the value; a string is stored as UTF-8 without a trailing NUL
 * @param flags `"create"` or `"replace"`; by default the attribute is created or replaced
 * @throws {ErrnoError} e.g. EEXIST (`"create"`), ENODATA (`"replace"`), ENOTSUP (no xattrs
 *   on this filesystem or namespace), EPERM (`user.*` on a symlink), ENOSPC/E2BIG (too big),
 *   ENOENT
 * @throws {TypeError} when `path` or `name` contains NUL
 */
export function setXattr(
  path: string,
  name: string,
  value: Uint8Array | string,
  flags?: XattrFlag,
): void {
  const bytes = typeof value === "string" ? ENCODER.encode(value) : value;
  const mode = flags === undefined ? 0 : flags === "create" ? XATTR_CREATE : XATTR_REPLACE;
  const c = libc();
  if (c.lsetxattr(cString(path), cString(name), bytes, BigInt(bytes.length), mode) !== 0) {
    throw new ErrnoError(`lsetxattr("${path}", "${name}")`, lastErrno());
  }
}

/**
 * Removes an extended attribute of `path` itself (a symlink is not followed).
 *
 * @param path the file
 * @param name the attribute
 * @returns `true` if it was removed, `false` if it was absent (ENODATA)
 * @throws {ErrnoError} for other failures, e.g. ENOENT or ENOTSUP
 * @throws {TypeError} when `path` or `name` contains NUL
 */
export function removeXattr(path: string, name: string): boolean {
  const c = libc();
  if (c.lremovexattr(cString(path), cString(name)) === 0) return true;
  const errno = lastErrno();
  if (errno === ERRNO.ENODATA) return false;
  throw new ErrnoError(`lremovexattr("${path}", "${name}")`, errno);
}

/**
 * Lists the extended attribute names of `path` itself (a symlink is not followed). Only
 * names the caller may read are listed (`trusted.*` needs CAP_SYS_ADMIN). Names are decoded
 * as UTF-8; invalid bytes become U+FFFD.
 *
 * @param path the file
 * @returns the names, in the filesystem's order; `[]` when the filesystem has no xattrs
 *   (ENOTSUP)
 * @throws {ErrnoError} for other failures, e.g. ENOENT
 * @throws {TypeError} when `path` contains NUL
 */
export function listXattr(path: string): string[] {
  const c = libc();
  const pathC = cString(path);
  const result = readSized((buffer, size) => Number(c.llistxattr(pathC, buffer, size)));
  if (typeof result === "number") {
    if (result === ERRNO.ENOTSUP) return [];
    throw new ErrnoError(`llistxattr("${path}")`, result);
  }
  // "a\0b\0" → ["a", "b", ""]: every name ends with NUL.
  const names = DECODER.decode(result).split("\0");
  names.pop();
  return names;
}

/**
 * Runs a `(buffer, size) → length | -1` call the xattr way: into `SCRATCH` first; on
 * ERANGE, probe the size with `(null, 0)`, read into a buffer that big, and retry if the
 * value grew in between.
 *
 * @param read the FFI call; it must make no other FFI call, so errno is still its own
 * @returns the bytes (a fresh array), or the errno that stopped the read
 */
function readSized(read: (buffer: Uint8Array | null, size: bigint) => number): Uint8Array | number {
  const first = read(SCRATCH, SCRATCH_SIZE);
  if (first >= 0) return SCRATCH.slice(0, first);
  let errno = lastErrno();
  for (let attempt = 0; errno === ERRNO.ERANGE && attempt < XATTR_READ_RETRY_MAX; attempt++) {
    const size = read(null, 0n);
    if (size < 0) return lastErrno();
    if (size === 0) return new Uint8Array(0); // size 0 would be a probe, not a read
    const buffer = new Uint8Array(size);
    const length = read(buffer, BigInt(size));
    if (length >= 0) return length === size ? buffer : buffer.slice(0, length);
    errno = lastErrno();
  }
  return errno;
}
