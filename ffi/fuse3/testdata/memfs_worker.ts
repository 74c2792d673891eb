// A tiny in-memory filesystem served from a Worker, for the binding's tests.
// Messages in: { mount: dir, delayMs, backing, notifyInRequests } | { counts: true } |
// { unmount: true }; out: "mounted" | { lookup, readdirplus, ptReads, ptOpens, notified } |
// "unmounted" | { error }.
import { ReadOnlyFile } from "../../libc/mod.ts";
import { type Attr, type FuseHandlers, FuseSession } from "../mod.ts";

const ROOT = 1;
const HELLO = 2;
const BIG = 3;
/** Served with passthrough from the file named in the mount message (`backing`). */
const PT = 4;
const PT_SIZE = 3 << 20;
const CONTENT = new TextEncoder().encode("world\n");
const BIG_SIZE = 8 << 20;
const now = { secs: 1_700_000_000, nsecs: 5 };
const attrs = new Map<number, Attr>([
  [ROOT, { ino: ROOT, mode: 0o40755, nlink: 2, uid: 0, gid: 0, size: 4096, mtime: now }],
  [HELLO, {
    ino: HELLO,
    mode: 0o100644,
    nlink: 1,
    uid: 0,
    gid: 0,
    size: CONTENT.length,
    mtime: now,
  }],
  [BIG, { ino: BIG, mode: 0o100644, nlink: 1, uid: 0, gid: 0, size: BIG_SIZE, mtime: now }],
  [PT, { ino: PT, mode: 0o100644, nlink: 1, uid: 0, gid: 0, size: PT_SIZE, mtime: now }],
]);
const names = new Map([["hello", HELLO], ["big", BIG], ["pt", PT]]);
let backing: string | null = null;
const backingIds: number[] = [];
const xattrs = new Map<string, Uint8Array>();
let delayMs = 0;
/** Invalidate `hello`'s entry during its lookups and `big`'s pages during its reads. */
let notifyInRequests = false;
const counts = { lookup: 0, readdirplus: 0, ptReads: 0, ptOpens: 0, notified: 0 };
const notify = (sent: Promise<number> | undefined) => void sent?.then(() => counts.notified++);
const later = (fn: () => void) => delayMs === 0 ? queueMicrotask(fn) : setTimeout(fn, delayMs);

const handlers: FuseHandlers = {
  lookup: (r, parent, name) => {
    counts.lookup++;
    const ino = parent === ROOT ? names.get(name) : undefined;
    // The kernel holds the directory's lock until this lookup is answered.
    if (notifyInRequests && ino === HELLO) notify(session?.invalidateEntry(ROOT, name));
    later(() =>
      ino === undefined
        ? r.err(2)
        : r.entry({ attr: attrs.get(ino)!, attrTimeout: 1, entryTimeout: 1 })
    );
  },
  forget: () => {},
  getattr: (r, ino) => {
    const a = attrs.get(ino);
    later(() => a === undefined ? r.err(2) : r.attr(a, 1));
  },
  open: (r, ino, write) =>
    later(() => {
      if (write) return r.err(30);
      if (ino === PT && backing !== null) {
        const file = ReadOnlyFile.open(backing);
        const id = r.openPassthrough(8, file);
        void file.close(); // the kernel holds its own reference
        if (id !== null) {
          backingIds.push(id);
          return void counts.ptOpens++;
        }
      }
      r.open({ fh: 7, keepCache: ino !== PT });
    }),
  read: (r, ino, size, offset) => {
    if (ino === PT) counts.ptReads++;
    // The kernel holds the pages being read until this read is answered.
    if (notifyInRequests && ino === BIG) notify(session?.invalidateInode(BIG));
    later(() => {
      if (ino === HELLO) return r.buf(CONTENT.subarray(offset, offset + size));
      const n = Math.max(0, Math.min(size, BIG_SIZE - offset));
      const out = new Uint8Array(n);
      for (let i = 0; i < n; i++) out[i] = (offset + i) & 0xff;
      r.buf(out);
    });
  },
  release: (r, _ino, fh) => {
    if (fh === 8) r.closeBacking(backingIds.shift()!);
    r.err(0);
  },
  opendir: (r) => r.open({ fh: 1 }),
  readdir: (r, _ino, size, offset) => {
    const all = [...names].map(([name, ino], i) => ({ name, ino, mode: 0o100000, next: i + 1 }));
    later(() => r.dir(all.slice(offset), size));
  },
  readdirplus: (r, _ino, size, offset) => {
    counts.readdirplus++;
    const all = [...names].map(([name, ino], i) => ({
      name,
      entry: { attr: attrs.get(ino)!, attrTimeout: 1, entryTimeout: 1 },
      next: i + 1,
    }));
    later(() => r.dirPlus(all.slice(offset), size));
  },
  releasedir: (r) => r.err(0),
  statfs: (r) =>
    r.statfs({ bsize: 4096, blocks: 100, bfree: 50, bavail: 50, files: 3, ffree: 0, namemax: 255 }),
  setxattr: (r, _ino, name, value) => {
    xattrs.set(name, value);
    r.err(0);
  },
  getxattr: (r, _ino, name, size) => {
    const v = xattrs.get(name);
    if (v === undefined) return r.err(61);
    if (size === 0) return r.xattrSize(v.length);
    if (size < v.length) return r.err(34);
    r.buf(v);
  },
  listxattr: (r, _ino, size) => {
    const list = new TextEncoder().encode([...xattrs.keys()].map((k) => k + "\0").join(""));
    if (size === 0) return r.xattrSize(list.length);
    r.buf(list);
  },
  removexattr: (r, _ino, name) => r.err(xattrs.delete(name) ? 0 : 61),
};

/** The part of the worker global scope used here (the type checker sees the window one). */
interface WorkerScope {
  onmessage: ((event: MessageEvent) => void) | null;
  postMessage(message: unknown): void;
}
const scope = self as unknown as WorkerScope;

let session: FuseSession | null = null;
scope.onmessage = async (e: MessageEvent) => {
  try {
    if (e.data.mount !== undefined) {
      delayMs = e.data.delayMs ?? 0;
      backing = e.data.backing ?? null;
      notifyInRequests = e.data.notifyInRequests === true;
      session = FuseSession.mount(e.data.mount, handlers, { fsname: "memfs", allowOther: true });
      await session.initialized;
      scope.postMessage(session.passthrough ? "mounted, passthrough" : "mounted");
    } else if (e.data.counts === true) {
      scope.postMessage({ ...counts });
    } else if (e.data.unmount === true) {
      await session?.unmount();
      scope.postMessage("unmounted");
    }
  } catch (error) {
    scope.postMessage({ error: String(error) });
  }
};
