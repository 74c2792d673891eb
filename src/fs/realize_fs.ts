/**
 * The realize filesystem (DESIGN §4.4), as FUSE handlers. It runs in the FUSE worker with
 * its own database connections: lookups, attributes, listings, local file reads and xattrs
 * never wait for the main thread. Reads of remote content go to `remoteRead`, which the
 * main thread answers from the blob cache or the peers.
 *
 * Every handler replies exactly once: the work happens in `#run`, whose `finally` answers
 * EIO (and logs) if a code path forgot to.
 *
 * @module
 */

import type { Attr as FuseAttr, FuseHandlers, FuseReply } from "../../ffi/fuse3/mod.ts";
import { type Pipe, ReadOnlyFile } from "../../ffi/libc/mod.ts";
import { clearMark, type Database, getMark, markFor, ROOT_INODE, setMark } from "../storage/mod.ts";
import { type ArenaName, ByteRange, Hash, isMark, type Mark, type Path } from "../types/mod.ts";
import {
  type Attr,
  cachedOf,
  type DirEntry,
  fileStatusText,
  type Filesystem,
  nodeByIno,
  type Versioned,
} from "../unreal/mod.ts";
import { logger } from "../util/mod.ts";
import type { CachedReads } from "./cached_reads.ts";
import { ERRNO, errnoOf, FsError } from "./errno.ts";
import { CHUNK_BYTES, READ_AHEAD_CHUNKS } from "./remote_reader.ts";

const log = logger("fuse");
const ENCODER = new TextEncoder();

/** The xattrs realize shows (DESIGN §4.4). */
export const XATTR = {
  mark: "user.realize.mark",
  status: "user.realize.status",
  version: "user.realize.version",
} as const;
const XATTR_PREFIX = "user.realize.";

const S_IFDIR = 0o040000;
const S_IFREG = 0o100000;
const READDIR_BATCH = 256;
/** How long opening a file whose version is still pending waits for its hash. */
export const PENDING_WAIT_MS = 10_000;
/** Most files open at once through the mount. */
export const OPEN_FILES_MAX = 65_536;
/**
 * How often a file read from the blob cache here tells the main thread it is in use (the
 * blob's LRU position, and its handle there stays open).
 */
export const TOUCH_INTERVAL_MS = 1000;
/** How far ahead of a sequential reader served from the cache its bytes should be cached. */
const AHEAD_CHECK_BYTES = (READ_AHEAD_CHUNKS / 2) * CHUNK_BYTES;
/** Room a splice needs beyond its length: a read that does not start on a page. */
const PAGE_BYTES = 4096;
/**
 * How long a read waits here for bytes the main thread is fetching before it asks the main
 * thread (which joins the fetch, or fails it after its own bounded wait).
 */
const EXPECTED_WAIT_MS = 5000;

/** Waits for `p`, or `ms` at most (no timer left behind). */
async function atMost(p: Promise<void>, ms: number): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    await Promise.race([p, new Promise<void>((r) => timer = setTimeout(r, ms))]);
  } finally {
    clearTimeout(timer);
  }
}

/** An arena as the filesystem sees it. */
export interface FsArena {
  /** Its database (a connection of this worker). */
  readonly db: Database;
  /** Its datadir, or `null`. */
  readonly datadir: string | null;
  /** The arena's default mark (from the configuration). */
  readonly mark: Mark;
  /** Reads of cached remote bytes served in this worker; without it all go to `remoteRead`. */
  readonly cached?: CachedReads;
}

/** What a `touch` tells the main thread besides the read. */
export interface TouchNote {
  /** Reads served from the cache here since the last touch of this file. */
  readonly hits: number;
  /** The bytes ahead of this sequential reader are not all cached: fetch them ahead. */
  readonly ahead: boolean;
  /** The file was opened with passthrough: the kernel reads the blob itself. */
  readonly passthrough?: boolean;
}

/** A read of remote content. */
export interface RemoteReadArgs {
  readonly arena: ArenaName;
  readonly path: Path;
  /** The version (base64 hash). */
  readonly hash: string;
  readonly size: number;
  readonly offset: number;
  readonly length: number;
}

/**
 * Reads remote bytes (the main thread, through the blob cache and the peers): the bytes,
 * or `"stored"` when they are in the blob and the main thread counted one read in
 * `readers` for the caller, who reads them there and then gives the count back. With
 * `copy`, always the bytes.
 */
export type RemoteRead = (
  req: RemoteReadArgs & { readonly copy?: boolean },
) => Promise<Uint8Array | "stored">;

/** Options of {@linkcode RealizeFs}. */
export interface RealizeFsOptions {
  readonly fs: Filesystem;
  readonly arenas: ReadonlyMap<ArenaName, FsArena>;
  readonly remoteRead: RemoteRead;
  /** Tells the main thread a file is being read from the cache here (see `touch`). */
  readonly touch?: (req: RemoteReadArgs, note: TouchNote) => void;
  /** Replies of cached bytes are spliced through it when given (one copy fewer). */
  readonly pipe?: Pipe;
  /**
   * Two Int32 shared with the main thread. `[0]`: cached reads in flight, from before
   * their ranges are checked until the reply is sent; the blob store waits for 0 before it
   * punches (`BlobStore.setReaderFence`): a spliced reply holds the pages themselves.
   * `[1]`: the fence's epoch, raised before the store forgets bytes or removes a blob;
   * ranges the main thread said it stored count only while it is unchanged.
   */
  readonly readers?: Int32Array;
  /** Seconds the kernel may cache attributes and entries (changes are invalidated). */
  readonly ttlSeconds: number;
  /**
   * How long a read waits for bytes the main thread said it is fetching (they are written
   * here) before it asks the main thread itself; {@linkcode EXPECTED_WAIT_MS} by default.
   */
  readonly expectedWaitMs?: number;
  readonly uid: number;
  readonly gid: number;
}

type Open =
  | { readonly kind: "local"; readonly file: Deno.FsFile }
  | {
    readonly kind: "remote";
    readonly arena: ArenaName;
    readonly path: Path;
    readonly hash: string;
    readonly version: Hash;
    readonly size: number;
    /** When the main thread was last told (see {@linkcode TOUCH_INTERVAL_MS}). */
    touchedMs: number;
    /** Reads served here since then. */
    hits: number;
    /** End of the last read, to tell a sequential reader. */
    lastEnd: number;
    /** Where the main thread was last asked to fetch ahead from. */
    aheadAskedAt: number;
    /** Served by the kernel from the blob (passthrough). */
    passthrough?: boolean;
  };

/** How an inode's open files are served: the kernel refuses to mix the two. */
interface Modes {
  passthrough: number;
  cached: number;
  /**
   * The backing id the passthrough opens share: it holds the blob file, so later opens
   * work even if the blob was evicted meanwhile. Closed with the last of them.
   */
  backingId: number | null;
}

/** FUSE handlers over the realize view. */
export class RealizeFs implements FuseHandlers {
  readonly #o: RealizeFsOptions;
  readonly #open = new Map<number, Open>();
  readonly #modes = new Map<number, Modes>();
  /**
   * Open directories: the offset where each one's listing is known to end (its last reply
   * reached the end), or `null`. The kernel asks again from there and gets nothing: that
   * request is answered without the database (a directory stream need not show entries
   * made after it was opened).
   */
  readonly #dirs = new Map<number, { end: number | null }>();
  #nextFh = 1;

  /** @param options see {@linkcode RealizeFsOptions} */
  constructor(options: RealizeFsOptions) {
    this.#o = options;
  }

  #run(r: FuseReply, what: string, fn: () => void | Promise<void>): void {
    const done = (error?: unknown) => {
      if (error !== undefined && !r.sent) {
        const errno = errnoOf(error);
        if (errno === ERRNO.EIO) log.warn(`${what} failed`, error);
        r.err(errno);
      }
      if (!r.sent) {
        log.error(`${what} finished without replying (a bug): EIO`);
        r.err(ERRNO.EIO);
      }
    };
    try {
      const p = fn();
      if (p instanceof Promise) p.then(() => done(), done);
      else done();
    } catch (error) {
      done(error);
    }
  }

  #fuseAttr(a: Attr): FuseAttr {
    return {
      ino: a.ino,
      mode: (a.kind === "dir" ? S_IFDIR : S_IFREG) | a.perm,
      nlink: a.kind === "dir" ? 2 : 1,
      uid: this.#o.uid,
      gid: this.#o.gid,
      size: a.size,
      mtime: { secs: a.mtime.secs, nsecs: a.mtime.nsecs },
    };
  }

  lookup(r: FuseReply, parent: number, name: string): void {
    this.#run(r, `lookup ${parent}/${name}`, () => {
      const a = this.#o.fs.lookup(parent, name);
      const ttl = this.#o.ttlSeconds;
      if (a === null) return r.noEntry(ttl);
      r.entry({ attr: this.#fuseAttr(a), attrTimeout: ttl, entryTimeout: ttl });
    });
  }

  forget(): void {
    // Inodes are stable and persistent: nothing to release.
  }

  getattr(r: FuseReply, ino: number): void {
    this.#run(r, `getattr ${ino}`, () => {
      const a = this.#o.fs.getattr(ino);
      if (a === null) throw new FsError(ERRNO.ENOENT, `no inode ${ino}`);
      r.attr(this.#fuseAttr(a), this.#o.ttlSeconds);
    });
  }

  /** The arena, path and attributes of a file inode. */
  #file(ino: number): { arena: ArenaName; a: FsArena; path: Path; attr: Versioned } {
    const owner = this.#o.fs.arenaOf(ino);
    const attr = this.#o.fs.versionOf(ino);
    if (owner === null || attr === null) throw new FsError(ERRNO.ENOENT, `no inode ${ino}`);
    if (attr.kind === "dir") throw new FsError(ERRNO.EISDIR, `inode ${ino} is a directory`);
    const a = this.#o.arenas.get(owner.arena)!;
    const path = a.db.read((tx) => nodeByIno(tx, ino))?.path;
    if (path === undefined) throw new FsError(ERRNO.ENOENT, `no inode ${ino}`);
    return { arena: owner.arena, a, path, attr };
  }

  open(r: FuseReply, ino: number, write: boolean): void {
    this.#run(r, `open ${ino}`, async () => {
      if (write) throw new FsError(ERRNO.EROFS, "read-only: write through the overlay");
      if (this.#open.size >= OPEN_FILES_MAX) throw new FsError(ERRNO.EBUSY, "too many open files");
      const { arena, a, path, attr } = this.#file(ino);
      const fh = this.#nextFh++;
      if (attr.local && a.datadir !== null) {
        const file = await Deno.open(`${a.datadir}/${path}`, { read: true });
        this.#open.set(fh, { kind: "local", file });
        return r.open({ fh });
      }
      const hashed = attr.hash === null ? await this.#hashed(ino) : attr;
      if (hashed.hash === null) {
        throw new FsError(ERRNO.EIO, `${arena}/${path}: the peer has not hashed it yet`);
      }
      const hash = hashed.hash.toString();
      const o: Open = {
        kind: "remote",
        arena,
        path,
        hash,
        version: hashed.hash,
        size: hashed.size,
        touchedMs: -Infinity,
        hits: 0,
        lastEnd: 0,
        aheadAskedAt: -Infinity,
      };
      const modes = this.#modes.get(ino) ?? { passthrough: 0, cached: 0, backingId: null };
      this.#modes.set(ino, modes);
      const backingId = modes.cached === 0 ? this.#passthrough(r, a, o, fh, modes) : null;
      if (backingId !== null) {
        this.#open.set(fh, { ...o, passthrough: true });
        modes.backingId = backingId;
        modes.passthrough++;
        // The main thread keeps the blob open a while and recent in the LRU order.
        this.#o.touch?.({ arena, path, hash, size: o.size, offset: 0, length: 1 }, {
          hits: 1,
          ahead: false,
          passthrough: true,
        });
        return;
      }
      if (modes.passthrough > 0) {
        throw new FsError(ERRNO.EBUSY, `${arena}/${path}: its open files could not be joined`);
      }
      this.#open.set(fh, o);
      modes.cached++;
      // A version never changes: the kernel may keep its pages across opens.
      r.open({ fh, keepCache: true });
    });
  }

  /** A file announced before its hash (#musthash): wait a little for the hash to arrive. */
  async #hashed(ino: number): Promise<Versioned> {
    const deadline = Date.now() + PENDING_WAIT_MS;
    for (;;) {
      const a = this.#o.fs.versionOf(ino);
      if (a === null) throw new FsError(ERRNO.ENOENT, `no inode ${ino}`);
      if (a.hash !== null || Date.now() > deadline) return a;
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  read(r: FuseReply, _ino: number, size: number, offset: number, fh: number): void {
    const o = this.#open.get(fh);
    if (o?.kind === "remote") {
      const length = Math.max(0, Math.min(size, o.size - offset));
      const send = (reply: (r: FuseReply) => void) => this.#run(r, `read fh ${fh}`, () => reply(r));
      if (length > 0 && this.#fromCache(o, offset, length, send)) return;
      return this.#run(r, `read fh ${fh}`, async () => {
        if (length === 0) return r.buf(new Uint8Array(0));
        // Bytes the main thread is fetching are written here: wait for them, not for it.
        const waited = this.#o.arenas.get(o.arena)?.cached
          ?.waitFor(o.version, ByteRange.of(offset, offset + length));
        if (waited !== undefined && waited !== null) {
          await atMost(waited, this.#o.expectedWaitMs ?? EXPECTED_WAIT_MS);
          if (this.#fromCache(o, offset, length, (reply) => reply(r))) return;
        }
        const { arena, path, hash, size } = o;
        const args = { arena, path, hash, size, offset, length };
        const got = await this.#o.remoteRead(args);
        if (got !== "stored") return r.buf(got);
        try {
          const reply = this.#storedRead(o, offset, length);
          if (reply !== null) return reply(r);
        } finally {
          this.#release(); // the read the main thread counted for us
        }
        r.buf(await this.#o.remoteRead({ ...args, copy: true }) as Uint8Array);
      });
    }
    this.#run(r, `read fh ${fh}`, async () => {
      if (o === undefined) throw new FsError(ERRNO.EBADF, `no open file ${fh}`);
      const buf = new Uint8Array(size);
      await o.file.seek(offset, Deno.SeekMode.Start);
      let n = 0;
      while (n < size) {
        const got = await o.file.read(buf.subarray(n));
        if (got === null) break;
        n += got;
      }
      r.buf(buf.subarray(0, n));
    });
  }

  /** Counts a cached read in flight (see `RealizeFsOptions.readers`). */
  #hold(): void {
    if (this.#o.readers !== undefined) Atomics.add(this.#o.readers, 0, 1);
  }

  #release(): void {
    const readers = this.#o.readers;
    if (readers !== undefined && Atomics.sub(readers, 0, 1) === 1) Atomics.notify(readers, 0);
  }

  /** A reply of bytes the main thread has just stored (it keeps them until `#release`). */
  #storedRead(
    o: Extract<Open, { kind: "remote" }>,
    offset: number,
    length: number,
  ): ((r: FuseReply) => void) | null {
    const cached = this.#o.arenas.get(o.arena)?.cached;
    if (cached === undefined) return null;
    return this.#replyOf(
      length,
      (pipe) => cached.spliceStored(o.version, offset, length, pipe),
      () => cached.readStored(o.version, offset, length),
    );
  }

  /** A reply through the pipe when `splice` fills it, else of what `read` gives. */
  #replyOf(
    length: number,
    splice: (pipe: Pipe) => boolean,
    read: () => Uint8Array | null,
  ): ((r: FuseReply) => void) | null {
    const pipe = this.#o.pipe;
    if (pipe !== undefined && length <= pipe.capacity - PAGE_BYTES && splice(pipe)) {
      return (r) => r.pipe(pipe, length);
    }
    const bytes = read();
    return bytes === null ? null : (r) => r.buf(bytes);
  }

  /**
   * A reply of bytes the blob cache holds, read (or spliced) here; `null` when the main
   * thread must answer.
   */
  /**
   * Answers a read from the cache when it holds the bytes: counted in flight (the fence in
   * `readers`) from before the ranges are checked until `send` has sent the reply.
   *
   * @returns whether it answered
   */
  #fromCache(
    o: Extract<Open, { kind: "remote" }>,
    offset: number,
    length: number,
    send: (reply: (r: FuseReply) => void) => void,
  ): boolean {
    this.#hold();
    try {
      const reply = this.#cachedRead(o, offset, length);
      if (reply === null) return false;
      send(reply);
      return true;
    } finally {
      this.#release();
    }
  }

  #cachedRead(
    o: Extract<Open, { kind: "remote" }>,
    offset: number,
    length: number,
  ): ((r: FuseReply) => void) | null {
    const cached = this.#o.arenas.get(o.arena)?.cached;
    let reply: ((r: FuseReply) => void) | null = null;
    const epoch = this.#o.readers === undefined ? -1 : Atomics.load(this.#o.readers, 1);
    if (cached?.announced(o.version, ByteRange.of(offset, offset + length), epoch) === true) {
      reply = this.#storedRead(o, offset, length); // fetched ahead, not recorded yet
    }
    if (cached !== undefined && reply === null) {
      reply = this.#replyOf(
        length,
        (pipe) => cached.splice(o.version, offset, length, pipe),
        () => cached.read(o.version, offset, length),
      );
    }
    const sequential = offset === o.lastEnd;
    o.lastEnd = offset + length;
    if (reply === null || this.#o.touch === undefined) return reply;
    o.hits++;
    // A sequential reader served here never reaches the main thread's read-ahead: ask it
    // to fetch ahead when the next bytes are not all cached (at most once per chunk read).
    const end = offset + length;
    const window = ByteRange.of(end, Math.min(o.size, end + AHEAD_CHECK_BYTES));
    const ahead = sequential && window.end > window.start &&
      end - o.aheadAskedAt >= CHUNK_BYTES && cached?.holds(o.version, window) === false;
    const now = performance.now();
    if (ahead || now - o.touchedMs >= TOUCH_INTERVAL_MS) {
      if (ahead) o.aheadAskedAt = end;
      o.touchedMs = now;
      const { arena, path, hash, size } = o;
      this.#o.touch({ arena, path, hash, size, offset, length }, { hits: o.hits, ahead });
      o.hits = 0;
    }
    return reply;
  }

  release(r: FuseReply, ino: number, fh: number): void {
    const o = this.#open.get(fh);
    this.#open.delete(fh);
    if (o?.kind === "local") o.file.close();
    const modes = this.#modes.get(ino);
    if (o?.kind === "remote" && modes !== undefined) {
      if (o.passthrough === true) modes.passthrough--;
      else modes.cached--;
      if (modes.passthrough <= 0 && modes.backingId !== null) {
        r.closeBacking(modes.backingId);
        modes.backingId = null;
      }
      if (modes.passthrough <= 0 && modes.cached <= 0) this.#modes.delete(ino);
    }
    r.err(0);
  }

  /**
   * Opens a remote file with passthrough when its blob is complete and verified.
   *
   * @returns the backing id (the reply is sent), or `null` to open it as usual
   */
  #passthrough(
    r: FuseReply,
    a: FsArena,
    o: Extract<Open, { kind: "remote" }>,
    fh: number,
    modes: Modes,
  ): number | null {
    if (!r.passthrough) return null; // no query for nothing
    if (modes.backingId !== null) return r.openPassthrough(fh, modes.backingId);
    const blob = a.cached?.complete(o.version, o.size) ?? null;
    if (blob === null) return null;
    let file: ReadOnlyFile;
    try {
      file = ReadOnlyFile.open(blob);
    } catch {
      return null; // evicted meanwhile: served as usual
    }
    try {
      return r.openPassthrough(fh, file);
    } finally {
      void file.close(); // the kernel holds its own reference
    }
  }

  opendir(r: FuseReply, ino: number): void {
    this.#run(r, `opendir ${ino}`, () => {
      const a = this.#o.fs.getattr(ino);
      if (a === null) throw new FsError(ERRNO.ENOENT, `no inode ${ino}`);
      if (a.kind !== "dir") throw new FsError(ERRNO.ENOTDIR, `inode ${ino} is a file`);
      if (this.#dirs.size >= OPEN_FILES_MAX) throw new FsError(ERRNO.EBUSY, "too many open dirs");
      const fh = this.#nextFh++;
      this.#dirs.set(fh, { end: null });
      r.open({ fh });
    });
  }

  readdir(r: FuseReply, ino: number, size: number, offset: number, fh: number): void {
    this.#run(r, `readdir ${ino}`, () => {
      const listed = this.#listing(ino, offset, fh);
      if (listed === null) return void r.dir([], size);
      const out = listed.map((e) => ({
        name: e.name,
        ino: e.ino,
        mode: e.kind === "dir" ? S_IFDIR : S_IFREG,
        next: e.next,
      }));
      this.#listed(fh, listed, out, r.dir(out, size));
    });
  }

  readdirplus(r: FuseReply, ino: number, size: number, offset: number, fh: number): void {
    this.#run(r, `readdirplus ${ino}`, () => {
      const listed = this.#listing(ino, offset, fh);
      if (listed === null) return void r.dirPlus([], size);
      const ttl = this.#o.ttlSeconds;
      const out = [];
      for (const e of listed) {
        const a = e.attr ?? this.#o.fs.getattr(e.ino);
        if (a === null) continue; // vanished since the listing: the next one tells
        const entry = { attr: this.#fuseAttr(a), attrTimeout: ttl, entryTimeout: ttl };
        out.push({ name: e.name, entry, next: e.next });
      }
      this.#listed(fh, listed, out, r.dirPlus(out, size));
    });
  }

  /** A directory's entries from `offset` on, or `null` when its handle knows it ends there. */
  #listing(ino: number, offset: number, fh: number): DirEntry[] | null {
    if (offset !== 0 && this.#dirs.get(fh)?.end === offset) return null;
    const entries = this.#o.fs.readdir(ino, offset, READDIR_BATCH);
    if (entries === null) throw new FsError(ERRNO.ENOTDIR, `inode ${ino} is not a directory`);
    return entries;
  }

  /** Notes where a handle's listing ends when this reply (`sent` of `out`) reached it. */
  #listed(fh: number, listed: DirEntry[], out: { next: number }[], sent: number): void {
    const dir = this.#dirs.get(fh);
    if (dir === undefined) return;
    // Fewer entries than asked: the directory's end (Filesystem.readdir).
    const end = listed.length < READDIR_BATCH && sent === out.length;
    dir.end = end && out.length > 0 ? out.at(-1)!.next : null;
  }

  releasedir(r: FuseReply, _ino: number, fh: number): void {
    this.#dirs.delete(fh);
    r.err(0);
  }

  statfs(r: FuseReply): void {
    r.statfs({ bsize: 4096, blocks: 0, bfree: 0, bavail: 0, files: 0, ffree: 0, namemax: 255 });
  }

  /** The arena, its database and the path of an inode inside an arena (for xattrs). */
  #where(ino: number): { a: FsArena; path: Path; attr: Attr } | null {
    if (ino === ROOT_INODE) return null;
    const owner = this.#o.fs.arenaOf(ino);
    const attr = this.#o.fs.getattr(ino);
    if (owner === null || attr === null) return null;
    const a = this.#o.arenas.get(owner.arena)!;
    const path = a.db.read((tx) => nodeByIno(tx, ino))?.path;
    return path === undefined ? null : { a, path, attr };
  }

  getxattr(r: FuseReply, ino: number, name: string, size: number): void {
    // `ls -l` asks every file for security.selinux and system.posix_acl_access: answer
    // at once, without the database (or an Error's stack trace).
    if (!name.startsWith(XATTR_PREFIX)) return r.err(ERRNO.ENODATA);
    this.#run(r, `getxattr ${ino} ${name}`, () => {
      const value = this.#xattr(ino, name);
      if (value === null) throw new FsError(ERRNO.ENODATA, `no ${name}`);
      const bytes = ENCODER.encode(value);
      if (size === 0) return r.xattrSize(bytes.length);
      if (size < bytes.length) throw new FsError(ERRNO.ERANGE, `${name} is longer than ${size}`);
      r.buf(bytes);
    });
  }

  #xattr(ino: number, name: string): string | null {
    switch (name) {
      case XATTR.mark: {
        const w = this.#where(ino);
        if (w === null) return null;
        const { a, path } = w;
        const explicit = a.db.read((tx) => getMark(tx, path));
        if (explicit !== null) return explicit;
        return `${a.db.read((tx) => markFor(tx, path, a.mark))} (inherited)`;
      }
      case XATTR.status: { // asked of many files at a time: two queries, no path
        const owner = ino === ROOT_INODE ? null : this.#o.fs.arenaOf(ino);
        const v = owner === null ? null : this.#o.fs.versionOf(ino);
        if (v === null || v.kind === "dir") return null;
        const hash = v.hash;
        const cached = v.local || hash === null
          ? null
          : this.#o.arenas.get(owner!.arena)!.db.read((tx) => cachedOf(tx, hash));
        return fileStatusText(v.local, cached);
      }
      case XATTR.version: {
        const v = ino === ROOT_INODE ? null : this.#o.fs.versionOf(ino);
        return v === null || v.kind === "dir" ? null : v.hash?.toString() ?? null;
      }
      default:
        return null;
    }
  }

  listxattr(r: FuseReply, ino: number, size: number): void {
    this.#run(r, `listxattr ${ino}`, () => {
      const w = this.#where(ino);
      const names = w === null
        ? []
        : w.attr.kind === "dir"
        ? [XATTR.mark]
        : [XATTR.mark, XATTR.status, XATTR.version];
      const bytes = ENCODER.encode(names.map((n) => `${n}\0`).join(""));
      if (size === 0) return r.xattrSize(bytes.length);
      if (size < bytes.length) throw new FsError(ERRNO.ERANGE, "xattr list too long");
      r.buf(bytes);
    });
  }

  setxattr(r: FuseReply, ino: number, name: string, value: Uint8Array): void {
    this.#run(r, `setxattr ${ino} ${name}`, () => {
      if (name !== XATTR.mark) throw new FsError(ERRNO.ENOTSUP, `${name} cannot be set`);
      const w = this.#where(ino);
      if (w === null) throw new FsError(ERRNO.ENOTSUP, "marks are set on arenas and their files");
      const text = new TextDecoder().decode(value).trim();
      if (text === "") {
        w.a.db.write((tx) => clearMark(tx, w.path));
        return r.err(0);
      }
      if (!isMark(text)) {
        throw new FsError(ERRNO.EINVAL, `invalid mark ${JSON.stringify(text)}: own, keep or watch`);
      }
      w.a.db.write((tx) => setMark(tx, w.path, text));
      r.err(0);
    });
  }

  removexattr(r: FuseReply, ino: number, name: string): void {
    this.#run(r, `removexattr ${ino} ${name}`, () => {
      if (name !== XATTR.mark) throw new FsError(ERRNO.ENOTSUP, `${name} cannot be removed`);
      const w = this.#where(ino);
      if (w === null) throw new FsError(ERRNO.ENODATA, "no mark");
      const cleared = w.a.db.write((tx) => clearMark(tx, w.path));
      r.err(cleared ? 0 : ERRNO.ENODATA);
    });
  }

  /** Closes every open local file (at unmount). */
  closeAll(): void {
    for (const o of this.#open.values()) if (o.kind === "local") o.file.close();
    this.#open.clear();
    this.#dirs.clear();
  }
}
