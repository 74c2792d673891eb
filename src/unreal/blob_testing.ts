/**
 * Test fixture for the blob store: a real SQLite file and a real blobs directory in a
 * temporary directory, deterministic content, the crash-safety invariant as a check, and
 * condition waits with deadlines. Not used by product code.
 *
 * @module
 */

import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import type { DiskUsage } from "../config/mod.ts";
import { Database } from "../storage/mod.ts";
import { ByteRange, ByteRanges, Hash } from "../types/mod.ts";
import { blobFileName } from "./blob_file.ts";
import { allBlobRows, BLOB_SCHEMA } from "./blob_schema.ts";
import { BlobStore, type BlobStoreOptions } from "./blob_store.ts";
import { blockUsage } from "./cache_usage.ts";

/** How long a test waits for a condition before failing. */
export const DEADLINE_MS = 20_000;
/** 1 KiB, 1 MiB. */
export const KIB = 1024;
export const MIB = 1024 * 1024;

/**
 * A synthetic version hash (not the hash of its content: tests that verify use
 * {@linkcode contentHash}).
 *
 * @param name any text
 * @returns a hash
 */
export function hashOf(name: string): Hash {
  return Hash.of(new TextEncoder().encode(name));
}

/**
 * The deterministic content of a blob: byte `o` is a function of the hash and `o`, never 0,
 * so a hole (zeros) never passes for data.
 *
 * @param hash the blob
 * @param offset first byte
 * @param length bytes
 * @returns the bytes
 */
export function pattern(hash: Hash, offset: number, length: number): Uint8Array {
  const seed = hash.bytes()[0]! * 256 + hash.bytes()[1]!;
  const out = new Uint8Array(length);
  for (let i = 0; i < length; i++) {
    const o = offset + i;
    out[i] = 1 + ((o * 131 + Math.floor(o / 2048) * 7 + seed) % 255);
  }
  return out;
}

/**
 * Content for tests that verify: `size` deterministic bytes and their real BLAKE3 hash.
 *
 * @param size bytes
 * @returns the content and its hash
 */
export function contentHash(size: number): { content: Uint8Array; hash: Hash } {
  const content = pattern(hashOf(`content-${size}`), 0, size);
  return { content, hash: Hash.of(content) };
}

/**
 * Byte ranges from `[start, end)` pairs.
 *
 * @param pairs the ranges
 * @returns them
 */
export function ranges(...pairs: [number, number][]): ByteRanges {
  return ByteRanges.from(pairs.map(([s, e]) => ByteRange.of(s, e)));
}

/**
 * `disk_usage = { max = bytes }`.
 *
 * @param bytes the maximum
 * @returns the limits
 */
export function maxBytes(bytes: number): DiskUsage {
  return { max: { kind: "bytes", bytes }, leave: null };
}

/** A store over a fresh database file and blobs directory. */
export class BlobFixture {
  /** The temporary directory. */
  readonly root = Deno.makeTempDirSync({ prefix: "realize_blob_" });
  /** The database file. */
  readonly dbPath = join(this.root, "arena.db");
  /** The blobs directory. */
  blobsDir = join(this.root, "blobs");
  /** The database. */
  db: Database;
  /** The store. */
  store: BlobStore;
  #options: Partial<BlobStoreOptions>;

  /**
   * @param options store options (limits default to none); `dir` replaces the blobs dir
   */
  constructor(options: Partial<BlobStoreOptions> = {}) {
    if (options.dir !== undefined) this.blobsDir = options.dir;
    this.#options = options;
    this.db = Database.open(this.dbPath, { schemas: [BLOB_SCHEMA] });
    this.store = this.#open();
  }

  #open(): BlobStore {
    return BlobStore.open({ limits: null, ...this.#options, db: this.db, dir: this.blobsDir });
  }

  /**
   * Closes the store and the database, then opens both again (a restart).
   *
   * @returns the new store
   */
  async reopen(): Promise<BlobStore> {
    await this.store.close();
    this.db.close();
    this.db = Database.open(this.dbPath, { schemas: [BLOB_SCHEMA] });
    this.store = this.#open();
    return this.store;
  }

  /**
   * The path of a blob's file.
   *
   * @param hash the blob
   * @returns the path
   */
  path(hash: Hash): string {
    return join(this.blobsDir, blobFileName(hash));
  }

  /**
   * The ranges the database records for a blob, read beside the store (a second
   * connection, as a crashed process's successor would see them).
   *
   * @param hash the blob
   * @returns the ranges, or `null` without a row
   */
  recorded(hash: Hash): ByteRanges | null {
    const db = new DatabaseSync(this.dbPath, { readOnly: true });
    try {
      const row = db.prepare("SELECT ranges FROM blob_entry WHERE hash = ?").get(hash.bytes());
      return row === undefined ? null : ByteRanges.fromJSON(JSON.parse(String(row.ranges)));
    } finally {
      db.close();
    }
  }

  /** Closes everything and removes the directory. */
  async [Symbol.asyncDispose](): Promise<void> {
    try {
      await this.store.close();
      this.db.close();
    } finally {
      Deno.removeSync(this.root, { recursive: true });
    }
  }
}

/**
 * Checks the crash-safety invariant: every range a row records reads back the pattern
 * bytes from the blob's file, every row's usage is the blocks of its ranges, and `store`'s
 * total equals the sum over the rows.
 *
 * @param db the database
 * @param dir the blobs directory
 * @param store the store (its usage totals are compared), or `null`
 * @returns the number of rows and recorded bytes checked
 * @throws {Error} describing the first violation
 */
export function checkInvariant(
  db: Database,
  dir: string,
  store: BlobStore | null,
): { rows: number; bytes: number } {
  const rows = db.read((tx) => [...allBlobRows(tx)]);
  let usage = 0;
  let bytes = 0;
  for (const row of rows) {
    const key = blobFileName(row.hash);
    if (row.usage !== blockUsage(row.ranges)) throw new Error(`${key}: usage ${row.usage}`);
    usage += row.usage;
    if (row.ranges.isEmpty()) continue;
    using file = Deno.openSync(join(dir, key), { read: true });
    for (const range of row.ranges.ranges()) {
      const got = new Uint8Array(range.byteCount());
      file.seekSync(range.start, Deno.SeekMode.Start);
      for (let done = 0; done < got.length;) {
        const n = file.readSync(got.subarray(done));
        if (n === null) throw new Error(`${key}: file ends inside recorded ${range}`);
        done += n;
      }
      const want = pattern(row.hash, range.start, range.byteCount());
      const bad = got.findIndex((b, i) => b !== want[i]);
      if (bad >= 0) throw new Error(`${key}: recorded ${range} differs at ${range.start + bad}`);
      bytes += got.length;
    }
  }
  if (store !== null && store.usage().total !== usage) {
    throw new Error(`store total ${store.usage().total} != sum over rows ${usage}`);
  }
  return { rows: rows.length, bytes };
}

/**
 * Waits until `condition` holds, polling every few milliseconds.
 *
 * @param condition checked until it returns true
 * @param what description for the timeout error
 * @param timeoutMs deadline
 * @throws {Error} when the deadline passes first
 */
export async function waitUntil(
  condition: () => boolean,
  what: string,
  timeoutMs = DEADLINE_MS,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

/**
 * Mounts a tmpfs of `sizeMib` MiB on a fresh directory (needs root).
 *
 * @param sizeMib its size
 * @returns the mount point; disposing unmounts and removes it
 * @throws {Error} when mount fails
 */
export function mountTmpfs(sizeMib: number): { path: string } & Disposable {
  const path = Deno.makeTempDirSync({ prefix: "realize_tmpfs_" });
  const args = ["-t", "tmpfs", "-o", `size=${sizeMib}m`, "realize-test", path];
  const out = new Deno.Command("mount", { args, stderr: "piped" }).outputSync();
  if (!out.success) {
    Deno.removeSync(path);
    throw new Error(`mount tmpfs failed: ${new TextDecoder().decode(out.stderr)}`);
  }
  return {
    path,
    [Symbol.dispose]: () => {
      new Deno.Command("umount", { args: [path] }).outputSync();
      Deno.removeSync(path, { recursive: true });
    },
  };
}
