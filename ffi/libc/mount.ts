/**
 * mount(2) and umount2(2): overlayfs mounts, and unmounting FUSE in the order that does
 * not hang clients (deno-systems.md §1a).
 *
 * @module
 */

import { cString, ErrnoError, lastErrno, libc } from "./library.ts";
import { ERRNO } from "./linux.ts";

/** umount2 flags. */
export const MNT = { FORCE: 1, DETACH: 2 } as const;

/**
 * Mounts a filesystem.
 *
 * @param source e.g. `overlay`
 * @param target the mountpoint
 * @param fstype e.g. `overlay`
 * @param options the data string, e.g. `lowerdir=…,upperdir=…,workdir=…`
 * @throws {ErrnoError} naming the call and the errno (EINVAL for a refused option set)
 */
export function mount(source: string, target: string, fstype: string, options: string): void {
  const r = libc().mount(cString(source), cString(target), cString(fstype), 0n, cString(options));
  if (r !== 0) throw new ErrnoError(`mount(${fstype} on "${target}", "${options}")`, lastErrno());
}

/**
 * Unmounts a filesystem.
 *
 * @param target the mountpoint
 * @param flags {@linkcode MNT} flags
 * @returns `unmounted`, or `not-mounted` when nothing is mounted there (EINVAL/ENOENT)
 * @throws {ErrnoError} for other failures (EBUSY: in use)
 */
export function umount(target: string, flags = 0): "unmounted" | "not-mounted" {
  if (libc().umount2(cString(target), flags) === 0) return "unmounted";
  const errno = lastErrno();
  if (errno === ERRNO.EINVAL || errno === ERRNO.ENOENT) return "not-mounted";
  throw new ErrnoError(`umount2("${target}", ${flags})`, errno);
}

/**
 * The device of the filesystem mounted at a path (`major:minor`, as `/sys/class/bdi/`
 * names its backing device), from `/proc/self/mountinfo`.
 *
 * @param target an absolute path
 * @returns e.g. `0:39`, or `null` when nothing is mounted there
 */
export function mountDevice(target: string): string | null {
  return mountInfo(target)?.device ?? null;
}

/**
 * Whether a path is a mountpoint (listed in `/proc/self/mountinfo`).
 *
 * @param target an absolute path
 * @returns the filesystem type mounted there, or `null`
 */
export function mountedAt(target: string): string | null {
  return mountInfo(target)?.fstype ?? null;
}

/** The last mount at `target` (the one on top): its type and device. */
function mountInfo(target: string): { fstype: string | null; device: string } | null {
  const text = Deno.readTextFileSync("/proc/self/mountinfo");
  let found: { fstype: string | null; device: string } | null = null;
  for (const line of text.split("\n")) {
    const fields = line.split(" ");
    const point = fields[4]?.replace(/\\040/g, " ").replace(/\\011/g, "\t").replace(/\\134/g, "\\");
    if (point !== target) continue;
    const dash = fields.indexOf("-");
    found = { fstype: dash >= 0 ? fields[dash + 1] ?? null : null, device: fields[2] ?? "" };
  }
  return found;
}
