import assert from "node:assert/strict";
import { Database, openArenaDatabase, openGlobalDatabase } from "../storage/mod.ts";
import { GLOBAL_INODE_SCHEMA } from "../storage/mod.ts";
import { ByteRange, Hash, parseArenaName } from "../types/mod.ts";
import { ARENA_SCHEMAS, BlobStore, GLOBAL_TREE_SCHEMA, UnrealArena } from "../unreal/mod.ts";
import { CachedReads } from "./cached_reads.ts";

const DOCS = parseArenaName("docs");
const KiB = 1024;

function content(size: number, seed = 0): Uint8Array {
  const out = new Uint8Array(size);
  for (let i = 0; i < size; i++) out[i] = (i * 31 + seed + (i >>> 9)) & 0xff;
  return out;
}

/** An arena's blob store (the main thread's side) and the worker's own connection. */
class Fixture {
  readonly dir = Deno.makeTempDirSync({ prefix: "realize_cached_reads_" });
  readonly globalDb = openGlobalDatabase(`${this.dir}/cache.db`, {
    schemas: [GLOBAL_INODE_SCHEMA, GLOBAL_TREE_SCHEMA],
  });
  readonly db = openArenaDatabase(`${this.dir}/work`, DOCS, { schemas: ARENA_SCHEMAS });
  readonly unreal = UnrealArena.open({
    name: DOCS,
    db: this.db,
    globalDb: this.globalDb,
    workdir: `${this.dir}/work`,
    diskUsage: null,
  });
  readonly workerDb = Database.open(`${this.dir}/work/arena.db`, { schemas: ARENA_SCHEMAS });
  readonly cached = new CachedReads(this.workerDb, `${this.dir}/work/blobs`);

  get blobs(): BlobStore {
    return this.unreal.blobs;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.cached.close();
    this.workerDb.close();
    await this.unreal.close();
    this.db.close();
    this.globalDb.close();
    await Deno.remove(this.dir, { recursive: true });
  }
}

Deno.test("CachedReads.read() serves recorded ranges and leaves the rest to the main thread", async () => {
  await using f = new Fixture();
  const data = content(256 * KiB);
  const hash = Hash.of(data);
  assert.equal(f.cached.read(hash, 0, 4 * KiB), null, "no blob yet");
  const blob = f.blobs.open(hash, data.length);
  blob.write(0, data.subarray(0, 128 * KiB));
  assert.equal(f.cached.read(hash, 0, 4 * KiB), null, "written but not recorded yet");
  await blob.flush();
  assert.deepEqual(f.cached.read(hash, 4 * KiB, 64 * KiB), data.subarray(4 * KiB, 68 * KiB));
  assert.equal(f.cached.read(hash, 120 * KiB, 16 * KiB), null, "partly missing");
  blob.write(128 * KiB, data.subarray(128 * KiB));
  await blob.flush();
  assert.deepEqual(f.cached.read(hash, 120 * KiB, 16 * KiB), data.subarray(120 * KiB, 136 * KiB));
  assert.equal(f.cached.stats.hits, 2);
  await blob.close();
});

Deno.test("CachedReads.read() stops at a removed blob, and reopens one made again", async () => {
  await using f = new Fixture();
  const data = content(64 * KiB, 7);
  const hash = Hash.of(data);
  let blob = f.blobs.open(hash, data.length);
  blob.write(0, data);
  await blob.flush();
  assert.deepEqual(f.cached.read(hash, 0, 8 * KiB), data.subarray(0, 8 * KiB));
  await blob.close();
  f.blobs.remove(hash); // the worker's file stays open: its inode is gone from the path
  assert.equal(f.cached.read(hash, 0, 8 * KiB), null, "not recorded any more");
  // Made again with only the second half: the old file had the first half, the new one
  // must not be read through the old descriptor.
  blob = f.blobs.open(hash, data.length);
  blob.write(32 * KiB, data.subarray(32 * KiB));
  await blob.flush();
  assert.equal(f.cached.read(hash, 0, 8 * KiB), null, "the first half is not in the new blob");
  assert.deepEqual(f.cached.read(hash, 40 * KiB, 8 * KiB), data.subarray(40 * KiB, 48 * KiB));
  await blob.close();
});

Deno.test("CachedReads.read() returns a view of one reused buffer", async () => {
  await using f = new Fixture();
  const data = content(64 * KiB, 3);
  const hash = Hash.of(data);
  const blob = f.blobs.open(hash, data.length);
  blob.write(0, data);
  await blob.flush();
  const a = f.cached.read(hash, 0, 4 * KiB)!;
  const b = f.cached.read(hash, 4 * KiB, 4 * KiB)!;
  assert.equal(a.buffer, b.buffer, "no allocation per read");
  assert.deepEqual(b, data.subarray(4 * KiB, 8 * KiB));
  await blob.close();
});

Deno.test("CachedReads.read() skips its checks while nothing is committed, not after", async () => {
  await using f = new Fixture();
  const data = content(64 * KiB, 5);
  const hash = Hash.of(data);
  const blob = f.blobs.open(hash, data.length);
  blob.write(0, data);
  await blob.flush();
  assert.deepEqual(f.cached.read(hash, 0, 8 * KiB), data.subarray(0, 8 * KiB));
  assert.equal(f.cached.stats.unchecked, 0, "the first read checks");
  assert.deepEqual(f.cached.read(hash, 8 * KiB, 8 * KiB), data.subarray(8 * KiB, 16 * KiB));
  assert.equal(f.cached.stats.unchecked, 1, "nothing committed since: no queries");
  await blob.close();
  f.blobs.remove(hash); // a commit: the next read checks, and finds nothing
  assert.equal(f.cached.read(hash, 0, 8 * KiB), null);
  assert.equal(f.cached.stats.unchecked, 1);
});

Deno.test("CachedReads: announced ranges count only while the fence's epoch is unchanged", async () => {
  await using f = new Fixture();
  const data = content(64 * KiB, 9);
  const hash = Hash.of(data);
  const blob = f.blobs.open(hash, data.length);
  blob.write(0, data.subarray(0, 32 * KiB)); // stored, not recorded
  const r = (start: number, end: number) => ByteRange.of(start, end);
  assert.equal(f.cached.read(hash, 0, 4 * KiB), null, "not recorded: the checked path says no");
  f.cached.noteStored(hash, r(0, 16 * KiB), 7);
  f.cached.noteStored(hash, r(16 * KiB, 32 * KiB), 7);
  assert.ok(f.cached.announced(hash, r(8 * KiB, 24 * KiB), 7), "announcements add up");
  assert.equal(f.cached.announced(hash, r(8 * KiB, 40 * KiB), 7), false, "not beyond them");
  assert.equal(f.cached.announced(hash, r(0, 4 * KiB), 8), false, "a raised epoch voids them");
  assert.deepEqual(f.cached.readStored(hash, 8 * KiB, 16 * KiB), data.subarray(8 * KiB, 24 * KiB));
  f.cached.noteStored(hash, r(32 * KiB, 40 * KiB), 8); // a new epoch starts over
  assert.equal(f.cached.announced(hash, r(0, 4 * KiB), 8), false);
  assert.ok(f.cached.announced(hash, r(32 * KiB, 40 * KiB), 8));
  await blob.close();
});

Deno.test("CachedReads.write() stores and notes bytes; reads of expected bytes wait for them", async () => {
  await using f = new Fixture();
  const data = content(3 * 64 * KiB);
  const hash = Hash.of(data);
  await using _blob = f.blobs.open(hash, data.length); // the file, as the main thread makes it
  const range = (s: number, e: number) => ByteRange.of(s * 64 * KiB, e * 64 * KiB);
  assert.equal(
    f.cached.waitFor(hash, range(0, 1)),
    null,
    "nothing on its way: ask the main thread",
  );
  f.cached.expect(hash, range(0, 3));
  assert.ok(f.cached.holds(hash, range(0, 3)), "on its way: not to be fetched ahead again");
  let first = false;
  let both = false;
  void f.cached.waitFor(hash, range(0, 1))!.then(() => first = true);
  void f.cached.waitFor(hash, range(1, 3))!.then(() => both = true);
  f.cached.write(hash, 0, data.subarray(0, 64 * KiB), 5);
  await Promise.resolve();
  assert.ok(first, "its bytes are written");
  assert.ok(!both, "still waiting for part of it");
  assert.ok(f.cached.announced(hash, range(0, 1), 5), "noted as of the epoch it was sent in");
  assert.ok(!f.cached.announced(hash, range(0, 1), 6), "not once the epoch moved on");
  assert.deepEqual(f.cached.readStored(hash, 0, 64 * KiB), data.subarray(0, 64 * KiB));
  f.cached.write(hash, 64 * KiB, data.subarray(64 * KiB, 128 * KiB), 5);
  await Promise.resolve();
  assert.ok(!both);
  f.cached.ended(hash, range(2, 3)); // the fetch ended without the last part
  await Promise.resolve();
  assert.ok(both, "nothing of it on its way any more: the read goes on");
  assert.equal(f.cached.waitFor(hash, range(2, 3)), null);
  assert.ok(!f.cached.holds(hash, range(2, 3)));
  // A write that fails (the blob removed) is not noted, and ends what it was expected for.
  f.cached.expect(hash, range(2, 3));
  const waiting = f.cached.waitFor(hash, range(2, 3))!;
  f.blobs.remove(hash);
  assert.throws(() => f.cached.write(hash, 128 * KiB, data.subarray(128 * KiB), 5));
  await waiting;
  assert.ok(!f.cached.announced(hash, range(2, 3), 5));
});
