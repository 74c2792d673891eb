/**
 * The Linux (x86-64 and arm64) constants the bindings pass to and get from libc: one table,
 * so every module names a value the same way.
 *
 * @module
 */

/** Error numbers (`errno`). EWOULDBLOCK is EAGAIN, EOPNOTSUPP is ENOTSUP. */
export const ERRNO = {
  EPERM: 1,
  ENOENT: 2,
  EINTR: 4,
  EIO: 5,
  ENXIO: 6,
  EBADF: 9,
  EAGAIN: 11,
  EACCES: 13,
  EBUSY: 16,
  EEXIST: 17,
  ENOTDIR: 20,
  EISDIR: 21,
  EINVAL: 22,
  ENOSPC: 28,
  EROFS: 30,
  ERANGE: 34,
  ENOSYS: 38,
  ENODATA: 61,
  ENOTSUP: 95,
  ETIMEDOUT: 110,
} as const;

/** `open(2)` flags. */
export const O = {
  RDONLY: 0,
  WRONLY: 0o1,
  RDWR: 0o2,
  ACCMODE: 0o3,
  CREAT: 0o100,
  TRUNC: 0o1000,
  NONBLOCK: 0o4000,
  CLOEXEC: 0o2000000,
} as const;

/** `fcntl(2)` commands. */
export const F = {
  GETFL: 3,
  SETFL: 4,
  DUPFD_CLOEXEC: 1030,
  SETPIPE_SZ: 1031,
  GETPIPE_SZ: 1032,
} as const;

/** `poll(2)`: data to read. */
export const POLLIN = 1;
