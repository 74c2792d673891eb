// Tests stat files and write filler files with the sync APIs between awaits.
// deno-lint-ignore-file no-sync-fn-in-async-fn
import assert from "node:assert/strict";
import { join } from "node:path";
import { statvfs } from "../../ffi/libc/mod.ts";
import type { Hash } from "../types/mod.ts";
import type { Area } from "./blob_schema.ts";
import type { BlobStore } from "./blob_store.ts";
import {
  BlobFixture,
  checkInvariant,
  hashOf,
  KIB,
  maxBytes,
  MIB,
  mountTmpfs,
  pattern,
} from "./blob_testing.ts";
import { BLOCK_SIZE } from "./cache_usage.ts";

/** Caches a whole blob of `bytes` and closes it. */
async function cache(store: BlobStore, name: string, bytes: number, area?: Area): Promise<Hash> {
  const hash = hashOf(name);
  const blob = store.open(hash, bytes, area === undefined ? {} : { area });
  assert.equal(blob.write(0, pattern(hash, 0, bytes)), "stored", `cache ${name}`);
  await blob.close();
  return hash;
}

function names(hashes: readonly Hash[], known: Record<string, Hash>): string[] {
  return hashes.map((h) => Object.entries(known).find(([, k]) => k.equals(h))?.[0] ?? "?");
}

const BLOB = 16 * BLOCK_SIZE;

Deno.test("BlobStore.enforce() evicts pending blobs first, oldest first", async () => {
  await using f = new BlobFixture();
  const s = f.store;
  const known: Record<string, Hash> = {};
  for (const name of ["w1", "p1", "w2", "p2"]) known[name] = await cache(s, name, BLOB);
  s.retire(known.p2!);
  s.retire(known.p1!);
  await s.open(hashOf("empty"), BLOB).close(); // costs nothing, never evicted
  s.setLimits(maxBytes(4 * BLOB));
  assert.deepEqual((await s.enforce()).evicted, []);
  s.setLimits(maxBytes(3 * BLOB));
  assert.deepEqual(names((await s.enforce()).evicted, known), ["p1"]);
  s.setLimits(maxBytes(BLOB));
  const report = await s.enforce();
  assert.deepEqual(names(report.evicted, known), ["p2", "w1"]);
  assert.equal(report.freedBytes, 2 * BLOB);
  assert.equal(report.overBytes, 0);
  assert.equal(report.quota, BLOB);
  assert.deepEqual(report.usage, { total: BLOB, working: BLOB, protected: 0, pending: 0 });
  assert.equal(s.get(known.w1!), null);
  assert.ok(s.get(hashOf("empty")) !== null);
  assert.throws(() => Deno.statSync(f.path(known.w1!)), Deno.errors.NotFound);
  checkInvariant(f.db, f.blobsDir, s);
});

Deno.test("BlobStore.enforce() evicts working blobs least recently used first", async () => {
  const evictedBytes: number[] = [];
  await using f = new BlobFixture({ onEvict: (_, bytes) => evictedBytes.push(bytes) });
  const s = f.store;
  const known: Record<string, Hash> = {};
  for (const name of ["a", "b", "c", "d"]) known[name] = await cache(s, name, BLOB);
  const a = s.open(known.a!, BLOB); // opening touches
  assert.ok(a.read(0, 10) instanceof Uint8Array); // and reading
  await a.close();
  const c = s.open(known.c!, BLOB);
  await c.close();
  s.setLimits(maxBytes(2 * BLOB));
  assert.deepEqual(names((await s.enforce()).evicted, known), ["b", "d"]);
  s.setLimits(maxBytes(BLOB));
  assert.deepEqual(names((await s.enforce()).evicted, known), ["a"]);
  assert.deepEqual(evictedBytes, [BLOB, BLOB, BLOB]);
});

Deno.test("BlobStore.enforce() never evicts protected blobs", async () => {
  await using f = new BlobFixture();
  const s = f.store;
  const kept = await cache(s, "kept", 2 * BLOB, "protected");
  const loose = await cache(s, "loose", BLOB, "working");
  s.setLimits(maxBytes(BLOB));
  const report = await s.enforce();
  assert.equal(report.evicted.length, 1);
  assert.ok(report.evicted[0]!.equals(loose));
  assert.equal(report.overBytes, BLOB);
  assert.equal(s.get(kept)?.present.byteCount(), 2 * BLOB);
  // No room for anything new: a new blob's writes are skipped, protected or not.
  await using fresh = s.open(hashOf("fresh"), BLOB);
  assert.equal(fresh.write(0, pattern(hashOf("fresh"), 0, BLOCK_SIZE)), "skipped");
  await using more = s.open(hashOf("more"), BLOB, { area: "protected" });
  assert.equal(more.write(0, pattern(hashOf("more"), 0, BLOCK_SIZE)), "skipped");
  assert.equal(s.usage().total, 2 * BLOB);
});

Deno.test("a protected blob larger than the quota never trims itself", async () => {
  await using f = new BlobFixture({ limits: maxBytes(MIB) });
  const hash = hashOf("kept");
  await using blob = f.store.open(hash, 3 * MIB, { area: "protected" });
  const results = [];
  for (let at = 0; at < 3 * MIB; at += 64 * KIB) {
    results.push(blob.write(at, pattern(hash, at, 64 * KIB)));
  }
  assert.deepEqual(results, [...Array(16).fill("stored"), ...Array(32).fill("skipped")]);
  assert.equal(blob.present().toString(), `{[0, ${MIB})}`);
  assert.equal(f.store.usage().protected, MIB);
});

Deno.test("an open blob is not evicted until its last handle closes", async () => {
  await using f = new BlobFixture();
  const s = f.store;
  const open = await cache(s, "open", BLOB);
  const other = await cache(s, "other", BLOB);
  const one = s.open(open, BLOB);
  const two = s.open(open, BLOB);
  s.setLimits(maxBytes(BLOB / 2));
  const report = await s.enforce();
  assert.equal(report.evicted.length, 1);
  assert.ok(report.evicted[0]!.equals(other), "the closed blob goes, though more recent");
  assert.equal(report.overBytes, BLOB / 2);
  assert.deepEqual(one.read(0, 100), pattern(open, 0, 100), "still readable");
  await one.close();
  assert.ok(s.get(open) !== null, "a handle is still open");
  assert.deepEqual(two.read(100, 100), pattern(open, 100, 100));
  await two.close();
  assert.equal(s.get(open), null, "evicted when closed, still over quota");
  assert.equal(s.usage().total, 0);
});

Deno.test("BlobHandle.write() keeps usage within max under a stream of new blobs", async () => {
  const max = MIB;
  const chunk = 64 * KIB;
  await using f = new BlobFixture({ limits: maxBytes(max) });
  const s = f.store;
  let peak = 0;
  for (let i = 0; i < 40; i++) {
    const hash = hashOf(`stream-${i}`);
    const size = 100 * KIB + i * 7 * KIB;
    const blob = s.open(hash, size);
    for (let at = 0; at < size; at += chunk) {
      const n = Math.min(chunk, size - at);
      assert.equal(blob.write(at, pattern(hash, at, n)), "stored");
      peak = Math.max(peak, s.usage().total);
      assert.ok(s.usage().total <= max + chunk, `usage ${s.usage().total} after a write`);
    }
    await blob.close();
    if (i % 3 === 0) s.retire(hash);
  }
  assert.ok(peak <= max, `strict admission: peak ${peak}`);
  assert.ok(peak > max - 300 * KIB, `the cache fills up: peak ${peak}`);
  const { rows } = checkInvariant(f.db, f.blobsDir, s);
  assert.ok(rows < 40);
});

Deno.test("a file 3× larger than the quota streams through, trimming behind the reader", async () => {
  const max = 4 * MIB;
  const chunk = 128 * KIB;
  await using f = new BlobFixture({ limits: maxBytes(max) });
  const s = f.store;
  const old = await cache(s, "old", MIB); // evicted before the stream trims itself
  const hash = hashOf("huge");
  const size = 3 * max + 12_345;
  const blob = s.open(hash, size);
  for (let at = 0; at < size; at += chunk) {
    const n = Math.min(chunk, size - at);
    const got = blob.read(at, n);
    assert.ok(!(got instanceof Uint8Array), "never cached before");
    assert.equal(blob.write(at, pattern(hash, at, n)), "stored");
    assert.deepEqual(blob.read(at, n), pattern(hash, at, n), `served at ${at}`);
    assert.ok(s.usage().total <= max + chunk, `usage ${s.usage().total} at ${at}`);
    assert.ok(Deno.statSync(f.path(hash)).blocks! * 512 <= max + chunk, "on disk too");
  }
  assert.equal(s.get(old), null);
  assert.ok(s.usage().total > max - 2 * MIB, "a window of recent data stays cached");
  assert.ok(blob.present().containsOffset(size - 1), "the tail is cached");
  assert.ok(!blob.present().containsOffset(0), "the head was trimmed");
  await blob.close();
  checkInvariant(f.db, f.blobsDir, s);
  // A chunk larger than the whole quota is never stored.
  const big = hashOf("chunk");
  await using one = s.open(big, max + MIB);
  assert.equal(one.write(0, pattern(big, 0, max + BLOCK_SIZE)), "skipped");
});

Deno.test({
  name: "BlobStore leaves disk_usage.leave free on a small tmpfs",
  ignore: Deno.uid() !== 0,
  async fn() {
    using tmpfs = mountTmpfs(64);
    const leave = 16 * MIB;
    const chunk = 256 * KIB;
    const limits = {
      max: { kind: "percent", percent: 100 },
      leave: { kind: "bytes", bytes: leave },
    } as const;
    await using f = new BlobFixture({ dir: join(tmpfs.path, "blobs"), limits });
    const s = f.store;
    for (let i = 0; i < 20; i++) { // 20 × 4 MiB: more than the tmpfs holds
      const hash = hashOf(`fill-${i}`);
      const blob = s.open(hash, 4 * MIB);
      for (let at = 0; at < 4 * MIB; at += chunk) {
        assert.equal(blob.write(at, pattern(hash, at, chunk)), "stored");
        const free = statvfs(tmpfs.path).availableBytes;
        assert.ok(free >= leave - chunk, `free ${free} after a write`);
      }
      await blob.close();
    }
    assert.ok(s.usage().total >= 40 * MIB, `the cache grew to what was left: ${s.usage().total}`);
    // Another program fills 12 MiB of the disk: the cleaner gives it back.
    Deno.writeFileSync(join(tmpfs.path, "other"), new Uint8Array(12 * MIB).fill(1));
    assert.ok(statvfs(tmpfs.path).availableBytes < leave);
    const report = await s.enforce();
    assert.ok(report.evicted.length >= 3);
    assert.equal(report.overBytes, 0);
    assert.ok(statvfs(tmpfs.path).availableBytes >= leave);
    checkInvariant(f.db, f.blobsDir, s);
    await s.close();
  },
});

Deno.test("the reader fence runs after the database forgot trimmed bytes, before the punch", async () => {
  const max = 4 * MIB;
  const chunk = 128 * KIB;
  await using f = new BlobFixture({ limits: maxBytes(max) });
  const s = f.store;
  const hash = hashOf("streamed");
  const size = 2 * max;
  const seen: { recordedHead: boolean; fileHead: Uint8Array }[] = [];
  let invalidated = 0;
  s.setReaderFence({
    invalidate: () => invalidated++,
    wait: () => {
      const row = f.db.get<{ ranges: string }>(
        "SELECT ranges FROM blob_entry WHERE hash = ?",
        hash.bytes(),
      );
      const recorded = JSON.parse(row!.ranges) as [number, number][];
      const head = new Uint8Array(BLOCK_SIZE);
      using file = Deno.openSync(f.path(hash));
      file.readSync(head);
      seen.push({ recordedHead: recorded.some(([a, b]) => a <= 0 && b > 0), fileHead: head });
      assert.ok(invalidated > seen.length - 1, "readers were told before the bytes went");
    },
  });
  const blob = s.open(hash, size);
  for (let at = 0; at < size; at += chunk) {
    assert.equal(blob.write(at, pattern(hash, at, chunk)), "stored");
    if (at % MIB === 0) await blob.flush(); // recorded as it goes, so trims forget ranges
  }
  assert.ok(!blob.present().containsOffset(0), "the head was trimmed");
  assert.ok(seen.length > 0, "the fence ran");
  assert.equal(seen[0]!.recordedHead, false, "the database forgot the head first");
  assert.deepEqual(seen[0]!.fileHead, pattern(hash, 0, BLOCK_SIZE), "not punched yet");
  s.setReaderFence(null);
  await blob.close();
});

Deno.test("BlobHandle.touch() moves a blob up in the LRU order without reading it", async () => {
  await using f = new BlobFixture();
  const s = f.store;
  const known: Record<string, Hash> = {};
  for (const name of ["a", "b", "c"]) known[name] = await cache(s, name, BLOB);
  const b = s.open(known.b!, BLOB);
  const c = s.open(known.c!, BLOB);
  await c.close();
  b.touch(); // after c's open: b is now the most recent
  await b.close();
  s.setLimits(maxBytes(BLOB));
  assert.deepEqual(names((await s.enforce()).evicted, known), ["a", "c"]);
  await b.close();
  assert.throws(() => b.touch(), /closed/);
});
