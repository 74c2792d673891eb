/**
 * The blob store: cached bytes of remote file versions, one sparse file per version under
 * `<workdir>/blobs/`, described by the `blob_entry` table of the arena database, kept under
 * the arena's `disk_usage` quota by an LRU cleaner (seeds `#bloblru`, `#largedl`).
 *
 * ```ts ignore
 * const store = BlobStore.open({ db, dir: `${workdir}/blobs`, limits: arena.diskUsage });
 * store.reconcile(); // once, at start-up
 * await using blob = store.open(hash, size, { area: "working" });
 * const got = blob.read(offset, length);
 * if (!(got instanceof Uint8Array)) {
 *   for (const range of got.missing.ranges()) blob.write(range.start, await fetch(range));
 * }
 * ```
 *
 * Crash safety: data is written to the file (and `fdatasync`ed, off the main thread) before
 * its range is recorded; a range is recorded as gone before it is punched out or its file
 * deleted. So every range the database records is in the file, after SIGKILL or power loss.
 * See `docs/cache.md`.
 *
 * @module
 */

import { join } from "node:path";
import { punchHole, statvfs } from "../../ffi/libc/mod.ts";
import type { DiskUsage } from "../config/mod.ts";
import type { Database } from "../storage/mod.ts";
import { ByteRange, ByteRanges, type Hash } from "../types/mod.ts";
import { assert, logger } from "../util/mod.ts";
import { BlobError, BlobFile, blobFileName, messageOf } from "./blob_file.ts";
import {
  BlobHandle,
  type BlobHost,
  type ReadResult,
  type StoreResult,
  type WriteResult,
} from "./blob_handle.ts";
import { type FileHash, type HashFileFn, hashFileInline } from "./blob_hash.ts";
import { reconcileBlobs, type ReconcileReport } from "./blob_reconcile.ts";
import {
  type Area,
  type BlobRow,
  deleteBlobRow,
  getBlobRow,
  maxBlobLru,
  putBlobRow,
  setBlobArea,
  setBlobLru,
  setBlobRanges,
  usageByArea,
} from "./blob_schema.ts";
import { chooseVictims, trimPlan, type Victim } from "./cache_cleaner.ts";
import { alignOutward, blockUsage, needsSpace, quotaBytes } from "./cache_usage.ts";

const log = logger("blob");

/** Written bytes after which a blob's ranges are flushed to the database. */
export const FLUSH_BYTES_DEFAULT = 4 << 20;
/** How long LRU touches wait in memory before they are written in one transaction. */
export const TOUCH_FLUSH_MS = 500;
/** Least time between two "disk full" warnings. */
export const DISK_FULL_LOG_MS = 10_000;
/** Least a blob larger than the cache trims of itself at once (fewer, larger punches). */
export const TRIM_BYTES_MIN = 1 << 20;

/** Options of {@linkcode BlobStore.open}. */
export interface BlobStoreOptions {
  /** The arena database, opened with `BLOB_SCHEMA` among its schemas. */
  readonly db: Database;
  /** The blobs directory, `<workdir>/blobs`; created when missing. */
  readonly dir: string;
  /** The arena's `disk_usage`, or `null` for an unlimited cache. */
  readonly limits: DiskUsage | null;
  /** Hashes a complete blob for {@linkcode BlobStore.verify}; default: on this thread. */
  readonly hashFile?: HashFileFn;
  /** Told about each blob the cleaner evicts (events, audit log). Must not throw. */
  readonly onEvict?: (hash: Hash, bytes: number) => void;
  /** Written bytes between flushes of a blob's ranges; default 4 MiB. */
  readonly flushBytes?: number;
}

/** Options of {@linkcode BlobStore.open}`()` on one blob. */
export interface OpenBlobOptions {
  /** The area of a new blob (`working` for mark watch, `protected` for keep/own). */
  readonly area?: Area;
}

/** What the store knows about one blob. */
export interface BlobInfo {
  /** The version's hash. */
  readonly hash: Hash;
  /** The version's size in bytes. */
  readonly size: number;
  /** The cache area. */
  readonly area: Area;
  /** Whether the whole content was hashed and matched. */
  readonly verified: boolean;
  /** Bytes present (including written bytes not yet recorded, when open). */
  readonly present: ByteRanges;
  /** Bytes of the 4 KiB blocks the present ranges touch. */
  readonly usage: number;
  /** Whether a handle is open on it. */
  readonly open: boolean;
}

/** Usage of the cache in bytes: the total and per area. */
export interface CacheUsage {
  /** All areas. */
  readonly total: number;
  /** Evictable blobs (mark watch). */
  readonly working: number;
  /** Never evicted (marks keep, own). */
  readonly protected: number;
  /** Replaced or deleted versions, evicted first. */
  readonly pending: number;
}

/** What {@linkcode BlobStore.enforce} did. */
export interface EvictionReport {
  /** Blobs evicted, in order. */
  readonly evicted: Hash[];
  /** Bytes they used. */
  readonly freedBytes: number;
  /** Usage afterwards. */
  readonly usage: CacheUsage;
  /** The quota, or `null` when unlimited. */
  readonly quota: number | null;
  /** How far usage is still over the quota (open and protected blobs), or 0. */
  readonly overBytes: number;
}

/** What {@linkcode BlobStore.verify} found. */
export type VerifyResult =
  | { readonly status: "verified" }
  | { readonly status: "mismatch"; readonly actual: Hash }
  | { readonly status: "incomplete"; readonly missing: ByteRanges };

/**
 * The blob cache of one arena. Not thread-safe: one per arena, on one thread. Methods that
 * change something run their own short transactions and must not be called inside
 * `db.read()`/`db.write()` (reads and `get()` may).
 */
export class BlobStore {
  readonly #db: Database;
  readonly #dir: string;
  #limits: DiskUsage | null;
  readonly #hashFile: HashFileFn;
  readonly #onEvict: ((hash: Hash, bytes: number) => void) | undefined;
  readonly #flushBytes: number;
  /** Open blobs by file name. */
  readonly #open = new Map<string, BlobFile>();
  /** LRU positions not yet written, by file name. */
  readonly #touches = new Map<string, { hash: Hash; lru: number }>();
  #touchTimer: ReturnType<typeof setTimeout> | null = null;
  #lru = 0;
  #usage: Record<Area, number> = { working: 0, protected: 0, pending: 0 };
  #closing: Promise<void> | null = null;
  #closed = false;
  readonly #host: BlobHost;
  #fence: ReaderFence | null = null;
  #writer: BlobWriter | null = null;
  #diskFullLoggedMs = -Infinity;
  #diskFullSince = 0;
  /** Writes under way elsewhere, awaited on close. */
  readonly #writing = new Set<Promise<unknown>>();

  private constructor(options: BlobStoreOptions) {
    this.#db = options.db;
    this.#dir = options.dir;
    this.#limits = options.limits;
    this.#hashFile = options.hashFile ?? hashFileInline;
    this.#onEvict = options.onEvict;
    this.#flushBytes = options.flushBytes ?? FLUSH_BYTES_DEFAULT;
    assert(Number.isSafeInteger(this.#flushBytes), "flushBytes is an integer");
    assert(this.#flushBytes > 0, "flushBytes is positive");
    this.#host = {
      read: (blob, offset, length, buffer) => this.#read(blob, offset, length, buffer),
      touch: (blob) => {
        this.#checkOpen();
        this.#touch(blob);
      },
      write: (blob, offset, data) => this.#write(blob, offset, data),
      store: (blob, offset, data) => this.#store(blob, offset, data),
      flush: (blob) => this.#flushNow(blob),
      release: (blob) => this.#release(blob),
    };
  }

  /**
   * Opens the store: creates the directory and loads the usage totals. Call
   * {@linkcode BlobStore.reconcile} once before use after a start.
   *
   * @param options database, directory, limits
   * @returns the store
   * @throws {BlobError} when the directory cannot be created
   * @throws {StorageError} when the database fails
   */
  static open(options: BlobStoreOptions): BlobStore {
    try {
      Deno.mkdirSync(options.dir, { recursive: true });
    } catch (cause) {
      throw new BlobError(`Cannot open blob store "${options.dir}": ${messageOf(cause)}`, {
        cause,
      });
    }
    const store = new BlobStore(options);
    store.#loadTotals();
    return store;
  }

  /** The blobs directory. */
  get dir(): string {
    return this.#dir;
  }

  /**
   * Opens a blob, creating it (empty, as a sparse file) when it is new. Handles on the
   * same blob share what is present. Touches the blob's LRU position.
   *
   * @param hash the version's hash
   * @param size the version's size; a blob known with another size is reset (emptied)
   * @param options `area` of a new blob (default `working`); an existing blob keeps its
   *   area (change it with {@linkcode BlobStore.setArea})
   * @returns a handle; close it
   * @throws {RangeError} when `size` is not a natural number
   * @throws {BlobError} when the store is closed, the blob is open with another size, or
   *   its file cannot be created
   * @throws {StorageError} when the database fails
   */
  open(hash: Hash, size: number, options: OpenBlobOptions = {}): BlobHandle {
    this.#checkChange();
    if (!Number.isSafeInteger(size) || size < 0) {
      throw new RangeError(`Cannot open blob ${hash}: invalid size ${size}`);
    }
    const key = blobFileName(hash);
    let blob = this.#open.get(key);
    if (blob === undefined) {
      blob = this.#load(hash, size, options.area ?? "working");
      this.#open.set(key, blob);
    } else if (blob.size !== size) {
      throw new BlobError(
        `Cannot open blob ${key} with size ${size}: it is open with size ${blob.size}`,
      );
    }
    blob.handles++;
    this.#touch(blob);
    return new BlobHandle(blob, this.#host);
  }

  /**
   * What the store knows about a blob.
   *
   * @param hash the version's hash
   * @returns its state, or `null` when it is not cached
   * @throws {StorageError} when the database fails
   */
  get(hash: Hash): BlobInfo | null {
    this.#checkOpen();
    const row = this.#db.read((tx) => getBlobRow(tx, hash));
    if (row === null) return null;
    const blob = this.#open.get(blobFileName(hash));
    return {
      hash,
      size: row.size,
      area: row.area,
      verified: blob?.verified ?? row.verified,
      present: blob?.present ?? row.ranges,
      usage: blob?.usage ?? row.usage,
      open: blob !== undefined,
    };
  }

  /**
   * Moves a blob to another area (a mark changed: `protected` for keep/own, `working` for
   * watch; `pending` for a replaced version, see {@linkcode BlobStore.retire}).
   *
   * @param hash the version's hash
   * @param area the new area
   * @returns false when the blob is not cached
   * @throws {StorageError} when the database fails
   */
  setArea(hash: Hash, area: Area): boolean {
    this.#checkChange();
    const before = this.#db.write((tx) => setBlobArea(tx, hash, area));
    if (before === null) return false;
    const blob = this.#open.get(blobFileName(hash));
    const usage = blob?.usage ?? before.usage;
    this.#usage[blob?.area ?? before.area] -= usage;
    this.#usage[area] += usage;
    if (blob !== undefined) blob.area = area;
    return true;
  }

  /**
   * Moves a replaced or deleted version to the `pending` area, evicted before any other.
   *
   * @param hash the version's hash
   * @returns false when the blob is not cached
   * @throws {StorageError} when the database fails
   */
  retire(hash: Hash): boolean {
    return this.setArea(hash, "pending");
  }

  /**
   * Removes a blob now: its row first, then its file. Open handles keep reading what was
   * present from the unlinked file; their writes are skipped.
   *
   * @param hash the version's hash
   * @returns false when the blob was not cached
   * @throws {StorageError} when the database fails
   */
  remove(hash: Hash): boolean {
    this.#checkChange();
    const key = blobFileName(hash);
    this.#fence?.invalidate();
    const row = this.#db.write((tx) => deleteBlobRow(tx, hash));
    const blob = this.#open.get(key);
    if (blob !== undefined) {
      this.#usage[blob.area] -= blob.usage;
      blob.detached = true;
      this.#open.delete(key);
    } else if (row !== null) {
      this.#usage[row.area] -= row.usage;
    }
    this.#touches.delete(key);
    removeFile(join(this.#dir, key));
    return row !== null;
  }

  /**
   * The cache's usage: bytes of the 4 KiB blocks that present ranges touch.
   *
   * @returns the total and per area
   */
  usage(): CacheUsage {
    const { working, protected: kept, pending } = this.#usage;
    return { total: working + kept + pending, working, protected: kept, pending };
  }

  /**
   * The quota right now (`disk_usage.max`, lowered to leave `disk_usage.leave` free).
   *
   * @returns bytes, or `null` when the cache is unlimited
   * @throws {ErrnoError} when `statvfs` fails on the directory
   */
  quota(): number | null {
    if (this.#limits === null) return null;
    const space = needsSpace(this.#limits) ? statvfs(this.#dir) : null;
    return quotaBytes(this.#limits, this.#total(), space);
  }

  /**
   * Sets the fence with readers of blob files in other threads (the FUSE worker): they
   * may read bytes the database has not recorded yet, and spliced replies hold the pages
   * themselves, while punching zeroes parts of pages in place. So before any bytes are
   * forgotten, or a blob removed, `invalidate()` tells those readers that what they were
   * told is present may not be; and after the database forgot bytes, `wait()` returns once
   * no reader that looked before is in flight, and only then are they punched.
   *
   * @param fence the fence; `null` for none
   */
  setReaderFence(fence: ReaderFence | null): void {
    this.#fence = fence;
  }

  /**
   * Sets where {@linkcode BlobHandle.store} writes: another thread (the FUSE worker), so
   * this one does not spend its time copying into the page cache. Without one, it writes
   * here, as {@linkcode BlobHandle.write} does.
   *
   * @param writer the writer; `null` to write here
   */
  setWriter(writer: BlobWriter | null): void {
    this.#writer = writer;
  }

  /**
   * Changes the limits (configuration reload). Call {@linkcode BlobStore.enforce} next.
   *
   * @param limits the new `disk_usage`, or `null` for none
   */
  setLimits(limits: DiskUsage | null): void {
    this.#limits = limits;
  }

  /**
   * The cleaner: evicts blobs until usage is within the quota — `pending` first, then
   * `working`, least recently used first; never `protected` blobs, never open ones (an
   * open blob is evicted when its last handle closes, if still needed). Run it after the
   * limits change and periodically (other files fill the disk too).
   *
   * @returns what was evicted and how far usage is still over the quota
   * @throws {StorageError} when the database fails
   * @throws {ErrnoError} when `statvfs` fails
   */
  async enforce(): Promise<EvictionReport> {
    assert(!this.#db.inTransaction, "blob store changes run outside database transactions");
    const evicted: Hash[] = [];
    let freedBytes = 0;
    for (;;) {
      const quota = this.#closed ? null : this.quota();
      const over = quota === null ? 0 : this.#total() - quota;
      const batch = over > 0 ? this.#evictBatch(over) : [];
      for (const victim of batch) {
        evicted.push(victim.hash);
        freedBytes += victim.usage;
      }
      if (batch.length === 0) {
        return { evicted, freedBytes, usage: this.usage(), quota, overBytes: Math.max(0, over) };
      }
      await new Promise((resolve) => setTimeout(resolve, 0)); // let readers run between batches
    }
  }

  /**
   * Start-up check (see `blob_reconcile.ts`): deletes files without a row, clears rows
   * without a file, trims recorded ranges to the data really in each file, punches out
   * unrecorded data, and reloads the usage totals.
   *
   * @returns what was changed
   * @throws {AssertionError} when a blob is open
   * @throws {StorageError} when the database fails
   * @throws {Error} when a file cannot be listed, deleted, truncated or punched
   */
  reconcile(): ReconcileReport {
    this.#checkChange();
    assert(this.#open.size === 0, "reconcile() runs before any blob is opened");
    this.#flushTouches();
    const report = reconcileBlobs(this.#db, this.#dir);
    this.#loadTotals();
    return report;
  }

  /**
   * Hashes a complete blob (with `hashFile`, off the main thread when it is a `HashPool`)
   * and marks it verified; on a mismatch, clears its ranges so they are fetched again.
   *
   * @param hash the version's hash
   * @param options `signal` aborts the hashing
   * @returns the outcome, or `null` when the blob is not cached (or was removed meanwhile)
   * @throws {StorageError} when the database fails
   * @throws what `hashFile` throws (the abort reason, a read error)
   */
  async verify(
    hash: Hash,
    options: { readonly signal?: AbortSignal } = {},
  ): Promise<VerifyResult | null> {
    const info = this.get(hash);
    if (info === null) return null;
    const handle = this.open(hash, info.size);
    const blob = this.#open.get(blobFileName(hash));
    assert(blob !== undefined, "an opened blob is open");
    blob.verifying++;
    try {
      return await this.#verifyOpen(blob, options.signal);
    } finally {
      blob.verifying--;
      await handle.close();
    }
  }

  /**
   * Flushes every open blob's ranges and the LRU positions, then closes the files. Handles
   * still open become unusable. The database is not closed (the caller owns it).
   * Idempotent.
   *
   * @returns when done
   */
  close(): Promise<void> {
    this.#closing ??= this.#shutDown();
    return this.#closing;
  }

  /** Same as {@linkcode BlobStore.close}. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  async #shutDown(): Promise<void> {
    while (this.#writing.size > 0) await Promise.allSettled([...this.#writing]);
    for (const blob of [...this.#open.values()]) {
      try {
        await this.#flushNow(blob);
      } catch (error) {
        log.warn(`cannot flush blob ${blob.key}`, error);
      }
    }
    this.#flushTouches();
    this.#closed = true;
    for (const blob of this.#open.values()) blob.closeFile();
    this.#open.clear();
  }

  #checkOpen(): void {
    if (this.#closing !== null) {
      throw new BlobError(`Cannot use blob store "${this.#dir}": closed`);
    }
  }

  /** `#checkOpen()`, for calls that change the database or the files. */
  #checkChange(): void {
    this.#checkOpen();
    // Files change right after each commit: inside a caller's transaction they would change
    // before it commits, and stay changed if it rolled back.
    assert(!this.#db.inTransaction, "blob store changes run outside database transactions");
  }

  #total(): number {
    return this.#usage.working + this.#usage.protected + this.#usage.pending;
  }

  #loadTotals(): void {
    const { usage, lru } = this.#db.read((tx) => ({ usage: usageByArea(tx), lru: maxBlobLru(tx) }));
    this.#usage = usage;
    this.#lru = Math.max(this.#lru, lru);
  }

  #load(hash: Hash, size: number, area: Area): BlobFile {
    const path = join(this.#dir, blobFileName(hash));
    let row = this.#db.read((tx) => getBlobRow(tx, hash));
    if (row === null) return this.#create(hash, size, area, path);
    let file: Deno.FsFile | null = null;
    try {
      file = openExisting(path);
      if (row.size !== size || file === null || file.statSync().size !== size) {
        // The row cannot be trusted: empty it first (database first), then reset the file.
        this.#fence?.invalidate();
        row = this.#resetRow(row, size);
        this.#fence?.wait();
        file ??= Deno.openSync(path, { read: true, write: true, create: true });
        file.truncateSync(0);
        file.truncateSync(size);
      }
    } catch (cause) {
      file?.close();
      throw new BlobError(`Cannot open blob ${blobFileName(hash)}: ${messageOf(cause)}`, {
        cause,
      });
    }
    return new BlobFile(this.#dir, { ...row, file });
  }

  #create(hash: Hash, size: number, area: Area, path: string): BlobFile {
    let file: Deno.FsFile;
    try {
      // The file first: a crash before the row leaves a stray file, deleted by reconcile().
      file = Deno.openSync(path, { read: true, write: true, create: true, truncate: true });
      file.truncateSync(size);
    } catch (cause) {
      removeFile(path);
      throw new BlobError(`Cannot create blob ${blobFileName(hash)}: ${messageOf(cause)}`, {
        cause,
      });
    }
    const row: BlobRow = {
      hash,
      size,
      ranges: ByteRanges.empty(),
      verified: false,
      area,
      lru: ++this.#lru,
      usage: 0,
    };
    try {
      this.#db.write((tx) => putBlobRow(tx, row));
    } catch (error) {
      file.close();
      removeFile(path);
      throw error;
    }
    return new BlobFile(this.#dir, { ...row, file });
  }

  #resetRow(row: BlobRow, size: number): BlobRow {
    const fresh: BlobRow = { ...row, size, ranges: ByteRanges.empty(), verified: false, usage: 0 };
    this.#db.write((tx) => putBlobRow(tx, fresh));
    this.#usage[row.area] -= row.usage;
    return fresh;
  }

  #read(blob: BlobFile, offset: number, length: number, buffer?: Uint8Array): ReadResult {
    this.#checkOpen();
    checkNatural(offset, "offset");
    checkNatural(length, "length");
    const end = Math.min(offset + length, blob.size);
    if (offset >= end) return new Uint8Array(0);
    this.#touch(blob);
    const wanted = ByteRange.of(offset, end);
    if (!blob.present.contains(wanted)) {
      return { missing: ByteRanges.of(wanted).subtract(blob.present) };
    }
    return blob.readAt(offset, end - offset, buffer);
  }

  /** The range a write covers, checked; the blob moves up in the LRU order. */
  #writeRange(blob: BlobFile, offset: number, data: Uint8Array): ByteRange {
    this.#checkChange();
    checkNatural(offset, "offset");
    const range = ByteRange.of(offset, offset + data.length);
    if (range.end > blob.size) {
      throw new RangeError(`Cannot write ${range} to blob ${blob.key} of size ${blob.size}`);
    }
    this.#touch(blob);
    return range;
  }

  /** Bytes are in the file: present now, recorded by a flush. */
  #wrote(blob: BlobFile, written: ByteRanges): void {
    this.#setPresent(blob, blob.present.union(written));
    blob.unflushedBytes += written.byteCount();
    if (blob.unflushedBytes >= this.#flushBytes || blob.isComplete()) this.#startFlush(blob);
  }

  #write(blob: BlobFile, offset: number, data: Uint8Array): WriteResult {
    const range = this.#writeRange(blob, offset, data);
    const missing = ByteRanges.of(range).subtract(blob.present);
    if (missing.isEmpty()) return "stored";
    if (blob.detached) return "skipped";
    if (!this.#makeRoom(blob, this.#growth(blob, missing), range)) return "skipped";
    try {
      for (const r of missing.ranges()) {
        blob.writeAt(r.start, data.subarray(r.start - offset, r.end - offset));
      }
    } catch (cause) {
      return this.#writeFailed(blob, range, cause);
    }
    this.#wrote(blob, missing);
    return "stored";
  }

  /** How much more the blob counts against the quota once `more` is in it (or on its way). */
  #growth(blob: BlobFile, more: ByteRanges): number {
    return blockUsage(blob.present.union(blob.pending).union(more)) - blob.usage;
  }

  /** A write failed: a full disk skips it (warned of), anything else is an error. */
  #writeFailed(blob: BlobFile, where: ByteRange | ByteRanges, cause: unknown): "skipped" {
    if (!isNoSpace(cause)) {
      throw new BlobError(`Cannot write blob ${blob.key} at ${where}: ${messageOf(cause)}`, {
        cause,
      });
    }
    this.#diskFull(blob, where);
    return "skipped"; // what was written is not recorded; reconcile() frees it
  }

  #store(blob: BlobFile, offset: number, data: Uint8Array): StoreResult {
    const writer = this.#writer;
    if (writer === null) {
      return this.#write(blob, offset, data) === "stored" ? Promise.resolve("stored") : "skipped";
    }
    const range = this.#writeRange(blob, offset, data);
    if (blob.pending.overlaps(range)) {
      // The same bytes are on their way: store what is left once they are in.
      const copy = data.slice();
      return Promise.allSettled([...blob.writes]).then(() =>
        this.#closing !== null || this.#open.get(blob.key) !== blob
          ? "skipped"
          : this.#store(blob, offset, copy)
      );
    }
    const missing = ByteRanges.of(range).subtract(blob.present);
    if (missing.isEmpty()) return Promise.resolve("stored");
    if (blob.detached) return "skipped";
    if (!this.#makeRoom(blob, this.#growth(blob, missing), range)) return "skipped";
    // Reserved now: the quota counts the bytes in flight, and nothing trims them.
    blob.pending = blob.pending.union(missing);
    this.#setPresent(blob, blob.present);
    blob.handles++; // the file stays open until the write is done
    const generation = blob.generation;
    const writes = missing.ranges().map((r) =>
      writer.write(blob.hash, r.start, data.subarray(r.start - offset, r.end - offset))
    );
    const done = Promise.allSettled(writes)
      .then((results) => this.#written(blob, missing, generation, results))
      .finally(() => {
        blob.writes.delete(done);
        this.#writing.delete(done);
        return this.#release(blob);
      });
    blob.writes.add(done);
    this.#writing.add(done);
    return done;
  }

  /** A write elsewhere ended: its bytes become present, unless the blob changed meanwhile. */
  #written(
    blob: BlobFile,
    missing: ByteRanges,
    generation: number,
    results: PromiseSettledResult<void>[],
  ): WriteResult {
    blob.pending = blob.pending.subtract(missing);
    if (blob.detached) return "skipped"; // removed: its usage went with it
    const failed = results.find((r) => r.status === "rejected");
    if (this.#closed || blob.generation !== generation || failed !== undefined) {
      this.#setPresent(blob, blob.present); // the reservation is given back
      return failed === undefined ? "skipped" : this.#writeFailed(blob, missing, failed.reason);
    }
    this.#wrote(blob, missing);
    return "stored";
  }

  /**
   * Says that a write found the disk full: at most once per {@linkcode DISK_FULL_LOG_MS}
   * (a large file read with the disk full fails every chunk), with how many since.
   */
  #diskFull(blob: BlobFile, what: ByteRange | ByteRanges): void {
    this.#diskFullSince++;
    const now = performance.now();
    if (now - this.#diskFullLoggedMs < DISK_FULL_LOG_MS) return;
    const more = this.#diskFullSince > 1 ? ` (${this.#diskFullSince - 1} more writes before)` : "";
    log.warn(`disk full: blob ${blob.key} not cached at ${what}${more}`);
    this.#diskFullLoggedMs = now;
    this.#diskFullSince = 0;
  }

  /** Frees room for `deltaBytes` more; false when the quota cannot make room. */
  #makeRoom(blob: BlobFile, deltaBytes: number, write: ByteRange): boolean {
    if (deltaBytes <= 0) return true;
    const quota = this.quota();
    if (quota === null) return true;
    let need = this.#total() + deltaBytes - quota;
    while (need > 0) {
      const batch = this.#evictBatch(need);
      if (batch.length === 0) break;
      for (const victim of batch) need -= victim.usage;
    }
    if (need <= 0) return true;
    if (blob.area === "protected" || blob.verifying > 0) return false;
    need -= this.#trim(blob, write, need);
    return need <= 0;
  }

  /**
   * Punches out a blob's own data, farthest behind the write first (seed `#largedl`).
   * The database forgets the ranges first, then the holes are punched.
   */
  #trim(blob: BlobFile, write: ByteRange, needBytes: number): number {
    const plan = trimPlan(blob.present, write, needBytes, TRIM_BYTES_MIN)
      .subtract(alignOutward(blob.pending));
    if (plan.isEmpty()) return 0;
    const recorded = blob.recorded.subtract(plan);
    blob.verified = false;
    this.#fence?.invalidate();
    this.#db.write((tx) => assert(setBlobRanges(tx, blob.hash, recorded, false), "row exists"));
    blob.recorded = recorded;
    this.#fence?.wait();
    let punched = ByteRanges.empty();
    for (const range of plan.ranges()) {
      const end = Math.min(range.end, blob.size);
      try {
        punchHole(blob.path, range.start, end - range.start);
      } catch (error) {
        log.warn(`cannot trim blob ${blob.key}`, error);
        break;
      }
      punched = punched.add(range);
    }
    const before = blob.usage;
    this.#setPresent(blob, blob.present.subtract(punched));
    log.debug(`trimmed ${before - blob.usage} bytes of blob ${blob.key} behind ${write}`);
    return before - blob.usage;
  }

  /** Evicts up to `VICTIMS_MAX` closed blobs to free `needBytes`: rows first, then files. */
  #evictBatch(needBytes: number): Victim[] {
    this.#flushTouches();
    const isOpen = (hash: Hash) => this.#open.has(blobFileName(hash));
    const victims = this.#db.write((tx) => {
      const chosen = chooseVictims(tx, needBytes, isOpen);
      if (chosen.length > 0) this.#fence?.invalidate(); // before the deletion commits
      for (const victim of chosen) deleteBlobRow(tx, victim.hash);
      return chosen;
    });
    for (const victim of victims) {
      this.#usage[victim.area] -= victim.usage;
      removeFile(join(this.#dir, blobFileName(victim.hash)));
      log.debug(`evicted ${victim.area} blob ${blobFileName(victim.hash)} (${victim.usage} B)`);
      try {
        this.#onEvict?.(victim.hash, victim.usage);
      } catch (error) {
        log.error("onEvict threw", error);
      }
    }
    return victims;
  }

  #setPresent(blob: BlobFile, ranges: ByteRanges): void {
    assert(!blob.detached, "a removed blob's ranges are not tracked");
    const usage = blockUsage(blob.pending.isEmpty() ? ranges : ranges.union(blob.pending));
    this.#usage[blob.area] += usage - blob.usage;
    blob.usage = usage;
    blob.present = ranges;
  }

  #touch(blob: BlobFile): void {
    if (blob.detached) return;
    this.#touches.set(blob.key, { hash: blob.hash, lru: ++this.#lru });
    if (this.#touchTimer !== null) return;
    const timer = setTimeout(() => {
      this.#touchTimer = null;
      try {
        this.#flushTouches();
      } catch (error) {
        log.warn("cannot record blob accesses", error);
      }
    }, TOUCH_FLUSH_MS);
    Deno.unrefTimer(timer);
    this.#touchTimer = timer;
  }

  #flushTouches(): void {
    if (this.#touchTimer !== null) {
      clearTimeout(this.#touchTimer);
      this.#touchTimer = null;
    }
    if (this.#touches.size === 0) return;
    const touches = [...this.#touches.values()];
    this.#touches.clear();
    this.#db.write((tx) => {
      for (const { hash, lru } of touches) setBlobLru(tx, hash, lru);
    });
  }

  /** Starts a flush, or asks the running one to go round again. */
  #startFlush(blob: BlobFile): void {
    if (blob.flushing !== null) {
      blob.flushAgain = true;
      return;
    }
    // Nobody may await a flush started by a write: failures are logged, never unhandled.
    // The ranges stay unrecorded, which is safe (reconcile() frees their data).
    blob.flushing = this.#runFlush(blob)
      .catch((error) => log.error(`cannot record the ranges of blob ${blob.key}`, error))
      .finally(() => blob.flushing = null);
  }

  async #runFlush(blob: BlobFile): Promise<void> {
    do {
      blob.flushAgain = false;
      const snapshot = blob.present;
      blob.unflushedBytes = 0;
      if (snapshot.equals(blob.recorded)) continue;
      try {
        await blob.file.syncData(); // durable before recorded; runs off the main thread
      } catch (error) {
        log.warn(`cannot sync blob ${blob.key}; its new ranges stay unrecorded`, error);
        return;
      }
      if (blob.detached || this.#closed) return;
      // What was punched out meanwhile is not in `present` any more: never record it.
      this.#record(blob, snapshot.intersection(blob.present).union(blob.recorded));
    } while (blob.flushAgain);
  }

  #record(blob: BlobFile, ranges: ByteRanges): void {
    assert(ranges.subtract(blob.present).isEmpty(), "only present ranges are recorded");
    const verified = blob.verified && ranges.contains(ByteRange.of(0, blob.size));
    this.#db.write((tx) => assert(setBlobRanges(tx, blob.hash, ranges, verified), "row exists"));
    blob.recorded = ranges;
  }

  /** Records everything written so far; returns when it is recorded. */
  async #flushNow(blob: BlobFile): Promise<void> {
    while (blob.flushing !== null) await blob.flushing;
    if (blob.detached || this.#closed || blob.present.equals(blob.recorded)) return;
    this.#startFlush(blob);
    while (blob.flushing !== null) await blob.flushing;
  }

  async #release(blob: BlobFile): Promise<void> {
    assert(blob.handles > 0, "a blob handle is released once");
    blob.handles--;
    if (blob.handles > 0) return;
    await this.#flushNow(blob);
    if (blob.handles > 0) return; // opened again while flushing
    if (this.#open.get(blob.key) === blob) this.#open.delete(blob.key);
    blob.closeFile();
    if (this.#closing !== null) return;
    const quota = this.quota();
    if (quota !== null && this.#total() > quota) this.#evictBatch(this.#total() - quota);
  }

  async #verifyOpen(blob: BlobFile, signal: AbortSignal | undefined): Promise<VerifyResult | null> {
    const whole = ByteRanges.of(ByteRange.of(0, blob.size));
    if (!blob.isComplete()) return { status: "incomplete", missing: whole.subtract(blob.present) };
    if (blob.verified) return { status: "verified" };
    await this.#flushNow(blob);
    const result: FileHash = await this.#hashFile(
      blob.path,
      signal === undefined ? {} : { signal },
    );
    if (blob.detached || this.#closing !== null) return null;
    assert(blob.isComplete(), "a blob being verified is never trimmed");
    const matches = result.hash.equals(blob.hash) && result.bytesRead === blob.size;
    if (matches && !blob.recorded.equals(whole)) {
      throw new BlobError(`Cannot verify blob ${blob.key}: its ranges could not be recorded`);
    }
    if (matches) {
      this.#db.write((tx) => assert(setBlobRanges(tx, blob.hash, whole, true), "row exists"));
      blob.verified = true;
      return { status: "verified" };
    }
    log.warn(`blob ${blob.key} does not match its hash (got ${result.hash}); clearing it`);
    this.#clear(blob);
    return { status: "mismatch", actual: result.hash };
  }

  /** Empties a blob: the database forgets its ranges first, then the file is emptied. */
  #clear(blob: BlobFile): void {
    const empty = ByteRanges.empty();
    this.#fence?.invalidate();
    this.#db.write((tx) => assert(setBlobRanges(tx, blob.hash, empty, false), "row exists"));
    blob.recorded = empty;
    blob.verified = false;
    blob.generation++;
    this.#fence?.wait();
    blob.file.truncateSync(0);
    blob.file.truncateSync(blob.size);
    this.#setPresent(blob, empty);
  }
}

/** What {@linkcode BlobStore.setWriter} takes. */
export interface BlobWriter {
  /**
   * Writes bytes into a blob's file on another thread. The caller keeps `data` unchanged
   * until the promise settles (a writer may read it there, in shared memory, or copy it
   * first); the file is opened by name, never created.
   *
   * @param hash the blob's version
   * @param offset where in the file
   * @param data the bytes
   * @returns once they are in the file; rejects with the error (`code` `"ENOSPC"` when the
   *   disk is full)
   */
  write(hash: Hash, offset: number, data: Uint8Array): Promise<void>;
}

/** What {@linkcode BlobStore.setReaderFence} takes. */
export interface ReaderFence {
  /** Bytes may be forgotten, or a blob removed: what readers were told may be stale. */
  invalidate(): void;
  /** Returns once no reader that looked before the database forgot bytes is in flight. */
  wait(): void;
}

function openExisting(path: string): Deno.FsFile | null {
  try {
    return Deno.openSync(path, { read: true, write: true });
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return null;
    throw error;
  }
}

function removeFile(path: string): void {
  try {
    Deno.removeSync(path);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) log.warn(`cannot delete ${path}`, error);
  }
}

function checkNatural(value: number, what: string): void {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new RangeError(`Invalid ${what} ${value}: expected a non-negative safe integer`);
  }
}

function isNoSpace(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const code = (error as { code?: unknown }).code;
  return code === "ENOSPC" || /\(os error 28\)/.test(error.message);
}
