import assert from "node:assert/strict";
import type { Household } from "../net/mod.ts";
import { GLOBAL_INODE_SCHEMA, openArenaDatabase, openGlobalDatabase } from "../storage/mod.ts";
import {
  type ArenaName,
  Hash,
  type Mark,
  parseArenaName,
  parsePeerName,
  paths,
  UnixTime,
} from "../types/mod.ts";
import { ARENA_SCHEMAS, GLOBAL_TREE_SCHEMA, UnrealArena } from "../unreal/mod.ts";
import { ERRNO, FsError } from "./errno.ts";
import { AHEAD_RUN_CHUNKS, CHUNK_BYTES, READ_AHEAD_CHUNKS, RemoteReader } from "./remote_reader.ts";

const DOCS = parseArenaName("docs");
const PATH = paths.parse("big.bin");
const KiB = 1024;
const MiB = 1024 * KiB;

/** Deterministic content, different at every offset of a chunk. */
function content(size: number): Uint8Array {
  const out = new Uint8Array(size);
  for (let i = 0; i < size; i++) out[i] = (i * 31 + (i >>> 9)) & 0xff;
  return out;
}

/**
 * A peer that has one file and serves it in 256 KiB chunks, counting what it is asked;
 * `gate` holds every read until opened, so concurrent readers really overlap.
 */
class FakePeer {
  readonly requests: { offset: number; length: number }[] = [];
  online = true;
  #open: (() => void) | null = null;
  #gate: Promise<void> = Promise.resolve();

  constructor(readonly data: Uint8Array) {}

  hold(): void {
    this.#gate = new Promise((r) => this.#open = r);
  }

  release(): void {
    this.#open?.();
    this.#open = null;
  }

  /** Only the part of `Household` the reader uses. */
  household(): Household | null {
    if (!this.online) return null;
    const read = async (
      _target: unknown,
      range: { offset: number; length: number },
      onChunk: (offset: number, bytes: Uint8Array) => Promise<void> | void,
    ) => {
      this.requests.push(range);
      await this.#gate;
      if (!this.online) throw new Error("link closed");
      const end = Math.min(this.data.length, range.offset + range.length);
      for (let at = range.offset; at < end; at += 256 * KiB) {
        // A fresh copy each time: the reader must not keep views into our buffer.
        await onChunk(at, this.data.slice(at, Math.min(end, at + 256 * KiB)));
      }
    };
    return { read } as unknown as Household;
  }

  /** Chunk indexes requested so far (a request may cover several), sorted. */
  chunks(): number[] {
    return this.requests.flatMap((r) => {
      const first = r.offset / CHUNK_BYTES;
      const end = Math.ceil((r.offset + r.length) / CHUNK_BYTES);
      return Array.from({ length: end - first }, (_, k) => first + k);
    }).sort((a, b) => a - b);
  }
}

/** One arena's unreal with a remote file of `size` bytes, and a reader over it. */
class Fixture {
  readonly dir = Deno.makeTempDirSync({ prefix: "realize_remote_reader_" });
  readonly globalDb = openGlobalDatabase(`${this.dir}/cache.db`, {
    schemas: [GLOBAL_INODE_SCHEMA, GLOBAL_TREE_SCHEMA],
  });
  readonly db = openArenaDatabase(`${this.dir}/work`, DOCS, { schemas: ARENA_SCHEMAS });
  readonly unreal: UnrealArena;
  readonly peer: FakePeer;
  readonly hash: Hash;
  readonly reader: RemoteReader;

  constructor(
    size: number,
    options: { quotaBytes?: number; peerWaitMs?: number; mark?: Mark } = {},
  ) {
    this.unreal = UnrealArena.open({
      name: DOCS,
      db: this.db,
      globalDb: this.globalDb,
      workdir: `${this.dir}/work`,
      diskUsage: options.quotaBytes === undefined
        ? null
        : { max: { kind: "bytes", bytes: options.quotaBytes }, leave: null },
    });
    this.peer = new FakePeer(content(size));
    this.hash = Hash.of(this.peer.data);
    this.unreal.apply(parsePeerName("a"), [{
      kind: "add",
      index: 1,
      path: PATH,
      size,
      mtime: UnixTime.of(1000),
      hash: this.hash,
    }]);
    this.reader = new RemoteReader(
      new Map<ArenaName, { unreal: UnrealArena; mark: Mark }>([[DOCS, {
        unreal: this.unreal,
        mark: options.mark ?? "watch",
      }]]),
      () => this.peer.household(),
      { peerWaitMs: options.peerWaitMs ?? 200 },
    );
  }

  read(offset: number, length: number): Promise<Uint8Array> {
    return this.reader.read(this.req(offset, length));
  }

  req(offset: number, length: number) {
    return {
      arena: DOCS,
      path: PATH,
      hash: this.hash.toString(),
      size: this.peer.data.length,
      offset,
      length,
    };
  }

  /** What the blob holds at a range, or `null` when some of it is missing. */
  async cached(offset: number, length: number): Promise<Uint8Array | null> {
    await using blob = this.unreal.blobs.open(this.hash, this.peer.data.length);
    const got = blob.read(offset, length);
    return got instanceof Uint8Array ? got : null;
  }

  expected(offset: number, length: number): Uint8Array {
    return this.peer.data.subarray(offset, Math.min(this.peer.data.length, offset + length));
  }

  async [Symbol.asyncDispose](): Promise<void> {
    this.peer.release();
    await this.reader.close();
    await this.unreal.close();
    this.db.close();
    this.globalDb.close();
    await Deno.remove(this.dir, { recursive: true });
  }
}

async function until(cond: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

Deno.test("concurrent readers of the same chunk share one fetch", async () => {
  await using f = new Fixture(3 * MiB);
  f.peer.hold();
  const reads = [
    f.read(4 * KiB, 4 * KiB),
    f.read(4 * KiB, 4 * KiB),
    f.read(100 * KiB, 64 * KiB),
  ];
  await until(() => f.peer.requests.length > 0, "a fetch");
  f.peer.release();
  const got = await Promise.all(reads);
  assert.deepEqual(got[0], f.expected(4 * KiB, 4 * KiB));
  assert.deepEqual(got[1], f.expected(4 * KiB, 4 * KiB));
  assert.deepEqual(got[2], f.expected(100 * KiB, 64 * KiB));
  const chunk0 = f.peer.requests.filter((r) => r.offset === 0);
  assert.equal(chunk0.length, 1, `chunk 0 fetched once, not ${chunk0.length} times`);
  assert.deepEqual(chunk0[0], { offset: 0, length: CHUNK_BYTES }, "whole aligned chunk");
});

Deno.test("a sequential reader gets the next chunks fetched ahead, then reads from the cache", async () => {
  const chunks = READ_AHEAD_CHUNKS + 4;
  await using f = new Fixture(chunks * CHUNK_BYTES - 1000); // last chunk short
  await f.read(0, 128 * KiB);
  const ahead = Array.from({ length: READ_AHEAD_CHUNKS }, (_, i) => i);
  await until(() => f.peer.chunks().length >= READ_AHEAD_CHUNKS, "read-ahead");
  assert.deepEqual(f.peer.chunks(), ahead, "chunk 0 and the read-ahead window");
  // Wait until the read-ahead landed in the blob, then read on through the window.
  await until(() => f.reader.stats.bytesFetched === READ_AHEAD_CHUNKS * CHUNK_BYTES, "stored");
  const before = f.reader.stats.fromNetwork;
  for (let at = 128 * KiB; at < READ_AHEAD_CHUNKS * CHUNK_BYTES; at += 128 * KiB) {
    assert.deepEqual(await f.read(at, 128 * KiB), f.expected(at, 128 * KiB), `at ${at}`);
  }
  assert.equal(f.reader.stats.fromNetwork, before, "every read in the window came from cache");
  // Reading on keeps the window ahead, up to the end of the file and no further.
  for (let at = READ_AHEAD_CHUNKS * CHUNK_BYTES; at < f.peer.data.length; at += 128 * KiB) {
    assert.deepEqual(await f.read(at, 128 * KiB), f.expected(at, 128 * KiB), `at ${at}`);
  }
  assert.deepEqual(f.peer.chunks(), Array.from({ length: chunks }, (_, i) => i));
  const last = f.peer.requests.find((r) => r.offset + r.length > (chunks - 1) * CHUNK_BYTES)!;
  assert.equal(last.offset + last.length, f.peer.data.length, "last chunk stops at the end");
  assert.ok(f.peer.requests.length < chunks, "chunks read ahead go out several per request");
});

Deno.test("a reader moving on a chunk at a time gets the chunks ahead in whole runs", async () => {
  const chunks = 3 * READ_AHEAD_CHUNKS;
  await using f = new Fixture(chunks * CHUNK_BYTES);
  for (let at = 0; at < f.peer.data.length; at += 128 * KiB) {
    assert.deepEqual(await f.read(at, 128 * KiB), f.expected(at, 128 * KiB), `at ${at}`);
  }
  assert.deepEqual(f.peer.chunks(), Array.from({ length: chunks }, (_, i) => i));
  // Chunk 0, the first window in whole runs, then one run per AHEAD_RUN_CHUNKS chunks the
  // reader moves on (not one request per chunk).
  const first = 1 + READ_AHEAD_CHUNKS / AHEAD_RUN_CHUNKS;
  const n = f.peer.requests.length;
  const most = first + Math.ceil((chunks - 1 - READ_AHEAD_CHUNKS) / AHEAD_RUN_CHUNKS) + 1;
  assert.ok(n <= most, `${n} requests, not at most ${most}`);
  const runs = f.peer.requests.slice(first, -1);
  assert.ok(runs.every((r) => r.length === AHEAD_RUN_CHUNKS * CHUNK_BYTES), "whole runs");
});

Deno.test("a random read fetches only the chunks it touches", async () => {
  await using f = new Fixture(16 * MiB);
  const at = 5 * MiB + 123;
  assert.deepEqual(await f.read(at, 2 * MiB), f.expected(at, 2 * MiB));
  assert.deepEqual(f.peer.chunks(), [5, 6, 7]);
});

Deno.test("a file larger than the cache streams through it within the quota", async () => {
  const quota = 3 * MiB;
  await using f = new Fixture(12 * MiB, { quotaBytes: quota });
  const hasher = new Uint8Array(f.peer.data.length);
  let peak = 0;
  for (let at = 0; at < f.peer.data.length; at += 128 * KiB) {
    const got = await f.read(at, 128 * KiB);
    hasher.set(got, at);
    peak = Math.max(peak, f.unreal.blobs.usage().total);
  }
  assert.ok(Hash.of(hasher).equals(f.hash), "every byte read matches the peer's file");
  assert.ok(peak <= quota, `cache usage peaked at ${peak} B, quota ${quota} B`);
  const n = f.peer.requests.length;
  assert.ok(n >= 12 && n <= 13, `12 chunks streamed with at most one refetched, not ${n} fetches`);
});

Deno.test("cached ranges are served offline; the rest fails with EIO after a bounded wait", async () => {
  await using f = new Fixture(4 * MiB, { peerWaitMs: 300 });
  await f.read(3 * MiB, 64 * KiB); // a random read: chunk 3 only
  assert.deepEqual(f.peer.chunks(), [3]);
  f.peer.online = false;
  assert.deepEqual(await f.read(3 * MiB + 10, 100), f.expected(3 * MiB + 10, 100));
  const started = Date.now();
  await assert.rejects(
    f.read(MiB, 4 * KiB),
    (e) => e instanceof FsError && e.errno === ERRNO.EIO && /big\.bin.*not cached/.test(e.message),
  );
  const waited = Date.now() - started;
  assert.ok(waited >= 250 && waited < 5000, `waited ${waited} ms for a peer`);
  assert.equal(f.reader.stats.failures, 1);
});

Deno.test("a peer that connects during the wait serves the read", async () => {
  await using f = new Fixture(2 * MiB, { peerWaitMs: 5000 });
  f.peer.online = false;
  const read = f.read(MiB + 7, 1000);
  setTimeout(() => f.peer.online = true, 150);
  assert.deepEqual(await read, f.expected(MiB + 7, 1000));
});

Deno.test("a touch from the FUSE worker counts its cache hits and can start the read-ahead", async () => {
  await using f = new Fixture((READ_AHEAD_CHUNKS + 8) * MiB);
  await f.read(5 * MiB, 4 * KiB); // a random read: chunk 5 only, no read-ahead
  assert.deepEqual(f.peer.chunks(), [5]);
  const req = {
    arena: DOCS,
    path: PATH,
    hash: f.hash.toString(),
    size: f.peer.data.length,
    offset: 5 * MiB + 4 * KiB,
    length: 128 * KiB,
  };
  f.reader.touch(req, { hits: 3, ahead: false });
  assert.equal(f.reader.stats.fromCache, 3);
  assert.deepEqual(f.peer.chunks(), [5], "no fetch without being asked");
  f.reader.touch(req, { hits: 2, ahead: true });
  assert.equal(f.reader.stats.fromCache, 5);
  // The window starts at the chunk the read ended in (5, cached) and spans READ_AHEAD_CHUNKS.
  const window = Array.from({ length: READ_AHEAD_CHUNKS }, (_, i) => 5 + i);
  await until(() => f.peer.chunks().length === window.length, "read-ahead");
  assert.deepEqual(f.peer.chunks(), window);
});

Deno.test("ensure() stores a range and says so; it hands over only what the cache cannot keep", async () => {
  await using f = new Fixture(4 * MiB);
  const req = f.req(MiB + 100, 300 * KiB);
  assert.equal(await f.reader.ensure(req), null, "in the blob: nothing to hand over");
  assert.ok(f.reader.holds(req));
  assert.deepEqual(await f.cached(MiB + 100, 300 * KiB), f.expected(MiB + 100, 300 * KiB));
  assert.equal(await f.reader.ensure(req), null, "a second time, from the cache");
  assert.deepEqual(f.peer.chunks(), [1]);
  assert.equal(f.reader.holds(f.req(0, 10)), false);
  assert.deepEqual(await f.reader.ensure(f.req(4 * MiB - 10, 100)), null, "the end of the file");
  assert.deepEqual(await f.reader.ensure(f.req(4 * MiB, 100)), new Uint8Array(0), "past it");
});

Deno.test("ensure() of a chunk larger than the whole cache returns its bytes", async () => {
  await using f = new Fixture(3 * MiB, { quotaBytes: 512 * KiB });
  const got = await f.reader.ensure(f.req(MiB + 5, 900 * KiB));
  assert.ok(got !== null, "the cache could not keep the chunk");
  assert.deepEqual(got, f.expected(MiB + 5, 900 * KiB));
  assert.ok(f.unreal.blobs.usage().total <= 512 * KiB);
  assert.deepEqual(await f.read(MiB + 5, 900 * KiB), f.expected(MiB + 5, 900 * KiB));
});

Deno.test("a kept file larger than the cache is served from memory, fetched once", async () => {
  // A protected blob never trims itself: once the quota is full its writes are skipped,
  // and the chunk (with the pieces stored before) is kept in memory for the reader.
  await using f = new Fixture(3 * MiB, { quotaBytes: 512 * KiB, mark: "keep" });
  const got = await f.reader.ensure(f.req(MiB + 5, 900 * KiB));
  assert.ok(got !== null, "the cache could not keep the chunk");
  assert.deepEqual(got, f.expected(MiB + 5, 900 * KiB));
  assert.ok(f.unreal.blobs.usage().total <= 512 * KiB);
  const requests = f.peer.requests.length;
  assert.deepEqual(await f.read(MiB + 100, 800 * KiB), f.expected(MiB + 100, 800 * KiB));
  assert.equal(f.peer.requests.length, requests, "served from the chunk kept in memory");
});
