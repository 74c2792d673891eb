/**
 * Advisory whole-file locks (`flock(2)`). The kernel drops the lock when the process
 * dies, even by SIGKILL, so a stale lock file never blocks a restart.
 *
 * @module
 */

import { cString, ErrnoError, lastErrno, libc } from "./library.ts";
import { ERRNO, O } from "./linux.ts";

const LOCK_EX = 2;
const LOCK_NB = 4;

/** A held lock; `close()` releases it. */
export interface FileLock {
  /** The lock file's path. */
  readonly path: string;
  /**
   * Replaces the lock file's content (e.g. with the owner's pid).
   *
   * @param text new content
   */
  write(text: string): void;
  /** Releases the lock. Idempotent. */
  close(): void;
}

/**
 * Takes an exclusive lock on `path` (created with mode 0644 if missing) without waiting.
 *
 * @param path the lock file
 * @returns the lock, or `null` when another open file description holds it
 * @throws {ErrnoError} when the file cannot be opened or locked for another reason
 */
export function tryLockExclusive(path: string): FileLock | null {
  const c = libc();
  const fd = c.open(cString(path), O.RDWR | O.CREAT | O.CLOEXEC, 0o644);
  if (fd < 0) throw new ErrnoError(`open("${path}")`, lastErrno());
  for (;;) {
    if (c.flock(fd, LOCK_EX | LOCK_NB) === 0) break;
    const errno = lastErrno();
    if (errno === ERRNO.EINTR) continue;
    c.close(fd);
    if (errno === ERRNO.EAGAIN) return null;
    throw new ErrnoError(`flock("${path}")`, errno);
  }
  let open = true;
  return {
    path,
    write(text: string): void {
      if (!open) throw new Error(`Lock "${path}" is closed`);
      const bytes = new TextEncoder().encode(text);
      if (c.ftruncate(fd, 0n) !== 0) throw new ErrnoError(`ftruncate("${path}")`, lastErrno());
      const n = c.pwrite(fd, bytes, BigInt(bytes.length), 0n);
      if (Number(n) !== bytes.length) throw new ErrnoError(`pwrite("${path}")`, lastErrno());
    },
    close(): void {
      if (!open) return;
      open = false;
      c.close(fd); // closing the last descriptor releases the flock
    },
  };
}
