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
 * @module
 */

import type { Database } from "../storage/mod.ts";
import { ByteRange, ByteRanges, type Hash } from "../types/mod.ts";
import { blobFileName } from "../unreal/mod.ts";

/** Blob files kept open at once (the least recently used is closed beyond this). */
export const CACHED_FILES_MAX = 64;

const RANGES = "SELECT ranges FROM blob_entry WHERE hash = ?";

interface OpenBlobFile {
  readonly path: string;
  file: Deno.FsFile | null;
  /** The inode `file` was opened on. */
  ino: number;
  /** The `ranges` column as last read, and what it says. */
  text: string;
  ranges: ByteRanges;
}

/** Serves reads of recorded blob ranges from one arena's blob directory. */
export class CachedReads {
  readonly #db: Database;
  readonly #dir: string;
  /** By blob file name, least recently used first. */
  readonly #files = new Map<string, OpenBlobFile>();
  #buffer = new Uint8Array(0);
  /** Counters for tests and metrics. */
  readonly stats = { hits: 0, misses: 0, raced: 0 };

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
    const key = blobFileName(hash);
    const wanted = ByteRange.of(offset, offset + length);
    const text = this.#ranges(hash);
    const f = text === null ? null : this.#entry(key, text);
    if (f === null || !f.ranges.contains(wanted)) {
      this.stats.misses++;
      return null;
    }
    const bytes = this.#readFile(f, offset, length);
    // The database forgets ranges before the file loses them: unchanged ranges after the
    // read mean the bytes were there during it.
    if (bytes === null || this.#ranges(hash) !== text) {
      this.stats.raced++;
      return null;
    }
    this.stats.hits++;
    return bytes;
  }

  /**
   * Whether the blob of a version holds a range, as its ranges were last read here (no
   * database query: a hint, for deciding to fetch ahead).
   *
   * @param hash the version
   * @param range the bytes
   * @returns false when they are not all there (or the blob was not read here)
   */
  holds(hash: Hash, range: ByteRange): boolean {
    return this.#files.get(blobFileName(hash))?.ranges.contains(range) ?? false;
  }

  #ranges(hash: Hash): string | null {
    return this.#db.get<{ ranges: string }>(RANGES, hash.bytes())?.ranges ?? null;
  }

  /** The open file of a blob whose ranges read `text`, (re)opened when needed. */
  #entry(key: string, text: string): OpenBlobFile | null {
    let f = this.#files.get(key);
    if (f === undefined) {
      f = { path: `${this.#dir}/${key}`, file: null, ino: -1, text, ranges: parse(text) };
      this.#files.set(key, f);
      this.#limit();
    } else {
      this.#files.delete(key); // most recently used last
      this.#files.set(key, f);
      if (f.text !== text) {
        f.text = text;
        f.ranges = parse(text);
      }
    }
    // A blob deleted and made again is another file: the one open here may lack ranges
    // the new one has (its inode cannot be reused while it is open).
    const ino = inodeOf(f.path);
    if (f.file !== null && ino !== f.ino) {
      f.file.close();
      f.file = null;
    }
    if (f.file === null && ino !== null) {
      f.file = openExisting(f.path);
      f.ino = f.file?.statSync().ino ?? -1;
    }
    return f.file === null ? null : f;
  }

  #limit(): void {
    while (this.#files.size > CACHED_FILES_MAX) {
      const [key, oldest] = this.#files.entries().next().value!;
      oldest.file?.close();
      this.#files.delete(key);
    }
  }

  #readFile(f: OpenBlobFile, offset: number, length: number): Uint8Array | null {
    if (this.#buffer.length < length) this.#buffer = new Uint8Array(length);
    const out = this.#buffer.subarray(0, length);
    try {
      f.file!.seekSync(offset, Deno.SeekMode.Start);
      for (let done = 0; done < length;) {
        const n = f.file!.readSync(out.subarray(done));
        if (n === null) return null; // shorter than recorded: let the main thread decide
        done += n;
      }
    } catch {
      return null; // the main thread reports errors
    }
    return out;
  }

  /** Closes every blob file. */
  close(): void {
    for (const f of this.#files.values()) f.file?.close();
    this.#files.clear();
  }
}

function parse(text: string): ByteRanges {
  return ByteRanges.fromJSON(JSON.parse(text));
}

function openExisting(path: string): Deno.FsFile | null {
  try {
    return Deno.openSync(path, { read: true });
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
