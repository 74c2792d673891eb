/**
 * Safe wrappers over the libc calls Deno does not expose. Nothing outside `ffi/` sees
 * a pointer.
 *
 * @module
 */

export { ErrnoError, strerror } from "./library.ts";
export { type FileLock, tryLockExclusive } from "./flock.ts";
