// RealizeFs over the unreal's view, replies recorded instead of sent: listings, and reads of bytes
// the main thread is fetching.
import assert from "node:assert/strict";
import type { FuseReply } from "../../ffi/fuse3/mod.ts";
import { parseArenaName } from "../types/mod.ts";
import { until } from "../net/_peer_testing.ts";
import { A, UnrealFixture } from "../unreal/_testing.ts";
import type { Filesystem } from "../unreal/mod.ts";
import type { CachedReads } from "./cached_reads.ts";
import { RealizeFs, type RealizeFsOptions } from "./realize_fs.ts";

/** What a handler answered: the first call on the reply. */
interface Answer {
  readonly kind: string;
  readonly value: unknown;
}

/** A reply that records its answer; listings take every entry (as if the buffer held all). */
function reply(): { r: FuseReply; answer: () => Answer } {
  let answer: Answer | null = null;
  const record = (kind: string) => (value: unknown) => {
    assert.equal(answer, null, "one answer per request");
    answer = { kind, value };
    return Array.isArray(value) ? value.length : undefined;
  };
  const r = {
    get sent() {
      return answer !== null;
    },
    passthrough: false,
    err: record("err"),
    open: record("open"),
    buf: record("buf"),
    dir: record("dir"),
    dirPlus: record("dirPlus"),
  };
  return { r: r as unknown as FuseReply, answer: () => answer! };
}

function setup(files: number, options: Partial<RealizeFsOptions & { cached: CachedReads }> = {}) {
  const f = UnrealFixture.setup();
  f.apply(A, ...Array.from({ length: files }, (_, i) => f.add(`d/f${i}`, `c${i}`)));
  let listings = 0;
  const fs = new Proxy(f.fs, {
    get(target, key) {
      if (key === "readdir") {
        return (...args: Parameters<Filesystem["readdir"]>) => {
          listings++;
          return target.readdir(...args);
        };
      }
      const v = Reflect.get(target, key);
      return typeof v === "function" ? v.bind(target) : v;
    },
  });
  const { cached, ...rest } = options;
  const arena = { db: f.db, datadir: null, mark: "watch" as const, ...(cached ? { cached } : {}) };
  const realize = new RealizeFs({
    fs,
    arenas: new Map([[parseArenaName("docs"), arena]]),
    remoteRead: () => Promise.reject(new Error("no reads here")),
    ttlSeconds: 1,
    uid: 0,
    gid: 0,
    ...rest,
  });
  const dir = f.fs.lookup(f.arena.view.root, "d")!.ino;
  return { f, realize, dir, listings: () => listings };
}

/** Lists a directory as the kernel does: from 0, then from each last `next`, until empty. */
function list(realize: RealizeFs, dir: number, plus: boolean): { names: string[]; calls: number } {
  const open = reply();
  realize.opendir(open.r, dir);
  const fh = (open.answer().value as { fh: number }).fh;
  const names: string[] = [];
  let calls = 0;
  for (let offset = 0;;) {
    const { r, answer } = reply();
    if (plus) realize.readdirplus(r, dir, 1 << 20, offset, fh);
    else realize.readdir(r, dir, 1 << 20, offset, fh);
    calls++;
    const entries = answer().value as { name: string; next: number }[];
    if (entries.length === 0) break;
    names.push(...entries.map((e) => e.name));
    offset = entries.at(-1)!.next;
  }
  realize.releasedir(reply().r, dir, fh);
  return { names, calls };
}

Deno.test("a listing's closing request is answered from its handle, without the database", () => {
  const { f, realize, dir, listings } = setup(10);
  using _ = f;
  for (const plus of [true, false]) {
    const before = listings();
    const { names, calls } = list(realize, dir, plus);
    assert.deepEqual(names, Array.from({ length: 10 }, (_, i) => `f${i}`));
    assert.equal(calls, 2, "the entries, then the end");
    assert.equal(listings() - before, 1, "one listing of the database");
  }
});

Deno.test("a directory larger than one batch is listed whole, each batch from the database", () => {
  const { f, realize, dir, listings } = setup(600);
  using _ = f;
  const { names, calls } = list(realize, dir, true);
  assert.equal(names.length, 600);
  assert.equal(new Set(names).size, 600);
  assert.equal(calls, 4, "three batches of at most 256, then the end");
  assert.equal(listings(), 3, "the end known from the last batch");
});

Deno.test("another handle of the same directory does not inherit where a listing ended", () => {
  const { f, realize, dir } = setup(3);
  using _ = f;
  const open = reply();
  realize.opendir(open.r, dir);
  const fh = (open.answer().value as { fh: number }).fh;
  const first = reply();
  realize.readdirplus(first.r, dir, 1 << 20, 0, fh);
  const next = (first.answer().value as { next: number }[]).at(-1)!.next;
  f.apply(A, f.add("d/later", "later"));
  // The same handle ends where it ended; a new one sees the new entry.
  const end = reply();
  realize.readdirplus(end.r, dir, 1 << 20, next, fh);
  assert.deepEqual(end.answer().value, []);
  assert.deepEqual(list(realize, dir, true).names, ["f0", "f1", "f2", "later"]);
});

/** The blob cache as the worker sees it while the main thread fetches: nothing there yet. */
function fetching(written: Promise<void>, bytes: Uint8Array): CachedReads {
  let arrived = false;
  void written.then(() => arrived = true);
  return {
    announced: () => false,
    splice: () => false,
    read: () => arrived ? bytes : null,
    holds: () => arrived,
    complete: () => null,
    waitFor: () => written,
  } as unknown as CachedReads;
}

/** Opens `d/f0` and reads its first bytes; the answer and how long it took. */
async function readFirst(realize: RealizeFs, f: UnrealFixture, n: number) {
  const file = f.fs.lookup(f.fs.lookup(f.arena.view.root, "d")!.ino, "f0")!;
  const open = reply();
  realize.open(open.r, file.ino, false);
  await until(() => open.answer() !== null, "opened");
  const fh = (open.answer().value as { fh: number }).fh;
  const read = reply();
  const started = performance.now();
  realize.read(read.r, file.ino, n, 0, fh);
  await until(() => read.answer() !== null, "read answered");
  return { answer: read.answer(), ms: performance.now() - started };
}

Deno.test("a read of bytes on their way is served when the worker has written them", async () => {
  const bytes = new TextEncoder().encode("c0");
  const written = Promise.withResolvers<void>();
  const { f, realize } = setup(1, {
    cached: fetching(written.promise, bytes),
    expectedWaitMs: 60_000,
  });
  using _ = f;
  setTimeout(() => written.resolve(), 50);
  const { answer } = await readFirst(realize, f, 2);
  assert.deepEqual(answer, { kind: "buf", value: bytes }, "from the blob, not the main thread");
});

Deno.test("a read of bytes on their way that never come asks the main thread after the wait", async () => {
  const bytes = new TextEncoder().encode("c0");
  const asked: number[] = [];
  const { f, realize } = setup(1, {
    cached: fetching(new Promise(() => {}), bytes), // the write got lost
    expectedWaitMs: 200,
    remoteRead: () => {
      asked.push(performance.now());
      return Promise.resolve(bytes);
    },
  });
  using _ = f;
  const { answer, ms } = await readFirst(realize, f, 2);
  assert.deepEqual(answer, { kind: "buf", value: bytes });
  assert.equal(asked.length, 1, "asked the main thread once");
  assert.ok(ms >= 200, `waited the 200 ms first (${ms.toFixed(0)} ms)`);
  assert.ok(ms < 3_000, `not the default 5 s (${ms.toFixed(0)} ms)`);
});
