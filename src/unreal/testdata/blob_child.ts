/**
 * A process that uses a blob store until it is killed, for `blob_crash_test.ts`.
 *
 * `deno run -A blob_child.ts DB DIR MODE SEED`: opens the database and the store, runs
 * `reconcile()`, prints `ready`, then loops forever:
 *
 * - `write`: opens one of a few blobs at random, writes random ranges of the test pattern,
 *   sometimes flushes, retires or removes it, closes it;
 * - `evict`: caches a stream of new blobs under a tight quota (`EVICT_QUOTA`), every fourth
 *   one larger than the quota, so whole-blob evictions and trims of the stream's own data
 *   happen all the time.
 *
 * @module
 */

// deno-lint-ignore-file no-console
import { Database } from "../../storage/mod.ts";
import { BLOB_SCHEMA } from "../blob_schema.ts";
import { BlobStore } from "../blob_store.ts";
import { hashOf, KIB, maxBytes, MIB, pattern } from "../blob_testing.ts";

/** The quota of `evict` mode. */
export const EVICT_QUOTA = 4 * MIB;
/** Bytes per write in `evict` mode: the tolerance of the quota. */
export const EVICT_CHUNK = 64 * KIB;
/** How many distinct blobs `write` mode uses. */
export const WRITE_BLOBS = 12;

/** xorshift32: deterministic per seed. */
function random(seed: number): (n: number) => number {
  let x = seed | 1;
  return (n) => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) % n;
  };
}

async function writeLoop(store: BlobStore, next: (n: number) => number): Promise<never> {
  for (;;) {
    const i = next(WRITE_BLOBS);
    const hash = hashOf(`write-${i}`);
    const size = (i + 1) * 700 * KIB + i;
    const blob = store.open(hash, size);
    for (let n = next(8); n >= 0; n--) {
      const start = next(size);
      const end = Math.min(size, start + 1 + next(300 * KIB));
      blob.write(start, pattern(hash, start, end - start));
      if (next(4) === 0) await blob.flush();
    }
    const fate = next(20);
    if (fate === 0) store.remove(hash);
    else if (fate === 1) store.retire(hash);
    await blob.close();
  }
}

async function evictLoop(store: BlobStore, seed: number): Promise<never> {
  for (let i = 0;; i++) {
    const hash = hashOf(`evict-${seed}-${i}`);
    const size = i % 4 === 3 ? 3 * EVICT_QUOTA + 5 : 256 * KIB + (i % 7) * 150 * KIB;
    const blob = store.open(hash, size, { area: i % 5 === 0 ? "protected" : "working" });
    for (let at = 0; at < size; at += EVICT_CHUNK) {
      blob.write(at, pattern(hash, at, Math.min(EVICT_CHUNK, size - at)));
      if (at % (8 * EVICT_CHUNK) === 0) await new Promise((resolve) => setTimeout(resolve, 0));
    }
    await blob.close();
    if (i % 3 === 0) store.retire(hash);
    if (i % 5 === 0) store.setArea(hash, "working"); // protected blobs must not fill the quota
  }
}

async function main(): Promise<void> {
  const [dbPath, dir, mode, seedText] = Deno.args;
  if (dbPath === undefined || dir === undefined || (mode !== "write" && mode !== "evict")) {
    throw new Error("usage: blob_child.ts DB DIR write|evict SEED");
  }
  const seed = Number(seedText ?? "1");
  const db = Database.open(dbPath, { schemas: [BLOB_SCHEMA] });
  const limits = mode === "evict" ? maxBytes(EVICT_QUOTA) : null;
  const store = BlobStore.open({ db, dir, limits, flushBytes: 128 * KIB });
  store.reconcile();
  console.log("ready");
  if (mode === "write") await writeLoop(store, random(seed));
  else await evictLoop(store, seed);
}

if (import.meta.main) await main();
