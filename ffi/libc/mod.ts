/**
 * Safe wrappers over the libc calls Deno does not expose. Nothing outside `ffi/` sees
 * a pointer.
 *
 * @module
 */

export { ErrnoError, strerror } from "./library.ts";
export { ERRNO } from "./linux.ts";
export { type FileLock, tryLockExclusive } from "./flock.ts";
export { type FileKind, type FileStat, lstat } from "./stat.ts";
export { getXattr, listXattr, removeXattr, setXattr, type XattrFlag } from "./xattr.ts";
export { DATA_EXTENTS_MAX, dataExtents, type Extent, punchHole } from "./sparse.ts";
export { type FsSpace, statvfs } from "./statvfs.ts";
export { IN, Inotify, type InotifyEvent, WatchLimitReached } from "./inotify.ts";
export { MNT, mount, mountDevice, mountedAt, umount } from "./mount.ts";
export { Pipe } from "./pipe.ts";
export { ReadOnlyFile } from "./read_only_file.ts";
