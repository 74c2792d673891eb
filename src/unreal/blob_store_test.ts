// Tests read blob files and stat them with the sync APIs between awaits: simpler, and the
// store under test is synchronous too.
// deno-lint-ignore-file no-sync-fn-in-async-fn
import assert from "node:assert/strict";
import { HashPool } from "../real/mod.ts";
import { ByteRanges } from "../types/mod.ts";
import { BlobError } from "./blob_file.ts";
import {
  BlobFixture,
  checkInvariant,
  contentHash,
  hashOf,
  KIB,
  MIB,
  pattern,
  ranges,
  waitUntil,
} from "./blob_testing.ts";
import { BLOCK_SIZE } from "./cache_usage.ts";

Deno.test("BlobStore.open() creates an empty sparse file named by the hash and a row", async () => {
  await using f = new BlobFixture();
  const hash = hashOf("a");
  await using blob = f.store.open(hash, 10 * MIB, { area: "protected" });
  const stat = Deno.statSync(f.path(hash));
  assert.equal(stat.size, 10 * MIB);
  assert.equal(stat.blocks, 0);
  assert.match(f.path(hash), /\/blobs\/[A-Za-z0-9_-]{43}$/);
  const info = f.store.get(hash);
  assert.equal(info?.area, "protected");
  assert.equal(info?.size, 10 * MIB);
  assert.ok(info?.present.isEmpty());
  assert.equal(info?.open, true);
  assert.ok(f.recorded(hash)?.isEmpty());
  assert.equal(blob.size, 10 * MIB);
  assert.ok(blob.hash.equals(hash));
});

Deno.test("BlobHandle.read() reports exactly the missing ranges, never waiting", async () => {
  await using f = new BlobFixture();
  const hash = hashOf("a");
  await using blob = f.store.open(hash, 100_000);
  assert.deepEqual(blob.read(0, 10), { missing: ranges([0, 10]) });
  assert.equal(blob.write(20_000, pattern(hash, 20_000, 10_000)), "stored");
  assert.deepEqual(blob.read(15_000, 20_000), {
    missing: ranges([15_000, 20_000], [30_000, 35_000]),
  });
  assert.deepEqual(blob.read(20_000, 10_000), pattern(hash, 20_000, 10_000));
  assert.deepEqual(blob.read(25_000, 1_000), pattern(hash, 25_000, 1_000));
  const buffer = new Uint8Array(4096);
  const view = blob.read(20_000, 1_000, { buffer });
  assert.ok(view instanceof Uint8Array && view.buffer === buffer.buffer, "read into the buffer");
  assert.deepEqual(view, pattern(hash, 20_000, 1_000));
  assert.deepEqual(blob.read(99_990, 100), { missing: ranges([99_990, 100_000]) }, "cut at end");
  assert.deepEqual(blob.read(100_000, 10), new Uint8Array(0), "at the end: empty");
  assert.throws(() => blob.read(-1, 1), RangeError);
});

Deno.test("BlobHandle.write() stores only new bytes and records them on close", async () => {
  await using f = new BlobFixture();
  const hash = hashOf("a");
  const blob = f.store.open(hash, MIB);
  assert.equal(blob.write(0, pattern(hash, 0, 3000)), "stored");
  // Overlapping write: only [3000, 5000) is new; the present bytes are not rewritten.
  const data = pattern(hash, 2000, 3000);
  assert.equal(blob.write(2000, data), "stored");
  assert.deepEqual(blob.present(), ranges([0, 5000]));
  assert.ok(f.recorded(hash)?.isEmpty(), "not recorded before a flush");
  assert.equal(f.store.usage().working, 2 * BLOCK_SIZE);
  assert.throws(() => blob.write(MIB - 10, new Uint8Array(11)), RangeError);
  await blob.close();
  assert.deepEqual(f.recorded(hash), ranges([0, 5000]));
  assert.throws(() => blob.read(0, 1), BlobError);
  await blob.close(); // idempotent
  assert.equal(f.store.get(hash)?.open, false);
  checkInvariant(f.db, f.blobsDir, f.store);
});

Deno.test("BlobHandle.write() flushes recorded ranges every 4 MiB, after the data", async () => {
  await using f = new BlobFixture();
  const hash = hashOf("big");
  await using blob = f.store.open(hash, 16 * MIB);
  for (let at = 0; at < 5 * MIB; at += 256 * KIB) {
    assert.equal(blob.write(at, pattern(hash, at, 256 * KIB)), "stored");
  }
  await waitUntil(() => (f.recorded(hash)?.byteCount() ?? 0) >= 4 * MIB, "the 4 MiB flush");
  assert.deepEqual(f.recorded(hash)?.subtract(blob.present()), ByteRanges.empty());
  checkInvariant(f.db, f.blobsDir, null);
  await blob.flush();
  assert.deepEqual(f.recorded(hash), ranges([0, 5 * MIB]));
});

Deno.test("BlobHandle.write() records a blob as soon as it is complete", async () => {
  await using f = new BlobFixture();
  const hash = hashOf("small");
  await using blob = f.store.open(hash, 10_000);
  blob.write(0, pattern(hash, 0, 10_000));
  assert.ok(blob.isComplete());
  await waitUntil(() => f.recorded(hash)?.byteCount() === 10_000, "the completion flush");
});

Deno.test("two handles on one blob share what is present", async () => {
  await using f = new BlobFixture();
  const hash = hashOf("a");
  const one = f.store.open(hash, 8192);
  const two = f.store.open(hash, 8192);
  one.write(0, pattern(hash, 0, 4096));
  assert.deepEqual(two.read(0, 4096), pattern(hash, 0, 4096));
  assert.throws(() => f.store.open(hash, 100), /open with size 8192/);
  await one.close();
  assert.equal(f.store.get(hash)?.open, true);
  assert.deepEqual(two.read(0, 10), pattern(hash, 0, 10));
  await two.close();
  assert.equal(f.store.get(hash)?.open, false);
});

Deno.test("BlobStore.setArea() and retire() move a blob through every area", async () => {
  await using f = new BlobFixture();
  const hash = hashOf("a");
  const blob = f.store.open(hash, 3 * BLOCK_SIZE);
  blob.write(0, pattern(hash, 0, 3 * BLOCK_SIZE));
  const used = 3 * BLOCK_SIZE;
  const expect = (area: string) => {
    assert.equal(f.store.get(hash)?.area, area);
    const usage = f.store.usage();
    assert.equal(usage.total, used);
    assert.equal(usage[area as "working"], used, `${area} holds the blob`);
  };
  expect("working");
  const transitions = [
    "protected",
    "pending",
    "working",
    "pending",
    "protected",
    "working",
  ] as const;
  for (const area of transitions) {
    assert.ok(f.store.setArea(hash, area));
    expect(area);
  }
  await blob.close(); // the same transitions on a closed blob
  for (const area of transitions) {
    assert.ok(area === "pending" ? f.store.retire(hash) : f.store.setArea(hash, area));
    expect(area);
  }
  assert.equal(f.store.setArea(hashOf("unknown"), "working"), false);
  assert.equal(f.store.retire(hashOf("unknown")), false);
  await f.reopen();
  expect("working");
});

Deno.test("BlobStore.open() keeps the area of a known blob", async () => {
  await using f = new BlobFixture();
  const hash = hashOf("a");
  await f.store.open(hash, 100, { area: "protected" }).close();
  await f.store.open(hash, 100, { area: "working" }).close();
  assert.equal(f.store.get(hash)?.area, "protected");
});

Deno.test("BlobStore.remove() deletes row and file; an open handle keeps reading", async () => {
  await using f = new BlobFixture();
  const hash = hashOf("a");
  const blob = f.store.open(hash, 2 * BLOCK_SIZE);
  blob.write(0, pattern(hash, 0, BLOCK_SIZE));
  assert.ok(f.store.remove(hash));
  assert.equal(f.store.get(hash), null);
  assert.equal(f.store.usage().total, 0);
  assert.throws(() => Deno.statSync(f.path(hash)), Deno.errors.NotFound);
  assert.deepEqual(blob.read(0, 100), pattern(hash, 0, 100), "read from the unlinked file");
  assert.equal(blob.write(BLOCK_SIZE, pattern(hash, BLOCK_SIZE, 10)), "skipped");
  // A new open makes a new, empty blob while the old handle lives on.
  await using again = f.store.open(hash, 2 * BLOCK_SIZE);
  assert.deepEqual(again.read(0, 1), { missing: ranges([0, 1]) });
  await blob.close();
  assert.equal(f.store.remove(hashOf("unknown")), false);
});

Deno.test("BlobStore.open() empties a blob known with another size", async () => {
  await using f = new BlobFixture();
  const hash = hashOf("a");
  const blob = f.store.open(hash, 10_000);
  blob.write(0, pattern(hash, 0, 10_000));
  await blob.close();
  await using resized = f.store.open(hash, 20_000);
  assert.ok(resized.present().isEmpty());
  assert.equal(Deno.statSync(f.path(hash)).size, 20_000);
  assert.ok(f.recorded(hash)?.isEmpty());
  assert.equal(f.store.usage().total, 0);
});

Deno.test("BlobStore.open() clears a row whose file vanished while closed", async () => {
  await using f = new BlobFixture();
  const hash = hashOf("a");
  const blob = f.store.open(hash, 10_000);
  blob.write(0, pattern(hash, 0, 10_000));
  await blob.close();
  Deno.removeSync(f.path(hash));
  await using again = f.store.open(hash, 10_000);
  assert.ok(again.present().isEmpty());
  assert.ok(f.recorded(hash)?.isEmpty());
  assert.equal(f.store.usage().total, 0);
});

Deno.test("BlobStore.verify() marks a complete blob verified, off the main thread", async () => {
  await using f = new BlobFixture();
  const pool = new HashPool({ workers: 1 });
  try {
    await f.reopen(); // default hasher first, then the pool below
    const { content, hash } = contentHash(3 * MIB + 5);
    const blob = f.store.open(hash, content.length);
    assert.equal(blob.write(0, content.subarray(0, MIB)), "stored");
    const partial = await f.store.verify(hash);
    assert.equal(partial?.status, "incomplete");
    assert.deepEqual(
      partial?.status === "incomplete" ? partial.missing : null,
      ranges([MIB, 3 * MIB + 5]),
    );
    blob.write(MIB, content.subarray(MIB));
    await blob.close();
    assert.deepEqual(await f.store.verify(hash), { status: "verified" });
    assert.equal(f.store.get(hash)?.verified, true);
    const other = contentHash(MIB);
    await using store2 = new BlobFixture({ hashFile: (p, o) => pool.hashFile(p, o) });
    const b2 = store2.store.open(other.hash, MIB);
    b2.write(0, other.content);
    assert.deepEqual(await store2.store.verify(other.hash), { status: "verified" });
    await b2.close();
    await store2.reopen();
    assert.equal(store2.store.get(other.hash)?.verified, true, "recorded");
  } finally {
    await pool.close();
  }
});

Deno.test("BlobStore.verify() reports a mismatch and clears the ranges", async () => {
  await using f = new BlobFixture();
  const { content, hash } = contentHash(100_000);
  const blob = f.store.open(hash, content.length);
  const corrupt = content.slice();
  corrupt[5000] = corrupt[5000]! ^ 0xff;
  blob.write(0, corrupt);
  const result = await f.store.verify(hash);
  assert.equal(result?.status, "mismatch");
  assert.ok(result?.status === "mismatch" && !result.actual.equals(hash));
  assert.ok(blob.present().isEmpty(), "to be fetched again");
  assert.ok(f.recorded(hash)?.isEmpty());
  assert.equal(Deno.statSync(f.path(hash)).blocks, 0);
  assert.equal(f.store.usage().total, 0);
  assert.deepEqual(blob.read(0, 10), { missing: ranges([0, 10]) });
  blob.write(0, content);
  await blob.close();
  assert.deepEqual(await f.store.verify(hash), { status: "verified" });
  assert.equal(await f.store.verify(hashOf("unknown")), null);
});

Deno.test("LRU positions are written in batches and survive a restart", async () => {
  await using f = new BlobFixture();
  const [a, b] = [hashOf("a"), hashOf("b")];
  await f.store.open(a, 10).close();
  await f.store.open(b, 10).close();
  const lru = (hash: typeof a) =>
    f.db.read((tx) =>
      tx.get<{ lru: number }>("SELECT lru FROM blob_entry WHERE hash = ?", hash.bytes())!.lru
    );
  const before = lru(a);
  await f.store.open(a, 10).close(); // touch a
  await waitUntil(() => lru(a) > lru(b), "the batched LRU update");
  assert.ok(lru(a) > before);
  await f.reopen();
  assert.ok(lru(a) > lru(b));
});

Deno.test("a closed BlobStore refuses use; close() flushes open blobs", async () => {
  await using f = new BlobFixture();
  const hash = hashOf("a");
  const blob = f.store.open(hash, 10_000);
  blob.write(0, pattern(hash, 0, 5000));
  await f.store.close();
  assert.deepEqual(f.recorded(hash), ranges([0, 5000]));
  assert.throws(() => f.store.open(hash, 10_000), BlobError);
  assert.throws(() => blob.read(0, 1), BlobError);
  await blob.close();
  await f.store.close();
});

Deno.test("BlobStore refuses calls inside a database transaction", async () => {
  await using f = new BlobFixture();
  assert.throws(() => f.db.write(() => f.store.open(hashOf("a"), 10)), /outside database/);
  assert.equal(f.db.read(() => f.store.get(hashOf("a"))), null, "reads may");
});
