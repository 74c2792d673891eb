/**
 * Reads of remote versions straight from the blob cache, in the FUSE worker: a range the
 * arena database records as present in a blob (`blob_entry.ranges`, see docs/cache.md) is
 * read from the blob file without a round trip to the main thread. Anything else — a range
 * not fetched yet, or fetched but not recorded yet — is left to the main thread's
 * `RemoteReader`.
 *
 * Why this is safe while the main thread evicts, trims and clears blobs: the blob store
 * always makes the database forget ranges **before** it punches, truncates or deletes the
 * file. A read therefore checks the recorded ranges, reads the file, then reads the
 * ranges again: when they did not change, nothing was forgotten before the second check,
 * so nothing was punched before the read ended. A blob deleted and made again while a file
 * stays open here is noticed as a change of its ranges; the file is then opened again if
 * it is not the same inode any more.
 *
 * Most reads skip both queries and the inode check: SQLite's `data_version` changes
 * whenever another connection commits, and a blob's ranges or its file can only change
 * through a commit. When it is the same as when a file's ranges were last read (before
 * the read, and again after it), nothing was forgotten or punched meanwhile.
 *
 * @module
 */

import { type Pipe, ReadOnlyFile } from "../../ffi/libc/mod.ts";
import type { Database } from "../storage/mod.ts";
import { ByteRange, ByteRanges, type Hash } from "../types/mod.ts";
import { blobFileName } from "../unreal/mod.ts";

/** Blob files kept open at once (the least recently used is closed beyond this). */
export const CACHED_FILES_MAX = 64;

const RANGES = "SELECT ranges FROM blob_entry WHERE hash = ?";
const DATA_VERSION = "PRAGMA data_version";

interface OpenBlobFile {
  readonly path: string;
  file: ReadOnlyFile | null;
  /** The inode `file` was opened on. */
  ino: number;
  /** The `ranges` column as last read, and what it says. */
  text: string;
  ranges: ByteRanges;
  /** The database's `data_version` when `text` and `ino` were last found current. */
  checkedAt: number;
}

/** Serves reads of recorded blob ranges from one arena's blob directory. */
export class CachedReads {
  readonly #db: Database;
  readonly #dir: string;
  /** By blob file name, least recently used first. */
  readonly #files = new Map<string, OpenBlobFile>();
  #buffer = new Uint8Array(0);
  /** Ranges the main thread said it stored, by blob file name, with the fence's epoch then. */
  readonly #stored = new Map<string, { epoch: number; ranges: ByteRanges }>();
  /** Ranges the main thread is fetching (to be written here), by blob file name. */
  readonly #expected = new Map<string, ByteRanges>();
  /** Reads waiting for expected ranges, by blob file name. */
  readonly #waiting = new Map<string, { range: ByteRange; resolve: () => void }[]>();
  /** Counters for tests and metrics. */
  readonly stats = { hits: 0, misses: 0, raced: 0, unchecked: 0, waited: 0 };

  /**
   * @param db a connection to the arena database (the worker's own)
   * @param dir the arena's blob directory (`<workdir>/blobs`)
   */
  constructor(db: Database, dir: string) {
    this.#db = db;
    this.#dir = dir;
  }

  /**
   * Reads `[offset, offset + length)` of a version when its blob holds it.
   *
   * @param hash the version
   * @param offset first byte
   * @param length bytes wanted (the caller cuts it at the end of the file)
   * @returns the bytes, a view of a buffer reused by the next call (reply before calling
   *   again); or `null` when the blob does not hold them all (ask the main thread)
   */
  read(hash: Hash, offset: number, length: number): Uint8Array | null {
    return this.#serve(hash, offset, length, (f) => this.#readFile(f, offset, length), noop);
  }

  /**
   * Like {@linkcode CachedReads.read}, into a pipe: the kernel takes references to the
   * blob's pages instead of copying them here (see `FuseReply.pipe`).
   *
   * @param hash the version
   * @param offset first byte
   * @param length bytes wanted (the caller cuts it at the end of the file)
   * @param pipe an empty pipe, left holding exactly the bytes when this returns true
   * @returns false, and the pipe empty, when the blob does not hold them all or the pipe
   *   cannot (then try {@linkcode CachedReads.read})
   */
  splice(hash: Hash, offset: number, length: number, pipe: Pipe): boolean {
    const fill = (f: OpenBlobFile) => fillPipe(f, offset, length, pipe);
    return this.#serve(hash, offset, length, fill, () => pipe.drain()) ?? false;
  }

  /**
   * Notes that a range of a blob is stored (before the database records it).
   *
   * @param hash the version
   * @param range the bytes
   * @param epoch the fence's epoch when it said so (`RealizeFsOptions.readers`)
   */
  noteStored(hash: Hash, range: ByteRange, epoch: number): void {
    const key = blobFileName(hash);
    const known = this.#stored.get(key);
    this.#stored.delete(key); // most recent last
    const ranges = known !== undefined && known.epoch === epoch
      ? known.ranges.add(range)
      : ByteRanges.of(range);
    this.#stored.set(key, { epoch, ranges });
    while (this.#stored.size > CACHED_FILES_MAX) {
      this.#stored.delete(this.#stored.keys().next().value!);
    }
  }

  /**
   * Writes bytes into a blob for the main thread (`WorkerWrites`), then notes them stored
   * as of `epoch`, the fence's epoch when the main thread sent them: it bumps the epoch
   * before it forgets bytes or removes a blob, so the note cannot outlive the bytes. The
   * file is opened by name and never created (a blob removed meanwhile: `NotFound`).
   *
   * @param hash the version
   * @param offset where
   * @param data the bytes
   * @param epoch the fence's epoch when they were sent
   * @throws {Error} what the file system threw (no space left, not found)
   */
  write(hash: Hash, offset: number, data: Uint8Array, epoch: number): void {
    const range = ByteRange.of(offset, offset + data.length);
    try {
      using file = Deno.openSync(`${this.#dir}/${blobFileName(hash)}`, { write: true });
      file.seekSync(offset, Deno.SeekMode.Start);
      for (let done = 0; done < data.length;) done += file.writeSync(data.subarray(done));
      this.noteStored(hash, range, epoch);
    } finally {
      this.ended(hash, range); // written or not, it is not on its way any more
    }
  }

  /**
   * Notes that the main thread fetches a range that it will have written here: a read of it
   * then waits here ({@linkcode CachedReads.waitFor}) instead of asking the main thread.
   *
   * @param hash the version
   * @param range the bytes
   */
  expect(hash: Hash, range: ByteRange): void {
    const key = blobFileName(hash);
    this.#expected.set(key, (this.#expected.get(key) ?? ByteRanges.empty()).add(range));
  }

  /**
   * Notes that a range is not on its way any more (written, or the fetch ended without it):
   * the reads waiting for it go on.
   *
   * @param hash the version
   * @param range the bytes
   */
  ended(hash: Hash, range: ByteRange): void {
    const key = blobFileName(hash);
    const expected = this.#expected.get(key);
    if (expected === undefined) return;
    const left = expected.subtract(ByteRanges.of(range));
    if (left.isEmpty()) this.#expected.delete(key);
    else this.#expected.set(key, left);
    const waiting = this.#waiting.get(key);
    if (waiting === undefined) return;
    const still = waiting.filter((w) => left.overlaps(w.range));
    for (const w of waiting) if (!still.includes(w)) w.resolve();
    if (still.length === 0) this.#waiting.delete(key);
    else this.#waiting.set(key, still);
  }

  /**
   * Waits until no part of a range is on its way any more, when some is.
   *
   * @param hash the version
   * @param range the bytes a read wants
   * @returns a promise, or `null` when nothing of the range is expected (ask the main thread)
   */
  waitFor(hash: Hash, range: ByteRange): Promise<void> | null {
    const key = blobFileName(hash);
    if (this.#expected.get(key)?.overlaps(range) !== true) return null;
    this.stats.waited++;
    const done = Promise.withResolvers<void>();
    const waiting = this.#waiting.get(key) ?? [];
    waiting.push({ range, resolve: done.resolve });
    this.#waiting.set(key, waiting);
    return done.promise;
  }

  /**
   * Whether the main thread said it stored a range and nothing was forgotten or removed
   * since: `epoch` is the fence's epoch now, read after this read was counted in flight
   * (then a blob store that forgets bytes afterwards waits for this read before punching).
   *
   * @param hash the version
   * @param range the bytes
   * @param epoch the fence's epoch now
   * @returns true when the bytes may be read with {@linkcode CachedReads.readStored}
   */
  announced(hash: Hash, range: ByteRange, epoch: number): boolean {
    const s = this.#stored.get(blobFileName(hash));
    return s !== undefined && s.epoch === epoch && s.ranges.contains(range);
  }

  /**
   * Reads bytes the main thread has just stored in a blob and keeps there until this
   * thread gives back the read it counted (`RealizeFsOptions.readers`): no range check,
   * since the recorded ranges lag behind what is stored.
   *
   * @param hash the version
   * @param offset first byte
   * @param length bytes
   * @returns the bytes (a view of a reused buffer), or `null` when the file cannot give them
   */
  readStored(hash: Hash, offset: number, length: number): Uint8Array | null {
    const f = this.#current(blobFileName(hash));
    return f.file === null ? null : this.#readFile(f, offset, length);
  }

  /**
   * Like {@linkcode CachedReads.readStored}, into a pipe.
   *
   * @param hash the version
   * @param offset first byte
   * @param length bytes
   * @param pipe an empty pipe, left holding exactly the bytes when this returns true
   * @returns false, and the pipe empty, when the file or the pipe cannot give them
   */
  spliceStored(hash: Hash, offset: number, length: number, pipe: Pipe): boolean {
    return fillPipe(this.#current(blobFileName(hash)), offset, length, pipe) ?? false;
  }

  /**
   * Takes bytes the blob holds with `take` — checked against the recorded ranges before
   * and after (the module's description) — or gives them back with `undo`.
   */
  #serve<T>(
    hash: Hash,
    offset: number,
    length: number,
    take: (f: OpenBlobFile) => T | null,
    undo: () => void,
  ): T | null {
    const key = blobFileName(hash);
    const wanted = ByteRange.of(offset, offset + length);
    const version = this.#dataVersion();
    const known = this.#files.get(key);
    if (
      known !== undefined && known.file !== null && known.checkedAt === version &&
      known.ranges.contains(wanted)
    ) {
      const got = take(known);
      if (got !== null && this.#dataVersion() === version) {
        this.#files.delete(key); // most recently used last
        this.#files.set(key, known);
        this.stats.hits++;
        this.stats.unchecked++;
        return got;
      }
      if (got !== null) undo(); // something was committed meanwhile: check the ranges
    }
    const text = this.#ranges(hash);
    const f = text === null ? null : this.#entry(key, text, version);
    if (f === null || !f.ranges.contains(wanted)) {
      this.stats.misses++;
      return null;
    }
    const got = take(f);
    // The database forgets ranges before the file loses them: unchanged ranges after the
    // read mean the bytes were there during it.
    if (got === null || this.#ranges(hash) !== text) {
      if (got !== null) undo();
      this.stats.raced++;
      return null;
    }
    this.stats.hits++;
    return got;
  }

  /**
   * The blob file of a version when the blob is complete and verified: nothing trims,
   * empties or rewrites such a blob, so the kernel may read it itself (passthrough).
   *
   * @param hash the version
   * @param size its size
   * @returns the blob file's path, or `null`
   */
  complete(hash: Hash, size: number): string | null {
    const row = this.#db.get<{ ranges: string; verified: number }>(
      "SELECT ranges, verified FROM blob_entry WHERE hash = ?",
      hash.bytes(),
    );
    if (row === undefined || row.verified !== 1 || size === 0) return null;
    if (!parse(row.ranges).contains(ByteRange.of(0, size))) return null;
    return `${this.#dir}/${blobFileName(hash)}`;
  }

  /**
   * Whether the blob of a version holds a range, as its ranges were last read here, or it
   * is on its way (no database query: a hint, for deciding to fetch ahead).
   *
   * @param hash the version
   * @param range the bytes
   * @returns false when they are not all there (or the blob was not read here)
   */
  holds(hash: Hash, range: ByteRange): boolean {
    const key = blobFileName(hash);
    const known = (this.#files.get(key)?.ranges ?? ByteRanges.empty())
      .union(this.#stored.get(key)?.ranges ?? ByteRanges.empty())
      .union(this.#expected.get(key) ?? ByteRanges.empty());
    return known.contains(range);
  }

  #dataVersion(): number {
    return Number(this.#db.getValues(DATA_VERSION)![0]);
  }

  #ranges(hash: Hash): string | null {
    return this.#db.get<{ ranges: string }>(RANGES, hash.bytes())?.ranges ?? null;
  }

  /**
   * The open file of a blob whose ranges read `text` (read after `data_version` was
   * `version`), (re)opened when needed.
   */
  #entry(key: string, text: string, version: number): OpenBlobFile | null {
    const f = this.#current(key);
    if (f.text !== text) {
      f.text = text;
      f.ranges = parse(text);
    }
    f.checkedAt = f.file === null ? -1 : version;
    return f.file === null ? null : f;
  }

  /**
   * The entry of a blob, its file (re)opened as the path names it now: a blob deleted and
   * made again is another file, and the one open here may lack ranges the new one has
   * (its inode cannot be reused while it is open).
   */
  #current(key: string): OpenBlobFile {
    let f = this.#files.get(key);
    if (f === undefined) {
      const path = `${this.#dir}/${key}`;
      f = { path, file: null, ino: -1, text: "", ranges: ByteRanges.empty(), checkedAt: -1 };
      this.#files.set(key, f);
      this.#limit();
    } else {
      this.#files.delete(key); // most recently used last
      this.#files.set(key, f);
    }
    const ino = inodeOf(f.path);
    if (f.file !== null && ino !== f.ino) {
      void f.file.close(); // off this thread: it may free a deleted blob's blocks
      f.file = null;
      f.checkedAt = -1;
    }
    if (f.file === null && ino !== null) {
      f.file = openExisting(f.path);
      f.ino = ino; // if the path changed since, the next check reopens it
    }
    return f;
  }

  #limit(): void {
    while (this.#files.size > CACHED_FILES_MAX) {
      const [key, oldest] = this.#files.entries().next().value!;
      void oldest.file?.close();
      this.#files.delete(key);
    }
  }

  #readFile(f: OpenBlobFile, offset: number, length: number): Uint8Array | null {
    if (this.#buffer.length < length) this.#buffer = new Uint8Array(length);
    const out = this.#buffer.subarray(0, length);
    try {
      // Shorter than recorded: let the main thread decide.
      return f.file!.pread(out, offset) === length ? out : null;
    } catch {
      return null; // the main thread reports errors
    }
  }

  /**
   * Closes every blob file.
   *
   * @returns settles when they are closed (closing runs off this thread)
   */
  async close(): Promise<void> {
    for (const waiting of this.#waiting.values()) for (const w of waiting) w.resolve();
    this.#waiting.clear();
    this.#expected.clear();
    const files = [...this.#files.values()];
    this.#files.clear();
    await Promise.all(files.map((f) => f.file?.close()));
  }
}

function noop(): void {}

/** Splices a blob's bytes into an empty pipe: `true`, or `null` with the pipe empty again. */
function fillPipe(f: OpenBlobFile, offset: number, length: number, pipe: Pipe): true | null {
  try {
    if (f.file !== null && pipe.fill(f.file, offset, length) === length) return true;
  } catch { /* the main thread reports errors */ }
  pipe.drain();
  return null;
}

function parse(text: string): ByteRanges {
  return ByteRanges.fromJSON(JSON.parse(text));
}

function openExisting(path: string): ReadOnlyFile | null {
  try {
    return ReadOnlyFile.open(path);
  } catch {
    return null; // gone (evicted) or unreadable: the main thread handles it
  }
}

/** The inode at `path`, or `null`. */
function inodeOf(path: string): number | null {
  try {
    return Deno.statSync(path).ino;
  } catch {
    return null;
  }
}
