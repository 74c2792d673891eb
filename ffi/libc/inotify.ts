/**
 * inotify(7), non-blocking: events are read synchronously on the JS thread (where errno
 * can be read), and waiting for them is a `poll(2)` that runs off the JS thread as a
 * `nonblocking` FFI call. An eventfd in the same poll wakes the waiter on `close()`.
 *
 * Why not `Deno.watchFs`: measured on Deno 2.9.6, once a FIFO is created inside a
 * watched tree it delivers no further events at all (its watcher thread blocks opening
 * the FIFO), and it reports xattr changes as plain `modify` and renames as three
 * loosely related events.
 *
 * @module
 */

import { cString, ErrnoError, lastErrno, libc } from "./library.ts";
import { ERRNO, POLLIN } from "./linux.ts";

/** Event bits (`<sys/inotify.h>`). */
export const IN = {
  ACCESS: 0x1,
  MODIFY: 0x2,
  ATTRIB: 0x4,
  CLOSE_WRITE: 0x8,
  CLOSE_NOWRITE: 0x10,
  OPEN: 0x20,
  MOVED_FROM: 0x40,
  MOVED_TO: 0x80,
  CREATE: 0x100,
  DELETE: 0x200,
  DELETE_SELF: 0x400,
  MOVE_SELF: 0x800,
  UNMOUNT: 0x2000,
  Q_OVERFLOW: 0x4000,
  IGNORED: 0x8000,
  ONLYDIR: 0x1000000,
  DONT_FOLLOW: 0x2000000,
  EXCL_UNLINK: 0x4000000,
  ISDIR: 0x40000000,
} as const;

const IN_NONBLOCK = 0o4000;
const IN_CLOEXEC = 0o2000000;
const EFD_NONBLOCK = 0o4000;
const EFD_CLOEXEC = 0o2000000;
/** struct inotify_event: wd i32 @0, mask u32 @4, cookie u32 @8, len u32 @12, name @16. */
const EVENT_HEADER = 16;
/** Room for many events per read (each is 16 bytes plus a padded name). */
const READ_BUFFER = 256 * 1024;

/** One inotify event. */
export interface InotifyEvent {
  /** Watch descriptor the event is about (-1 for a queue overflow). */
  readonly wd: number;
  /** Event bits ({@linkcode IN}). */
  readonly mask: number;
  /** Pairs `MOVED_FROM` with `MOVED_TO`. */
  readonly cookie: number;
  /** Name of the entry inside the watched directory; `""` for the directory itself. */
  readonly name: string;
}

/** Thrown when the per-user inotify watch limit is reached. */
export class WatchLimitReached extends ErrnoError {
  override name = "WatchLimitReached";
}

const decoder = new TextDecoder();

/** An inotify instance. */
export class Inotify {
  readonly #fd: number;
  readonly #wakeFd: number;
  readonly #buffer = new Uint8Array(READ_BUFFER);
  // struct pollfd { int fd; short events; short revents; } × 2
  readonly #pollfds = new Uint8Array(16);
  #closed = false;
  #waiting: Promise<number> | null = null;

  /**
   * Creates the instance.
   *
   * @throws {ErrnoError} when inotify or eventfd cannot be created
   */
  constructor() {
    const c = libc();
    this.#fd = c.inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (this.#fd < 0) throw new ErrnoError("inotify_init1()", lastErrno());
    this.#wakeFd = c.eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (this.#wakeFd < 0) {
      const errno = lastErrno();
      c.close(this.#fd);
      throw new ErrnoError("eventfd()", errno);
    }
    const view = new DataView(this.#pollfds.buffer);
    view.setInt32(0, this.#fd, true);
    view.setInt16(4, POLLIN, true);
    view.setInt32(8, this.#wakeFd, true);
    view.setInt16(12, POLLIN, true);
  }

  /**
   * Watches a directory (never following a symlink).
   *
   * @param path absolute path of a directory
   * @param mask event bits
   * @returns the watch descriptor, or `null` when the path is gone or not a directory
   * @throws {WatchLimitReached} when the watch limit is reached
   * @throws {ErrnoError} for other failures
   */
  addWatch(path: string, mask: number): number | null {
    const wd = libc().inotify_add_watch(
      this.#fd,
      cString(path),
      mask | IN.ONLYDIR | IN.DONT_FOLLOW,
    );
    if (wd >= 0) return wd;
    const errno = lastErrno();
    if (errno === ERRNO.ENOENT || errno === ERRNO.ENOTDIR) return null;
    const call = `inotify_add_watch("${path}")`;
    if (errno === ERRNO.ENOSPC) throw new WatchLimitReached(call, errno);
    throw new ErrnoError(call, errno);
  }

  /**
   * Stops watching. Errors (an already removed watch) are ignored.
   *
   * @param wd a watch descriptor
   */
  removeWatch(wd: number): void {
    libc().inotify_rm_watch(this.#fd, wd);
  }

  /**
   * Reads the events that are ready, without waiting.
   *
   * @returns the events, possibly none
   * @throws {ErrnoError} when reading fails
   */
  read(): InotifyEvent[] {
    const c = libc();
    const events: InotifyEvent[] = [];
    for (;;) {
      const n = Number(c.read(this.#fd, this.#buffer, BigInt(this.#buffer.length)));
      if (n < 0) {
        const errno = lastErrno();
        if (errno === ERRNO.EAGAIN) return events;
        if (errno === ERRNO.EINTR) continue;
        throw new ErrnoError("read(inotify)", errno);
      }
      parse(this.#buffer.subarray(0, n), events);
      if (n < this.#buffer.length - 4096) return events; // drained
    }
  }

  /**
   * Waits until events are ready, `close()` is called, or the timeout passes.
   *
   * @param timeoutMs most time to wait
   * @returns true when events may be ready
   */
  async wait(timeoutMs: number): Promise<boolean> {
    if (this.#closed) return false;
    this.#waiting = libc().poll(this.#pollfds, 2n, timeoutMs);
    const n = await this.#waiting;
    this.#waiting = null;
    if (this.#closed) return false;
    return n > 0 && (new DataView(this.#pollfds.buffer).getInt16(6, true) & POLLIN) !== 0;
  }

  /** Wakes a waiter and releases the descriptors once no poll uses them. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const one = new Uint8Array(8);
    one[0] = 1;
    libc().write(this.#wakeFd, one, 8n);
    await this.#waiting;
    libc().close(this.#fd);
    libc().close(this.#wakeFd);
  }
}

function parse(bytes: Uint8Array, out: InotifyEvent[]): void {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let at = 0;
  while (at + EVENT_HEADER <= bytes.length) {
    const len = view.getUint32(at + 12, true);
    const nameBytes = bytes.subarray(at + EVENT_HEADER, at + EVENT_HEADER + len);
    const end = nameBytes.indexOf(0);
    out.push({
      wd: view.getInt32(at, true),
      mask: view.getUint32(at + 4, true),
      cookie: view.getUint32(at + 8, true),
      name: decoder.decode(end < 0 ? nameBytes : nameBytes.subarray(0, end)),
    });
    at += EVENT_HEADER + len;
  }
}
