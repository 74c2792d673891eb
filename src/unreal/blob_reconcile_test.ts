// Tests damage blob files behind the store's back with the sync APIs between awaits.
// deno-lint-ignore-file no-sync-fn-in-async-fn
import assert from "node:assert/strict";
import { join } from "node:path";
import { punchHole } from "../../ffi/libc/mod.ts";
import type { Hash } from "../types/mod.ts";
import { blobFileName } from "./blob_file.ts";
import type { BlobStore } from "./blob_store.ts";
import {
  BlobFixture,
  checkInvariant,
  contentHash,
  hashOf,
  KIB,
  MIB,
  pattern,
  ranges,
} from "./blob_testing.ts";
import { BLOCK_SIZE } from "./cache_usage.ts";

async function cache(store: BlobStore, name: string, size: number, at: [number, number][]) {
  const hash = hashOf(name);
  const blob = store.open(hash, size);
  for (const [start, end] of at) blob.write(start, pattern(hash, start, end - start));
  await blob.close();
  return hash;
}

const NOTHING = {
  strayFiles: 0,
  missingFiles: 0,
  trimmedRows: 0,
  trimmedBytes: 0,
  resizedFiles: 0,
  punchedBytes: 0,
};

Deno.test("BlobStore.reconcile() changes nothing when files and rows agree", async () => {
  await using f = new BlobFixture();
  await cache(f.store, "a", MIB, [[0, 100 * KIB], [500 * KIB, 600 * KIB + 7]]);
  await cache(f.store, "b", 5000, [[0, 5000]]);
  const before = f.store.usage();
  await f.reopen();
  assert.deepEqual(f.store.reconcile(), NOTHING);
  assert.deepEqual(f.store.usage(), before);
  checkInvariant(f.db, f.blobsDir, f.store);
});

Deno.test("BlobStore.reconcile() clears the ranges of a blob whose file was deleted", async () => {
  await using f = new BlobFixture();
  const gone = await cache(f.store, "gone", MIB, [[0, MIB]]);
  f.store.setArea(gone, "protected");
  const kept = await cache(f.store, "kept", MIB, [[0, 10]]);
  await f.reopen();
  Deno.removeSync(f.path(gone));
  assert.deepEqual(f.store.reconcile(), { ...NOTHING, missingFiles: 1 });
  const info = f.store.get(gone);
  assert.ok(info?.present.isEmpty());
  assert.equal(info?.area, "protected", "the row keeps its area");
  assert.equal(f.store.usage().total, BLOCK_SIZE, "only kept's block");
  assert.ok(f.store.get(kept)?.present.equals(ranges([0, 10])));
  checkInvariant(f.db, f.blobsDir, f.store);
});

Deno.test("BlobStore.reconcile() deletes stray files and directories", async () => {
  await using f = new BlobFixture();
  const kept = await cache(f.store, "kept", 100, [[0, 100]]);
  await f.reopen();
  const stray = f.path(hashOf("no row"));
  Deno.writeFileSync(stray, new Uint8Array(10));
  Deno.writeFileSync(join(f.blobsDir, "junk.tmp"), new Uint8Array(10));
  Deno.mkdirSync(join(f.blobsDir, blobFileName(hashOf("dir"))));
  assert.deepEqual(f.store.reconcile(), { ...NOTHING, strayFiles: 3 });
  assert.deepEqual([...Deno.readDirSync(f.blobsDir)].map((e) => e.name), [blobFileName(kept)]);
  checkInvariant(f.db, f.blobsDir, f.store);
});

Deno.test("BlobStore.reconcile() trims recorded ranges to the data in the file", async () => {
  await using f = new BlobFixture();
  const hash = await cache(f.store, "a", 4 * MIB, [[0, 3 * MIB]]);
  await f.reopen();
  punchHole(f.path(hash), MIB, 256 * KIB); // data lost behind the store's back
  const report = f.store.reconcile();
  assert.deepEqual(report, { ...NOTHING, trimmedRows: 1, trimmedBytes: 256 * KIB });
  assert.ok(f.store.get(hash)?.present.equals(ranges([0, MIB], [MIB + 256 * KIB, 3 * MIB])));
  assert.equal(f.store.usage().total, 3 * MIB - 256 * KIB);
  checkInvariant(f.db, f.blobsDir, f.store);
  await using blob = f.store.open(hash, 4 * MIB);
  assert.deepEqual(blob.read(MIB - 10, 20), { missing: ranges([MIB, MIB + 10]) });
});

Deno.test("BlobStore.reconcile() punches out data no row records", async () => {
  await using f = new BlobFixture();
  const hash = await cache(f.store, "a", MIB, [[0, 10 * BLOCK_SIZE]]);
  await f.reopen();
  // Written before a crash, never recorded: blocks 20-29 and half of block 10.
  using file = Deno.openSync(f.path(hash), { write: true });
  file.seekSync(10 * BLOCK_SIZE, Deno.SeekMode.Start);
  file.writeSync(pattern(hash, 10 * BLOCK_SIZE, BLOCK_SIZE / 2));
  file.seekSync(20 * BLOCK_SIZE, Deno.SeekMode.Start);
  file.writeSync(pattern(hash, 20 * BLOCK_SIZE, 10 * BLOCK_SIZE));
  const report = f.store.reconcile();
  assert.equal(report.punchedBytes, 11 * BLOCK_SIZE);
  assert.equal(Deno.statSync(f.path(hash)).blocks! * 512, 10 * BLOCK_SIZE);
  checkInvariant(f.db, f.blobsDir, f.store);
});

Deno.test("BlobStore.reconcile() restores a file's size and keeps what it holds", async () => {
  await using f = new BlobFixture();
  const hash: Hash = await cache(f.store, "a", MIB, [[0, 100 * KIB], [900 * KIB, MIB]]);
  await f.reopen();
  Deno.truncateSync(f.path(hash), 500 * KIB);
  const report = f.store.reconcile();
  assert.deepEqual(report, {
    ...NOTHING,
    trimmedRows: 1,
    trimmedBytes: 124 * KIB,
    resizedFiles: 1,
  });
  assert.equal(Deno.statSync(f.path(hash)).size, MIB);
  assert.ok(f.store.get(hash)?.present.equals(ranges([0, 100 * KIB])));
  checkInvariant(f.db, f.blobsDir, f.store);
});

Deno.test("BlobStore.reconcile() drops verified when a verified blob lost data", async () => {
  await using f = new BlobFixture();
  const { content, hash } = contentHash(MIB);
  const blob = f.store.open(hash, MIB);
  blob.write(0, content);
  await blob.close();
  assert.deepEqual(await f.store.verify(hash), { status: "verified" });
  await f.reopen();
  punchHole(f.path(hash), 0, BLOCK_SIZE);
  assert.equal(f.store.reconcile().trimmedRows, 1);
  const info = f.store.get(hash);
  assert.equal(info?.verified, false);
  assert.ok(info?.present.equals(ranges([BLOCK_SIZE, MIB])));
});
