import assert from "node:assert/strict";
import { ByteRanges, type Hash } from "../types/mod.ts";
import { configure } from "../util/mod.ts";
import { BlobError, blobFileName } from "./blob_file.ts";
import type { BlobWriter } from "./blob_store.ts";
import {
  BlobFixture,
  checkInvariant,
  hashOf,
  maxBytes,
  MIB,
  pattern,
  ranges,
  waitUntil,
} from "./blob_testing.ts";

/** A write handed to {@linkcode HeldWriter}, done when the test says. */
interface HeldWrite {
  readonly hash: Hash;
  readonly offset: number;
  readonly data: Uint8Array;
  /** Writes the bytes into the file, then resolves. */
  finish(): void;
  fail(error: Error): void;
}

/** A writer that holds each write until the test finishes it (another thread, slowed). */
class HeldWriter implements BlobWriter {
  readonly held: HeldWrite[] = [];
  constructor(readonly path: (hash: Hash) => string) {}

  write(hash: Hash, offset: number, data: Uint8Array): Promise<void> {
    const copy = data.slice();
    const done = Promise.withResolvers<void>();
    this.held.push({
      hash,
      offset,
      data: copy,
      finish: () => {
        using file = Deno.openSync(this.path(hash), { write: true });
        file.seekSync(offset, Deno.SeekMode.Start);
        for (let n = 0; n < copy.length;) n += file.writeSync(copy.subarray(n));
        done.resolve();
      },
      fail: (error) => done.reject(error),
    });
    return done.promise;
  }

  /** Finishes every write held so far. */
  finishAll(): void {
    for (const w of this.held.splice(0)) w.finish();
  }
}

function fixture(limit: number | null = null): { f: BlobFixture; writer: HeldWriter } {
  const f = new BlobFixture({ limits: limit === null ? null : maxBytes(limit) });
  const writer = new HeldWriter((hash) => f.path(hash));
  f.store.setWriter(writer);
  return { f, writer };
}

Deno.test("BlobHandle.store() counts bytes on their way and makes them present once written", async () => {
  const { f, writer } = fixture();
  await using _ = f;
  const hash = hashOf("a");
  const blob = f.store.open(hash, 2 * MIB);
  const data = pattern(hash, 0, MIB);
  const stored = blob.store(0, data);
  assert.ok(stored instanceof Promise);
  data.fill(0); // the caller may reuse its buffer at once: the writer has a copy
  assert.ok(blob.present().isEmpty(), "not present while on its way");
  assert.deepEqual(blob.read(0, 10), { missing: ranges([0, 10]) });
  assert.equal(f.store.usage().working, MIB, "counted against the quota already");
  assert.equal(writer.held.length, 1);
  writer.finishAll();
  assert.equal(await stored, "stored");
  assert.deepEqual(blob.present(), ranges([0, MIB]));
  assert.deepEqual(blob.read(100, 10), pattern(hash, 100, 10));
  assert.equal(await blob.store(0, pattern(hash, 0, 10)), "stored", "already present");
  assert.equal(writer.held.length, 0, "present bytes are not written again");
  await blob.close();
  assert.deepEqual(f.recorded(hash), ranges([0, MIB]), "recorded after the data");
  checkInvariant(f.db, f.blobsDir, f.store);
});

Deno.test("BlobHandle.store() skips at once when bytes on their way fill the quota", async () => {
  const { f, writer } = fixture(2 * MIB);
  await using _ = f;
  const hash = hashOf("kept");
  await using blob = f.store.open(hash, 4 * MIB, { area: "protected" });
  const first = blob.store(0, pattern(hash, 0, MIB));
  const second = blob.store(MIB, pattern(hash, MIB, MIB));
  assert.ok(first instanceof Promise && second instanceof Promise);
  assert.equal(blob.store(2 * MIB, pattern(hash, 2 * MIB, MIB)), "skipped", "no room left");
  assert.equal(writer.held.length, 2);
  writer.finishAll();
  assert.deepEqual(await Promise.all([first, second]), ["stored", "stored"]);
  assert.equal(f.store.usage().total, 2 * MIB);
});

Deno.test("a blob larger than the cache never trims bytes on their way", async () => {
  const { f, writer } = fixture(2 * MIB);
  await using _ = f;
  const hash = hashOf("stream");
  await using blob = f.store.open(hash, 8 * MIB);
  const first = blob.store(0, pattern(hash, 0, MIB));
  writer.finishAll();
  assert.equal(await first, "stored");
  const second = blob.store(MIB, pattern(hash, MIB, MIB)); // on its way
  const third = blob.store(2 * MIB, pattern(hash, 2 * MIB, MIB)); // trims [0, 1 MiB)
  assert.ok(second instanceof Promise && third instanceof Promise);
  assert.deepEqual(blob.present(), ByteRanges.empty(), "the written bytes behind went");
  assert.ok(f.store.usage().total <= 2 * MIB);
  writer.finishAll();
  assert.deepEqual(await Promise.all([second, third]), ["stored", "stored"]);
  assert.deepEqual(blob.present(), ranges([MIB, 3 * MIB]));
  assert.deepEqual(blob.read(MIB, MIB), pattern(hash, MIB, MIB));
  await blob.flush();
  checkInvariant(f.db, f.blobsDir, f.store);
});

Deno.test("bytes written after their blob was removed are not present", async () => {
  const { f, writer } = fixture();
  await using _ = f;
  const hash = hashOf("gone");
  const blob = f.store.open(hash, MIB);
  const stored = blob.store(0, pattern(hash, 0, 4096));
  assert.equal(f.store.remove(hash), true);
  assert.equal(f.store.usage().total, 0);
  writer.held.splice(0)[0]!.fail(new Deno.errors.NotFound("the file was deleted"));
  assert.equal(await stored, "skipped");
  assert.equal(f.store.usage().total, 0);
  assert.equal(f.store.get(hash), null);
  await blob.close();
  checkInvariant(f.db, f.blobsDir, f.store);
});

Deno.test("a failed write elsewhere gives back its room: a full disk skips, others throw", async () => {
  const { f, writer } = fixture();
  await using _ = f;
  const hash = hashOf("fail");
  await using blob = f.store.open(hash, 2 * MIB);
  const full = blob.store(0, pattern(hash, 0, MIB));
  writer.held.splice(0)[0]!.fail(Object.assign(new Error("No space left"), { code: "ENOSPC" }));
  assert.equal(await full, "skipped");
  assert.equal(f.store.usage().total, 0);
  const broken = blob.store(MIB, pattern(hash, MIB, MIB));
  writer.held.splice(0)[0]!.fail(new Error("Input/output error"));
  await assert.rejects(Promise.resolve(broken), BlobError);
  assert.equal(f.store.usage().total, 0);
  assert.ok(blob.present().isEmpty());
});

Deno.test("a full disk is warned of once, not at every write it skips", async () => {
  const { f, writer } = fixture();
  await using _ = f;
  const hash = hashOf("full");
  await using blob = f.store.open(hash, 4 * MIB);
  const lines: string[] = [];
  const previous = configure({ write: (line) => lines.push(line) });
  try {
    for (let i = 0; i < 3; i++) {
      const stored = blob.store(i * MIB, pattern(hash, i * MIB, MIB));
      writer.held.splice(0)[0]!.fail(Object.assign(new Error("No space"), { code: "ENOSPC" }));
      assert.equal(await stored, "skipped");
    }
  } finally {
    configure(previous);
  }
  const warned = lines.filter((l) => l.includes("disk full"));
  assert.equal(warned.length, 1, warned.join("\n"));
  assert.match(warned[0]!, new RegExp(blobFileName(hash)));
});

Deno.test("a store of bytes already on their way waits for them, then writes the rest", async () => {
  const { f, writer } = fixture();
  await using _ = f;
  const hash = hashOf("overlap");
  await using blob = f.store.open(hash, 2 * MIB);
  const first = blob.store(0, pattern(hash, 0, MIB));
  const wider = blob.store(MIB / 2, pattern(hash, MIB / 2, MIB));
  assert.equal(writer.held.length, 1, "the second waits for the first");
  writer.finishAll();
  assert.equal(await first, "stored");
  await waitUntil(() => writer.held.length === 1, "the rest is written");
  assert.deepEqual(
    writer.held.map((w) => [w.offset, w.data.length]),
    [[MIB, MIB / 2]],
    "only what is not present",
  );
  writer.finishAll();
  assert.equal(await wider, "stored");
  assert.deepEqual(blob.read(0, 3 * MIB / 2), pattern(hash, 0, 3 * MIB / 2));
});

Deno.test("BlobStore.close() waits for writes on their way, then records them", async () => {
  const { f, writer } = fixture();
  const hash = hashOf("closing");
  const blob = f.store.open(hash, MIB);
  const stored = blob.store(0, pattern(hash, 0, MIB));
  await blob.close();
  let closed = false;
  const closing = f.store.close().then(() => closed = true);
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(closed, false, "close() waits for the write");
  writer.finishAll();
  await closing;
  assert.equal(await stored, "stored");
  assert.deepEqual(f.recorded(hash), ranges([0, MIB]));
  await f[Symbol.asyncDispose]();
});

Deno.test("without a writer, BlobHandle.store() writes here", async () => {
  await using f = new BlobFixture({ limits: maxBytes(MIB) });
  const hash = hashOf("inline");
  await using blob = f.store.open(hash, 2 * MIB, { area: "protected" });
  const stored = blob.store(0, pattern(hash, 0, MIB));
  assert.ok(stored instanceof Promise);
  assert.deepEqual(blob.present(), ranges([0, MIB]), "present at once");
  assert.equal(await stored, "stored");
  assert.equal(blob.store(MIB, pattern(hash, MIB, MIB)), "skipped", "no room");
});

Deno.test("a write here next to bytes on their way counts both against the quota", async () => {
  const { f, writer } = fixture(2 * MIB);
  await using _ = f;
  const hash = hashOf("both");
  await using blob = f.store.open(hash, 4 * MIB);
  const onItsWay = blob.store(0, pattern(hash, 0, MIB));
  assert.equal(blob.write(MIB, pattern(hash, MIB, MIB)), "stored");
  assert.equal(f.store.usage().total, 2 * MIB);
  // A third MiB needs room: the written one goes (bytes on their way are never trimmed).
  assert.equal(blob.write(2 * MIB, pattern(hash, 2 * MIB, MIB)), "stored");
  assert.ok(f.store.usage().total <= 2 * MIB, `within the quota: ${f.store.usage().total}`);
  writer.finishAll();
  assert.equal(await onItsWay, "stored");
  assert.deepEqual(blob.present(), ranges([0, MIB], [2 * MIB, 3 * MIB]));
  await blob.flush();
  checkInvariant(f.db, f.blobsDir, f.store);
});
