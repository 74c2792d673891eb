/**
 * A libfuse3 low-level session driven from JavaScript (deno-systems.md §1a):
 *
 * - the request loop is ours, on the JS thread: the device is non-blocking; requests are
 *   read (`fuse_session_receive_buf`) and dispatched (`fuse_session_process_buf`, which
 *   calls the operation's callback before it returns) while they keep coming, and only
 *   when none has come for a moment does the loop wait in `poll` off the thread. A
 *   `threadSafe` callback per request (libfuse's own loop on another thread) cost two
 *   thread hand-offs per request: about 100 µs, most of a lookup;
 * - each operation's callback copies its arguments (pointers are valid only during the
 *   call), hands them to a handler and returns;
 * - the handler replies later, exactly once, through a {@linkcode FuseReply} (a second
 *   reply is a bug; see `FuseReply`);
 * - unmounting follows the order that never leaves a client hanging: exit, umount2,
 *   wait for the loop, then unmount and destroy the session.
 *
 * Nothing outside `ffi/` sees a pointer: handlers get numbers, strings and byte arrays.
 *
 * @module
 */

import { cString, cStringScratch, ErrnoError, lastErrno, libc } from "../libc/library.ts";
import type { Pipe } from "../libc/pipe.ts";
import type { ReadOnlyFile } from "../libc/read_only_file.ts";
import { closeBacking, isInit, openBacking, processInit, replyPassthrough } from "./passthrough.ts";
import { MNT, umount } from "../libc/mount.ts";
import { writeField } from "../libc/structs.ts";
import { fuse3 } from "./library.ts";
import {
  CONN_INFO,
  ENTRY_PARAM,
  FILE_INFO,
  FILE_INFO_BITS,
  FUSE_ARGS,
  FUSE_BUF,
  FUSE_BUFVEC,
  LOWLEVEL_OPS,
  STAT,
} from "./structs.ts";
import { ERRNO, F, O, POLLIN } from "../libc/linux.ts";

const NAME_MAX = 4096;
/**
 * The largest read request: 512 KiB, not the 1 MiB libfuse allows, because a reply must
 * fit in a pipe (1 MiB at most without CAP_SYS_RESOURCE, with room for its header) to be
 * spliced rather than copied.
 */
export const READ_BYTES_MAX = 512 * 1024;
const FUSE_CAP_SPLICE_WRITE = 1 << 7;
const FUSE_CAP_SPLICE_MOVE = 1 << 8;
const FUSE_BUF_IS_FD = 1 << 1;
/**
 * How long the loop keeps reading after the last request before it waits in `poll`: a
 * program making calls one after another (`ls -l`, `find`) sends its next request soon,
 * and catching it here saves a thread hand-off (100–200 µs on a VM). After a listing the
 * kernel first builds an inode per entry: 50 µs let `find`'s next request fall into
 * `poll` (a listing's closing empty request took 230 µs); 250 µs: `find` 0.48 → 0.33 s of
 * 20,000 files, the status xattr 17 → 22k/s, cold reads unchanged. An idle mount spins
 * 250 µs after its last request, then waits.
 */
const SPIN_MS = 0.25;
/** Most time spent serving without a turn of the event loop (async replies, messages). */
const BURST_MS = 5;
/** How often an idle loop looks whether the session was told to exit. */
const IDLE_POLL_MS = 500;

/** A timestamp. */
export interface Timespec {
  readonly secs: number;
  readonly nsecs: number;
}

/** File attributes (a `struct stat`). */
export interface Attr {
  readonly ino: number;
  /** Type and permission bits (`S_IFREG | 0o644`). */
  readonly mode: number;
  readonly nlink: number;
  readonly uid: number;
  readonly gid: number;
  readonly size: number;
  readonly mtime: Timespec;
}

/** What `lookup` answers. */
export interface EntryOut {
  readonly attr: Attr;
  /** Seconds the kernel may cache the attributes. */
  readonly attrTimeout: number;
  /** Seconds the kernel may cache the name → inode mapping (also a negative answer). */
  readonly entryTimeout: number;
}

/** What `open`/`opendir` answer. */
export interface OpenOut {
  readonly fh: number;
  /** Keep the page cache between opens (content did not change). */
  readonly keepCache?: boolean;
  /** Bypass the page cache. */
  readonly directIo?: boolean;
}

/** One entry for `readdir`. */
export interface DirEntryOut {
  readonly name: string;
  readonly ino: number;
  /** Type bits (`S_IFDIR`, `S_IFREG`). */
  readonly mode: number;
  /** Offset of the next entry. */
  readonly next: number;
}

/** One entry for `readdirplus`: a `readdir` entry with what a lookup of it answers. */
export interface DirPlusEntryOut {
  readonly name: string;
  readonly entry: EntryOut;
  /** Offset of the next entry. */
  readonly next: number;
}

/** What `statfs` answers. */
export interface StatfsOut {
  readonly bsize: number;
  readonly blocks: number;
  readonly bfree: number;
  readonly bavail: number;
  readonly files: number;
  readonly ffree: number;
  readonly namemax: number;
}

/** The reply to one request: exactly one method is called, once. */
export class FuseReply {
  #req: Deno.PointerValue;
  #sent = false;
  readonly #onSent: () => void;
  readonly #session: () => { device: number; passthrough: boolean };

  /** @internal */
  constructor(
    req: Deno.PointerValue,
    onSent: () => void,
    session: () => { device: number; passthrough: boolean } = () => ({
      device: -1,
      passthrough: false,
    }),
  ) {
    this.#req = req;
    this.#onSent = onSent;
    this.#session = session;
  }

  /** Whether {@linkcode FuseReply.openPassthrough} can be tried (the kernel agreed at INIT). */
  get passthrough(): boolean {
    return this.#session().passthrough;
  }

  /**
   * Answers an open with passthrough: the kernel reads the backing file itself, and no
   * read of this open file reaches the filesystem (see `passthrough.ts`).
   *
   * @param fh the file handle
   * @param backing the backing file (it may be closed once this returns), or the id an
   *   earlier open of the same file got (one id may serve many opens)
   * @returns the backing id, to give to {@linkcode FuseReply.closeBacking} once no open
   *   file uses it; or `null`, with nothing sent, when the session has no passthrough or
   *   the kernel refuses the file (then answer with {@linkcode FuseReply.open})
   */
  openPassthrough(fh: number, backing: ReadOnlyFile | number): number | null {
    if (this.#sent) throw new Error("FUSE request answered twice (a bug)");
    const s = this.#session();
    if (!s.passthrough) return null;
    const id = typeof backing === "number" ? backing : openBacking(s.device, backing);
    if (id === null) return null;
    if (!replyPassthrough(this.#req, s.device, fh, id)) {
      if (typeof backing !== "number") closeBacking(s.device, id);
      return null;
    }
    this.#sent = true;
    this.#onSent();
    return id;
  }

  /**
   * Unregisters a backing file no open file uses any more (before answering a release).
   *
   * @param id what {@linkcode FuseReply.openPassthrough} returned
   */
  closeBacking(id: number): void {
    const s = this.#session();
    if (s.device >= 0) closeBacking(s.device, id);
  }

  /** Whether a reply was sent. */
  get sent(): boolean {
    return this.#sent;
  }

  #take(): Deno.PointerValue {
    if (this.#sent) throw new Error("FUSE request answered twice (a bug)");
    this.#sent = true;
    this.#onSent();
    return this.#req;
  }

  /** @param errno a positive errno (0: success without data) */
  err(errno: number): void {
    fuse3().fuse_reply_err(this.#take(), errno);
  }

  /** No reply (forget). */
  none(): void {
    fuse3().fuse_reply_none(this.#take());
  }

  /** @param e the entry */
  entry(e: EntryOut): void {
    const buf = new Uint8Array(ENTRY_PARAM.size);
    writeEntryParam(entryParamViews(buf), e);
    fuse3().fuse_reply_entry(this.#take(), buf);
  }

  /** A negative lookup the kernel may cache for `timeout` seconds. */
  noEntry(timeout: number): void {
    const buf = new Uint8Array(ENTRY_PARAM.size); // ino 0: "does not exist"
    writeField(new DataView(buf.buffer), ENTRY_PARAM.fields.entry_timeout, timeout);
    fuse3().fuse_reply_entry(this.#take(), buf);
  }

  /** @param a attributes @param timeout seconds they may be cached */
  attr(a: Attr, timeout: number): void {
    const buf = new Uint8Array(STAT.size);
    writeStat(new DataView(buf.buffer), a);
    fuse3().fuse_reply_attr(this.#take(), buf, timeout);
  }

  /** @param o the open file */
  open(o: OpenOut): void {
    const buf = new Uint8Array(FILE_INFO.size);
    const view = new DataView(buf.buffer);
    writeField(view, FILE_INFO.fields.fh, o.fh);
    const bits = (o.keepCache === true ? FILE_INFO_BITS.keepCache : 0) |
      (o.directIo === true ? FILE_INFO_BITS.directIo : 0);
    writeField(view, FILE_INFO.fields.bits, bits);
    fuse3().fuse_reply_open(this.#take(), buf);
  }

  /** @param bytes the data (a read, an xattr value) */
  buf(bytes: Uint8Array): void {
    fuse3().fuse_reply_buf(this.#take(), bytes as Uint8Array<ArrayBuffer>, BigInt(bytes.length));
  }

  /**
   * Replies with the `length` bytes waiting in `pipe` (a read): libfuse splices them into
   * the device when the kernel allows it, else reads them. Whatever is left in the pipe
   * afterwards (the request was interrupted) is thrown away.
   *
   * @param pipe holds exactly the reply's bytes
   * @param length how many
   */
  pipe(pipe: Pipe, length: number): void {
    const view = new DataView(BUFVEC.buffer);
    writeField(view, FUSE_BUFVEC.fields.count, 1);
    writeField(view, FUSE_BUFVEC.fields.idx, 0);
    writeField(view, FUSE_BUFVEC.fields.off, 0);
    const buf = FUSE_BUFVEC.fields.buf[0];
    view.setBigUint64(buf + FUSE_BUF.fields.size[0], BigInt(length), true);
    view.setUint32(buf + FUSE_BUF.fields.flags[0], FUSE_BUF_IS_FD, true);
    view.setBigUint64(buf + FUSE_BUF.fields.mem[0], 0n, true);
    view.setInt32(buf + FUSE_BUF.fields.fd[0], pipe.readDescriptor, true);
    view.setBigInt64(buf + FUSE_BUF.fields.pos[0], 0n, true);
    try {
      fuse3().fuse_reply_data(this.#take(), BUFVEC, 0);
    } finally {
      pipe.drain();
    }
  }

  /** @param size the size of an xattr value or list (answer to a size probe) */
  xattrSize(size: number): void {
    fuse3().fuse_reply_xattr(this.#take(), BigInt(size));
  }

  /** @param s filesystem statistics */
  statfs(s: StatfsOut): void {
    const buf = new Uint8Array(112); // struct statvfs
    const v = new DataView(buf.buffer);
    const put = (off: number, n: number) =>
      v.setBigUint64(off, BigInt(Math.max(0, Math.trunc(n))), true);
    put(0, s.bsize);
    put(8, s.bsize);
    put(16, s.blocks);
    put(24, s.bfree);
    put(32, s.bavail);
    put(40, s.files);
    put(48, s.ffree);
    put(56, s.ffree);
    put(80, s.namemax);
    fuse3().fuse_reply_statfs(this.#take(), buf);
  }

  /**
   * Replies to `readdir` with as many entries as fit in `size` bytes.
   *
   * @param entries entries from the requested offset on
   * @param size the buffer size the kernel asked for
   * @returns how many entries were sent
   */
  dir(entries: readonly DirEntryOut[], size: number): number {
    const st = new Uint8Array(STAT.size);
    const stView = new DataView(st.buffer);
    return this.#listing(entries, size, (req, rest, e) => {
      writeField(stView, STAT.fields.st_ino, e.ino);
      writeField(stView, STAT.fields.st_mode, e.mode);
      const name = cStringScratch(e.name);
      return fuse3().fuse_add_direntry(req, rest, BigInt(rest.length), name, st, BigInt(e.next));
    });
  }

  /**
   * Replies to `readdirplus` with as many entries as fit in `size` bytes. Each one sent
   * counts as a lookup of its inode for the kernel (it forgets it later).
   *
   * @param entries entries from the requested offset on
   * @param size the buffer size the kernel asked for
   * @returns how many entries were sent
   */
  dirPlus(entries: readonly DirPlusEntryOut[], size: number): number {
    const param = new Uint8Array(ENTRY_PARAM.size); // each entry writes the same fields
    const views = entryParamViews(param);
    return this.#listing(entries, size, (req, rest, e) => {
      writeEntryParam(views, e.entry);
      const name = cStringScratch(e.name);
      const next = BigInt(e.next);
      return fuse3().fuse_add_direntry_plus(req, rest, BigInt(rest.length), name, param, next);
    });
  }

  /** Adds entries while they fit (`add` returns the size an entry needs), then replies. */
  #listing<E>(
    entries: readonly E[],
    size: number,
    add: (req: Deno.PointerValue, rest: Uint8Array, e: E) => number | bigint,
  ): number {
    const req = this.#take();
    const buf = new Uint8Array(size);
    let used = 0;
    let sent = 0;
    for (const e of entries) {
      const rest = buf.subarray(used);
      const need = Number(add(req, rest, e));
      if (need > rest.length) break;
      used += need;
      sent++;
    }
    fuse3().fuse_reply_buf(req, buf.subarray(0, used), BigInt(used));
    return sent;
  }
}

/** Views of a `struct fuse_entry_param`'s bytes: the whole and its `struct stat`. */
interface EntryParamViews {
  readonly param: DataView;
  readonly stat: DataView;
}

function entryParamViews(buf: Uint8Array): EntryParamViews {
  return {
    param: new DataView(buf.buffer, buf.byteOffset, buf.byteLength),
    stat: new DataView(buf.buffer, buf.byteOffset + ENTRY_PARAM.fields.attr[0], STAT.size),
  };
}

/** Fills a `struct fuse_entry_param` (zeroed: `generation` stays 0). */
function writeEntryParam(views: EntryParamViews, e: EntryOut): void {
  writeField(views.param, ENTRY_PARAM.fields.ino, e.attr.ino);
  writeField(views.param, ENTRY_PARAM.fields.attr_timeout, e.attrTimeout);
  writeField(views.param, ENTRY_PARAM.fields.entry_timeout, e.entryTimeout);
  writeStat(views.stat, e.attr);
}

function writeStat(view: DataView, a: Attr): void {
  const f = STAT.fields;
  writeField(view, f.st_ino, a.ino);
  writeField(view, f.st_mode, a.mode);
  writeField(view, f.st_nlink, a.nlink);
  writeField(view, f.st_uid, a.uid);
  writeField(view, f.st_gid, a.gid);
  writeField(view, f.st_size, a.size);
  writeField(view, f.st_blksize, 4096);
  writeField(view, f.st_blocks, Math.ceil(a.size / 512));
  for (const [s, n] of STAT_TIMES) {
    writeField(view, s, a.mtime.secs);
    writeField(view, n, a.mtime.nsecs);
  }
}

/** A `struct stat`'s three times, each seconds and nanoseconds (all show the mtime). */
const STAT_TIMES = [
  [STAT.fields.st_atim_sec, STAT.fields.st_atim_nsec],
  [STAT.fields.st_mtim_sec, STAT.fields.st_mtim_nsec],
  [STAT.fields.st_ctim_sec, STAT.fields.st_ctim_nsec],
] as const;

/** The operations a filesystem implements; each must reply exactly once, now or later. */
export interface FuseHandlers {
  lookup(r: FuseReply, parent: number, name: string): void;
  forget(ino: number, nlookup: number): void;
  getattr(r: FuseReply, ino: number): void;
  /** `write`: the file is opened for writing (or with O_TRUNC). */
  open(r: FuseReply, ino: number, write: boolean): void;
  read(r: FuseReply, ino: number, size: number, offset: number, fh: number): void;
  release(r: FuseReply, ino: number, fh: number): void;
  opendir(r: FuseReply, ino: number): void;
  readdir(r: FuseReply, ino: number, size: number, offset: number, fh: number): void;
  /**
   * `readdir` with each entry's attributes (then the kernel needs no lookup per entry);
   * when present, libfuse offers it and the kernel uses it when a listing is followed by
   * `stat`s (`ls -l`).
   */
  readdirplus?(r: FuseReply, ino: number, size: number, offset: number, fh: number): void;
  releasedir(r: FuseReply, ino: number, fh: number): void;
  statfs(r: FuseReply, ino: number): void;
  setxattr(r: FuseReply, ino: number, name: string, value: Uint8Array, flags: number): void;
  getxattr(r: FuseReply, ino: number, name: string, size: number): void;
  listxattr(r: FuseReply, ino: number, size: number): void;
  removexattr(r: FuseReply, ino: number, name: string): void;
}

/** Options of {@linkcode FuseSession.mount}. */
export interface MountOptions {
  /** Shown in /proc/mounts. */
  readonly fsname: string;
  /** Let other users see the mount (root, or `user_allow_other` in /etc/fuse.conf). */
  readonly allowOther?: boolean;
  /** Negotiate passthrough when the kernel offers it (default true). */
  readonly passthrough?: boolean;
}

type Cb = Deno.UnsafeCallback<Deno.UnsafeCallbackDefinition>;

const NAME_DECODER = new TextDecoder("utf-8", { fatal: true });

function readName(p: Deno.PointerValue): string | null {
  if (p === null) return null;
  // One call for the length (a loop of byte reads cost a lookup ~3 µs), one copy.
  const n = Number(libc().strnlen(p, BigInt(NAME_MAX)));
  if (n === 0) return "";
  try {
    return NAME_DECODER.decode(new Uint8Array(Deno.UnsafePointerView.getArrayBuffer(p, n)));
  } catch {
    return null; // not UTF-8: cannot be a realize path
  }
}

function fileInfo(p: Deno.PointerValue): { flags: number; fh: number } {
  if (p === null) return { flags: 0, fh: 0 };
  const view = new Deno.UnsafePointerView(p);
  return {
    flags: view.getInt32(FILE_INFO.fields.flags[0]),
    fh: Number(view.getBigUint64(FILE_INFO.fields.fh[0])),
  };
}

/** The one `struct fuse_bufvec` of pipe replies (they are made one at a time, on this thread). */
const BUFVEC = new Uint8Array(FUSE_BUFVEC.size);

/** A mounted FUSE filesystem. */
export class FuseSession {
  readonly mountpoint: string;
  /** Settles when the request loop ends: 0, or a negative errno from reading the device. */
  readonly done: Promise<number>;
  /**
   * Settles once the kernel's INIT request has been answered: from then on the mount
   * serves requests, and settings the reply would overwrite (the device's read-ahead)
   * can be made. Rejects if the loop ends first.
   */
  readonly initialized: Promise<void>;
  #se: Deno.PointerValue;
  readonly #callbacks: Cb[];
  readonly #keep: Uint8Array[];
  #pending = 0;
  #drained: (() => void) | null = null;
  #device = -1;
  #passthrough = false;
  #sawInit = false;
  #wantPassthrough = true;
  #unmounting: Promise<void> | null = null;
  /** Notifications sent and not yet returned (each on a thread of its own), with the
   * buffer each reads, kept alive until then. */
  readonly #notifying = new Map<Promise<number>, Uint8Array | null>();

  private constructor(
    mountpoint: string,
    se: Deno.PointerValue,
    callbacks: Cb[],
    keep: Uint8Array[],
    init: Promise<void>,
  ) {
    this.mountpoint = mountpoint;
    this.#se = se;
    this.#callbacks = callbacks;
    this.#keep = keep;
    this.done = this.#serve(se);
    this.initialized = Promise.race([
      init,
      this.done.then((code) => {
        throw new Error(`the FUSE session on "${mountpoint}" ended before INIT (${code})`);
      }),
    ]);
    this.initialized.catch(() => {}); // callers that never wait must not see it unhandled
  }

  /** The request loop (see the module's description); settles with 0, or a -errno. */
  async #serve(se: Deno.PointerValue): Promise<number> {
    const fd = fuse3().fuse_session_fd(se);
    this.#device = fd;
    libc().fcntl(fd, F.SETFL, libc().fcntl(fd, F.GETFL, 0) | O.NONBLOCK);
    const buf = new Uint8Array(FUSE_BUF.size); // zeroed: libfuse allocates `mem`
    const pollfd = new Uint8Array(8); // struct pollfd { int fd; short events, revents; }
    new DataView(pollfd.buffer).setInt32(0, fd, true);
    new DataView(pollfd.buffer).setInt16(4, POLLIN, true);
    let waitMs = 0;
    try {
      for (;;) {
        // A turn of the event loop: replies and messages that came meanwhile go first.
        await libc().poll(pollfd, 1n, waitMs);
        if (fuse3().fuse_session_exited(se) !== 0) return 0;
        const started = performance.now();
        let last = started;
        waitMs = IDLE_POLL_MS;
        for (;;) {
          const n = fuse3().fuse_session_receive_buf(se, buf);
          const now = performance.now();
          if (n > 0) {
            if (!this.#sawInit && this.#wantPassthrough && isInit(buf)) {
              this.#sawInit = true;
              this.#passthrough = processInit(se, buf, fd);
            } else fuse3().fuse_session_process_buf(se, buf);
            last = now;
          } else if (n === 0 || fuse3().fuse_session_exited(se) !== 0) {
            return 0; // unmounted (ENODEV) or told to exit
          } else if (n !== -ERRNO.EAGAIN && n !== -ERRNO.EINTR) {
            return n;
          } else if (now - last >= SPIN_MS) break;
          if (now - started >= BURST_MS) {
            waitMs = 0; // still busy: take a turn of the event loop, then carry on
            break;
          }
        }
      }
    } finally {
      const mem = new DataView(buf.buffer).getBigUint64(FUSE_BUF.fields.mem[0], true);
      if (mem !== 0n) libc().free(Deno.UnsafePointer.create(mem));
    }
  }

  /** Whether opens may be answered with passthrough (the kernel agreed at INIT). */
  get passthrough(): boolean {
    return this.#passthrough;
  }

  /** The FUSE device's descriptor (a process-wide number; -1 before the loop runs). */
  get device(): number {
    return this.#device;
  }

  /** Requests not answered yet. */
  get pending(): number {
    return this.#pending;
  }

  /**
   * Mounts a filesystem and starts serving it.
   *
   * @param mountpoint an existing empty directory
   * @param handlers the operations
   * @param options name and visibility
   * @returns the session
   * @throws {Error} when libfuse cannot create the session or mount (with the cause)
   */
  static mount(mountpoint: string, handlers: FuseHandlers, options: MountOptions): FuseSession {
    const holder: { session: FuseSession | null } = { session: null };
    const reply = (req: Deno.PointerValue) => {
      const s = holder.session;
      if (s !== null) s.#pending++;
      return new FuseReply(
        req,
        () => s === null ? undefined : s.#answered(),
        () =>
          s === null
            ? { device: -1, passthrough: false }
            : { device: s.#device, passthrough: s.#passthrough },
      );
    };
    const init = Promise.withResolvers<void>();
    const { ops, callbacks } = makeOps(handlers, reply, init.resolve);
    const opts =
      `fsname=${options.fsname},subtype=realize,default_permissions,max_read=${READ_BYTES_MAX}` +
      (options.allowOther === true ? ",allow_other" : "");
    const argv = ["realize", "-o", opts].map(cString);
    const argvPtrs = new BigUint64Array(argv.length + 1);
    argv.forEach((a, i) =>
      argvPtrs[i] = BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(a)))
    );
    const args = new Uint8Array(FUSE_ARGS.size);
    const view = new DataView(args.buffer);
    writeField(view, FUSE_ARGS.fields.argc, argv.length);
    view.setBigUint64(
      FUSE_ARGS.fields.argv[0],
      BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(argvPtrs))),
      true,
    );
    const se = fuse3().fuse_session_new(args, ops, BigInt(LOWLEVEL_OPS.size), null);
    if (se === null) {
      callbacks.forEach((c) => c.close());
      throw new Error(
        `Cannot create a FUSE session for "${mountpoint}" (libfuse rejected the options)`,
      );
    }
    if (fuse3().fuse_session_mount(se, cString(mountpoint)) !== 0) {
      fuse3().fuse_session_destroy(se);
      callbacks.forEach((c) => c.close());
      throw new Error(`Cannot mount FUSE on "${mountpoint}" (see the libfuse message above)`);
    }
    const session = new FuseSession(mountpoint, se, callbacks, [
      ops,
      args,
      ...argv,
      new Uint8Array(argvPtrs.buffer),
    ], init.promise);
    session.#wantPassthrough = options.passthrough ?? true;
    holder.session = session;
    return session;
  }

  #answered(): void {
    this.#pending--;
    if (this.#pending === 0) this.#drained?.();
  }

  /**
   * Drops the kernel's cached attributes and data of an inode. Sent from another thread
   * and not awaited by the loop: the kernel may hold it until a pending read of the inode
   * is answered, which this thread does meanwhile.
   *
   * @param ino the inode
   * @returns 0, or a negative errno (-ENOENT: the kernel did not know it)
   */
  invalidateInode(ino: number): Promise<number> {
    if (this.#se === null || this.#unmounting !== null) return Promise.resolve(0);
    return this.#notify(
      fuse3().fuse_lowlevel_notify_inval_inode(this.#se, BigInt(ino), 0n, 0n),
    );
  }

  /**
   * Drops the kernel's cached lookup of `name` in `parent` (from another thread, as
   * {@linkcode invalidateInode}: the kernel takes the directory's lock for it).
   *
   * @param parent the directory's inode
   * @param name the entry's name
   * @returns 0, or a negative errno
   */
  invalidateEntry(parent: number, name: string): Promise<number> {
    if (this.#se === null || this.#unmounting !== null) return Promise.resolve(0);
    const bytes = cString(name);
    const sent = fuse3().fuse_lowlevel_notify_inval_entry(
      this.#se,
      BigInt(parent),
      bytes,
      BigInt(bytes.length - 1),
    );
    return this.#notify(sent, bytes);
  }

  #notify(sent: Promise<number>, keep: Uint8Array | null = null): Promise<number> {
    this.#notifying.set(sent, keep);
    return sent.finally(() => this.#notifying.delete(sent));
  }

  /**
   * Unmounts: waits (at most `drainMs`) for pending replies, leaves the loop, unmounts
   * with umount2 (lazily if the mount is busy), waits for the loop, then frees the session.
   *
   * @param drainMs how long to wait for pending replies
   */
  unmount(drainMs = 2000): Promise<void> {
    this.#unmounting ??= this.#unmount(drainMs);
    return this.#unmounting;
  }

  async #unmount(drainMs: number): Promise<void> {
    if (this.#pending > 0) {
      await Promise.race([
        new Promise<void>((r) => this.#drained = r),
        new Promise((r) => setTimeout(r, drainMs)),
      ]);
    }
    // Notifications still out are answered while the loop runs (it serves the requests
    // they may wait for); one still out after that keeps the session from being freed.
    if (this.#notifying.size > 0) {
      await Promise.race([
        Promise.allSettled(this.#notifying.keys()),
        new Promise((r) => setTimeout(r, drainMs)),
      ]);
    }
    const se = this.#se;
    fuse3().fuse_session_exit(se);
    try {
      umount(this.mountpoint);
    } catch (error) {
      if (!(error instanceof ErrnoError)) throw error;
      umount(this.mountpoint, MNT.DETACH); // busy: detach, the loop ends with its last user
    }
    await this.done;
    fuse3().fuse_session_unmount(se);
    if (this.#notifying.size === 0) fuse3().fuse_session_destroy(se); // else leaked, not freed under use
    this.#se = null;
    for (const c of this.#callbacks) c.close();
    this.#keep.length = 0;
  }
}

/**
 * Closes the FUSE device of a session whose serving thread is gone (a Worker that died):
 * the kernel then aborts the connection, so every request waiting on it, and every later
 * one, fails with ENOTCONN instead of hanging for good. Nothing may use the session after.
 *
 * @param device {@linkcode FuseSession.device}, passed on by the dead thread
 */
export function abortDevice(device: number): void {
  if (device >= 0) libc().close(device);
}

function makeOps(
  h: FuseHandlers,
  reply: (req: Deno.PointerValue) => FuseReply,
  initialized: () => void,
): { ops: Uint8Array; callbacks: Cb[] } {
  const ops = new Uint8Array(LOWLEVEL_OPS.size);
  const view = new DataView(ops.buffer);
  const callbacks: Cb[] = [];
  // Arguments arrive as pointers (PointerValue) and numbers/bigints per the definition.
  // deno-lint-ignore no-explicit-any
  type Fn = (...args: any[]) => void;
  const slot = (
    name: keyof typeof LOWLEVEL_OPS.fields,
    def: Deno.UnsafeCallbackDefinition,
    fn: Fn,
  ) => {
    // Called on this thread, from `fuse_session_process_buf` in the request loop.
    const cb = new Deno.UnsafeCallback(def, fn as Deno.UnsafeCallbackFunction);
    callbacks.push(cb as unknown as Cb);
    view.setBigUint64(
      LOWLEVEL_OPS.fields[name][0],
      BigInt(Deno.UnsafePointer.value(cb.pointer)),
      true,
    );
  };
  const guard = (r: FuseReply, fn: () => void) => {
    try {
      fn();
    } catch (error) {
      // deno-lint-ignore no-console
      console.error("realize: FUSE handler threw (a bug):", error);
      if (!r.sent) r.err(ERRNO.EIO);
    }
  };
  const erofs = (req: Deno.PointerValue) => reply(req).err(ERRNO.EROFS);
  const p = "pointer" as const;
  const u64 = "u64" as const;
  // libfuse calls it while answering INIT; the reply is sent before the loop yields.
  slot("init", { parameters: [p, p], result: "void" }, (_userdata, conn) => {
    if (conn !== null) {
      // Replies from a pipe (`FuseReply.pipe`) are spliced into the device, not copied.
      const info = new Deno.UnsafePointerView(conn);
      const capable = info.getUint32(CONN_INFO.fields.capable[0]);
      const want = info.getUint32(CONN_INFO.fields.want[0]) |
        (capable & (FUSE_CAP_SPLICE_WRITE | FUSE_CAP_SPLICE_MOVE));
      const out = new DataView(Deno.UnsafePointerView.getArrayBuffer(conn, CONN_INFO.size));
      out.setUint32(CONN_INFO.fields.want[0], want, true);
      out.setUint32(CONN_INFO.fields.max_read[0], READ_BYTES_MAX, true); // as mounted
    }
    initialized();
  });
  slot("lookup", { parameters: [p, u64, p], result: "void" }, (req, parent, name) => {
    const r = reply(req);
    const n = readName(name);
    guard(r, () => n === null ? r.err(ERRNO.EINVAL) : h.lookup(r, Number(parent), n));
  });
  slot("forget", { parameters: [p, u64, u64], result: "void" }, (req, ino, n) => {
    h.forget(Number(ino), Number(n));
    reply(req).none();
  });
  slot("forget_multi", { parameters: [p, "usize", p], result: "void" }, (req, count, data) => {
    if (data !== null) {
      const v = new Deno.UnsafePointerView(data);
      for (let i = 0; i < Number(count); i++) {
        h.forget(Number(v.getBigUint64(i * 16)), Number(v.getBigUint64(i * 16 + 8)));
      }
    }
    reply(req).none();
  });
  slot("getattr", { parameters: [p, u64, p], result: "void" }, (req, ino) => {
    const r = reply(req);
    guard(r, () => h.getattr(r, Number(ino)));
  });
  slot("open", { parameters: [p, u64, p], result: "void" }, (req, ino, fi) => {
    const r = reply(req);
    const flags = fileInfo(fi).flags;
    const write = (flags & O.ACCMODE) !== 0 || (flags & O.TRUNC) !== 0;
    guard(r, () => h.open(r, Number(ino), write));
  });
  slot(
    "read",
    { parameters: [p, u64, "usize", "i64", p], result: "void" },
    (req, ino, size, off, fi) => {
      const r = reply(req);
      const fh = fileInfo(fi).fh;
      guard(r, () => h.read(r, Number(ino), Number(size), Number(off), fh));
    },
  );
  slot("release", { parameters: [p, u64, p], result: "void" }, (req, ino, fi) => {
    const r = reply(req);
    const fh = fileInfo(fi).fh;
    guard(r, () => h.release(r, Number(ino), fh));
  });
  slot("opendir", { parameters: [p, u64, p], result: "void" }, (req, ino) => {
    const r = reply(req);
    guard(r, () => h.opendir(r, Number(ino)));
  });
  slot(
    "readdir",
    { parameters: [p, u64, "usize", "i64", p], result: "void" },
    (req, ino, size, off, fi) => {
      const r = reply(req);
      const fh = fileInfo(fi).fh;
      guard(r, () => h.readdir(r, Number(ino), Number(size), Number(off), fh));
    },
  );
  const plus = h.readdirplus?.bind(h);
  if (plus !== undefined) {
    slot(
      "readdirplus",
      { parameters: [p, u64, "usize", "i64", p], result: "void" },
      (req, ino, size, off, fi) => {
        const r = reply(req);
        const fh = fileInfo(fi).fh;
        guard(r, () => plus(r, Number(ino), Number(size), Number(off), fh));
      },
    );
  }
  slot("releasedir", { parameters: [p, u64, p], result: "void" }, (req, ino, fi) => {
    const r = reply(req);
    const fh = fileInfo(fi).fh;
    guard(r, () => h.releasedir(r, Number(ino), fh));
  });
  slot("statfs", { parameters: [p, u64], result: "void" }, (req, ino) => {
    const r = reply(req);
    guard(r, () => h.statfs(r, Number(ino)));
  });
  slot(
    "setxattr",
    { parameters: [p, u64, p, p, "usize", "i32"], result: "void" },
    (req, ino, name, value, size, flags) => {
      const r = reply(req);
      const n = readName(name);
      const bytes = value === null || Number(size) === 0
        ? new Uint8Array(0)
        : new Uint8Array(new Deno.UnsafePointerView(value).getArrayBuffer(Number(size))).slice();
      guard(
        r,
        () => n === null ? r.err(ERRNO.EINVAL) : h.setxattr(r, Number(ino), n, bytes, flags),
      );
    },
  );
  slot("getxattr", { parameters: [p, u64, p, "usize"], result: "void" }, (req, ino, name, size) => {
    const r = reply(req);
    const n = readName(name);
    guard(r, () => n === null ? r.err(ERRNO.EINVAL) : h.getxattr(r, Number(ino), n, Number(size)));
  });
  slot("listxattr", { parameters: [p, u64, "usize"], result: "void" }, (req, ino, size) => {
    const r = reply(req);
    guard(r, () => h.listxattr(r, Number(ino), Number(size)));
  });
  slot("removexattr", { parameters: [p, u64, p], result: "void" }, (req, ino, name) => {
    const r = reply(req);
    const n = readName(name);
    guard(r, () => n === null ? r.err(ERRNO.EINVAL) : h.removexattr(r, Number(ino), n));
  });
  // Everything that would write: this mount is read-only (writes go through the overlay).
  slot("setattr", { parameters: [p, u64, p, "i32", p], result: "void" }, (req) => erofs(req));
  slot("mknod", { parameters: [p, u64, p, "u32", u64], result: "void" }, (req) => erofs(req));
  slot("mkdir", { parameters: [p, u64, p, "u32"], result: "void" }, (req) => erofs(req));
  slot("unlink", { parameters: [p, u64, p], result: "void" }, (req) => erofs(req));
  slot("rmdir", { parameters: [p, u64, p], result: "void" }, (req) => erofs(req));
  slot("symlink", { parameters: [p, p, u64, p], result: "void" }, (req) => erofs(req));
  slot("rename", { parameters: [p, u64, p, u64, p, "u32"], result: "void" }, (req) => erofs(req));
  slot("link", { parameters: [p, u64, u64, p], result: "void" }, (req) => erofs(req));
  slot(
    "write",
    { parameters: [p, u64, p, "usize", "i64", p], result: "void" },
    (req) => erofs(req),
  );
  slot("create", { parameters: [p, u64, p, "u32", p], result: "void" }, (req) => erofs(req));
  return { ops, callbacks };
}

/** Re-exported so callers need not import libc for errors. */
export { ErrnoError, lastErrno };
