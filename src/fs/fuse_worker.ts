/**
 * The FUSE worker: owns the libfuse session and serves the realize view from its own
 * database connections, so a busy main thread never stalls the filesystem. Remote reads
 * are asked of the main thread by message.
 *
 * Bytes the blob cache already holds are read here (`CachedReads`); the main thread is
 * told which files are read that way, now and then (`touch`).
 *
 * Messages in: `start` (configuration), `readResult`, `invalidate`, `stop`.
 * Messages out: `mounted` | `error`, `read` requests, `touch`, `stopped`.
 *
 * @module
 */

import { FuseSession, READ_BYTES_MAX } from "../../ffi/fuse3/mod.ts";
import { Pipe } from "../../ffi/libc/mod.ts";
import {
  Database,
  GLOBAL_INODE_SCHEMA,
  InodeAllocator,
  openGlobalDatabase,
} from "../storage/mod.ts";
import { type ArenaName, ByteRange, Hash, type Mark } from "../types/mod.ts";
import { ARENA_SCHEMAS, ArenaView, Filesystem, GLOBAL_TREE_SCHEMA } from "../unreal/mod.ts";
import { configure, describeError, type Level, logger } from "../util/mod.ts";
import { CachedReads } from "./cached_reads.ts";
import { ERRNO, errnoOf, FsError } from "./errno.ts";
import { type FsArena, RealizeFs, type RemoteReadArgs, type TouchNote } from "./realize_fs.ts";

/** The configuration the main thread sends. */
export interface WorkerConfig {
  readonly mountpoint: string;
  readonly globalDb: string;
  readonly arenas: readonly {
    readonly name: ArenaName;
    readonly workdir: string;
    readonly datadir: string | null;
    readonly mark: Mark;
  }[];
  readonly ttlSeconds: number;
  readonly uid: number;
  readonly gid: number;
  readonly allowOther: boolean;
  /** Negotiate FUSE passthrough (off with `REALIZE_FUSE_PASSTHROUGH=0`). */
  readonly passthrough: boolean;
  /** Two Int32: cached reads in flight here, and the fence's epoch (`RealizeFsOptions.readers`). */
  readonly readers: SharedArrayBuffer;
  /** The main thread's log levels and format, so the worker filters the same way. */
  readonly log: { defaultLevel: Level; levels: [string, Level][]; format: "plain" | "systemd" };
}

/** What the worker posts. */
export type WorkerOut =
  | {
    readonly type: "mounted";
    readonly passthrough: boolean;
    /** The FUSE device's descriptor, for the main thread to abort the mount if this dies. */
    readonly device: number;
  }
  | { readonly type: "error"; readonly message: string }
  | { readonly type: "log"; readonly line: string }
  | {
    readonly type: "read";
    readonly id: number;
    readonly arena: string;
    readonly path: string;
    readonly hash: string;
    readonly size: number;
    readonly offset: number;
    readonly length: number;
    /** The bytes themselves, even when they are stored (the blob could not give them). */
    readonly copy?: boolean;
  }
  | ({ readonly type: "touch" } & RemoteReadArgs & TouchNote)
  | {
    /** A blob write is done (`errno` 0) or failed. */
    readonly type: "written";
    readonly id: number;
    readonly errno: number;
  }
  | { readonly type: "stopped" };

/** What the main thread posts. */
export type WorkerIn =
  | { readonly type: "start"; readonly config: WorkerConfig }
  /** Tests only: throw from the event loop, as a bug would (the Worker dies). */
  | { readonly type: "fail" }
  | {
    readonly type: "readResult";
    readonly id: number;
    readonly bytes?: Uint8Array;
    /** In the blob, and one read counted in `readers` for this one (give it back). */
    readonly stored?: true;
    readonly errno?: number;
  }
  | {
    /** Write bytes into a blob at `offset` (`WorkerWrites`, `CachedReads.write`). */
    readonly type: "write";
    readonly id: number;
    readonly arena: string;
    readonly hash: string;
    readonly offset: number;
    /** The bytes: in shared memory (read there) or a copy. */
    readonly bytes: Uint8Array;
    /** The fence's epoch when the main thread sent it. */
    readonly epoch: number;
  }
  | {
    /**
     * The main thread fetches `[start, end)` of a blob and has it written here (`fetched`: the
     * fetch is over, and what of it was not written will not be), `CachedReads.expect`.
     */
    readonly type: "fetching" | "fetched";
    readonly arena: string;
    readonly hash: string;
    readonly start: number;
    readonly end: number;
  }
  | {
    readonly type: "invalidate";
    readonly inodes: readonly number[];
    readonly entries: readonly [number, string][];
  }
  | { readonly type: "stop" };

/** The part of the worker global scope used here (the type checker sees the window one). */
interface WorkerScope {
  onmessage: ((event: MessageEvent<WorkerIn>) => void) | null;
  postMessage(message: WorkerOut, options?: { transfer: Transferable[] }): void;
}
const scope = self as unknown as WorkerScope;
const post = (m: WorkerOut, transfer: Transferable[] = []) => scope.postMessage(m, { transfer });
// Log lines go to the main thread, which owns stderr and the log settings.
configure({ write: (line) => post({ type: "log", line }) });

const log = logger("fuse");

let session: FuseSession | null = null;
let pipe: Pipe | null = null;
let fsImpl: RealizeFs | null = null;
const databases: Database[] = [];
const cachedReads: CachedReads[] = [];
const cachedByArena = new Map<string, CachedReads>();
const pending = new Map<
  number,
  { resolve: (b: Uint8Array | "stored") => void; reject: (e: Error) => void }
>();
let readers: Int32Array | null = null;
let nextId = 1;

/** Replies of cached reads go through a pipe big enough for the largest read, if one can be had. */
function openPipe(): Pipe | null {
  try {
    return Pipe.open(READ_BYTES_MAX + 4096);
  } catch (error) {
    log.debug(`cached reads are copied, not spliced: ${describeError(error)}`);
    return null;
  }
}

function start(config: WorkerConfig): void {
  configure({ ...config.log, levels: new Map(config.log.levels) });
  const globalDb = openGlobalDatabase(config.globalDb, {
    schemas: [GLOBAL_INODE_SCHEMA, GLOBAL_TREE_SCHEMA],
  });
  databases.push(globalDb);
  const views = new Map<ArenaName, ArenaView>();
  const arenas = new Map<ArenaName, FsArena>();
  for (const a of config.arenas) {
    // A second connection to a database the main thread holds (WAL: readers never wait).
    const db = Database.open(`${a.workdir}/arena.db`, { schemas: ARENA_SCHEMAS });
    databases.push(db);
    views.set(
      a.name,
      new ArenaView(db, new InodeAllocator({ arenaDb: db, globalDb, arena: a.name }), {
        local: a.datadir !== null,
      }),
    );
    const cached = new CachedReads(db, `${a.workdir}/blobs`);
    cachedReads.push(cached);
    cachedByArena.set(a.name, cached);
    arenas.set(a.name, { db, datadir: a.datadir, mark: a.mark, cached });
  }
  pipe = openPipe();
  fsImpl = new RealizeFs({
    ...(pipe === null ? {} : { pipe }),
    readers: readers = new Int32Array(config.readers),
    fs: new Filesystem(globalDb, views),
    arenas,
    remoteRead: (req) =>
      new Promise((resolve, reject) => {
        const id = nextId++;
        pending.set(id, { resolve, reject });
        post({ type: "read", id, ...req });
      }),
    touch: (req, note) => post({ type: "touch", ...req, ...note }),
    ttlSeconds: config.ttlSeconds,
    uid: config.uid,
    gid: config.gid,
  });
  session = FuseSession.mount(config.mountpoint, fsImpl, {
    fsname: "realize",
    allowOther: config.allowOther,
    passthrough: config.passthrough,
  });
}

async function stop(): Promise<void> {
  await session?.unmount();
  session = null;
  pipe?.close();
  pipe = null;
  fsImpl?.closeAll();
  cachedByArena.clear();
  await Promise.all(cachedReads.splice(0).map((c) => c.close()));
  for (const p of pending.values()) p.reject(new FsError(ERRNO.EIO, "unmounting"));
  pending.clear();
  for (const db of databases.splice(0)) db.close();
}

scope.onmessage = async (e: MessageEvent<WorkerIn>) => {
  const m = e.data;
  switch (m.type) {
    case "start":
      try {
        start(m.config);
        await session?.initialized;
        post({
          type: "mounted",
          passthrough: session?.passthrough ?? false,
          device: session?.device ?? -1,
        });
      } catch (error) {
        await session?.unmount().catch(() => {});
        session = null;
        pipe?.close();
        pipe = null;
        cachedByArena.clear();
        await Promise.all(cachedReads.splice(0).map((c) => c.close()));
        for (const db of databases.splice(0)) db.close();
        post({ type: "error", message: describeError(error) });
      }
      return;
    case "write": {
      let errno = 0;
      try {
        const cached = cachedByArena.get(m.arena);
        if (cached === undefined) throw new FsError(ERRNO.EIO, `no arena ${m.arena} (stopped?)`);
        cached.write(Hash.parse(m.hash), m.offset, m.bytes, m.epoch);
      } catch (error) {
        errno = errnoOf(error);
        log.debug(`cannot write a blob of ${m.arena}: ${describeError(error)}`);
      }
      post({ type: "written", id: m.id, errno });
      return;
    }
    case "fetching":
    case "fetched": {
      const cached = cachedByArena.get(m.arena);
      const range = ByteRange.of(m.start, m.end);
      if (m.type === "fetching") cached?.expect(Hash.parse(m.hash), range);
      else cached?.ended(Hash.parse(m.hash), range);
      return;
    }
    case "readResult": {
      const p = pending.get(m.id);
      pending.delete(m.id);
      if (m.stored === true) {
        if (p !== undefined) p.resolve("stored");
        else if (readers !== null && Atomics.sub(readers, 0, 1) === 1) {
          Atomics.notify(readers, 0); // nobody waits for it any more: give the count back
        }
      } else if (m.bytes !== undefined) p?.resolve(m.bytes);
      else p?.reject(new FsError(m.errno ?? ERRNO.EIO, "remote read failed"));
      return;
    }
    case "invalidate":
      for (const ino of m.inodes) session?.invalidateInode(ino);
      for (const [parent, name] of m.entries) session?.invalidateEntry(parent, name);
      return;
    case "stop":
      await stop();
      post({ type: "stopped" });
      return;
    case "fail":
      setTimeout(() => {
        throw new Error("told to fail (a test)");
      });
      return;
  }
};
