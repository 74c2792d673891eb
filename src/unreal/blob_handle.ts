/**
 * A handle on one open blob, from `BlobStore.open()`.
 *
 * @module
 */

import type { ByteRanges, Hash } from "../types/mod.ts";
import { BlobError, type BlobFile } from "./blob_file.ts";

/** What a read found: the bytes, or exactly which ranges are not cached. */
export type ReadResult = Uint8Array | { readonly missing: ByteRanges };

/**
 * What a write did: `"stored"` (in the file, recorded by the next flush; also for bytes
 * already present) or `"skipped"` (not stored: no room in the cache, or the blob was
 * removed; the caller serves the bytes it has from memory).
 */
export type WriteResult = "stored" | "skipped";

/**
 * What {@linkcode BlobHandle.store} did: `"skipped"` at once (no room; the caller keeps its
 * bytes), or a promise of the outcome once the bytes are in the file — `"skipped"` then
 * means they were not kept after all (the blob was removed or emptied meanwhile, or the
 * disk is full).
 */
export type StoreResult = "skipped" | Promise<WriteResult>;

/** Options of {@linkcode BlobHandle.read}. */
export interface ReadOptions {
  /** Where to read the bytes, when it is large enough. */
  readonly buffer?: Uint8Array;
}

/** The store's side of a handle. Internal: only `BlobStore` implements it. */
export interface BlobHost {
  /** Reads for a handle. */
  read(blob: BlobFile, offset: number, length: number, buffer?: Uint8Array): ReadResult;
  /** Moves a blob up in the LRU order. */
  touch(blob: BlobFile): void;
  /** Writes for a handle. */
  write(blob: BlobFile, offset: number, data: Uint8Array): WriteResult;
  /** Writes for a handle, on the store's writer. */
  store(blob: BlobFile, offset: number, data: Uint8Array): StoreResult;
  /** Records what was written. */
  flush(blob: BlobFile): Promise<void>;
  /** Releases one handle. */
  release(blob: BlobFile): Promise<void>;
}

/**
 * One open blob. While any handle on a blob is open, the cleaner never evicts it (a file
 * larger than the cache may still trim its own data, see `docs/cache.md`).
 */
export class BlobHandle {
  readonly #blob: BlobFile;
  readonly #host: BlobHost;
  #closing: Promise<void> | null = null;

  /**
   * Internal: handles come from `BlobStore.open()`.
   *
   * @param blob the shared state of the open blob
   * @param host the store
   */
  constructor(blob: BlobFile, host: BlobHost) {
    this.#blob = blob;
    this.#host = host;
  }

  /** The version's hash. */
  get hash(): Hash {
    return this.#blob.hash;
  }

  /** The version's size in bytes. */
  get size(): number {
    return this.#blob.size;
  }

  /**
   * Reads `[offset, offset + length)`, cut at the end of the blob. Touches the blob's LRU
   * position.
   *
   * @param offset first byte
   * @param length bytes wanted
   * @param options `buffer`: read into it when it is large enough, instead of allocating
   *   (a fresh 128 KiB array costs as much as the read itself)
   * @returns the bytes (empty at or past the end; a view of `buffer` when it was used), or
   *   the missing ranges when any byte is not cached; a read never waits for a download
   * @throws {RangeError} for a negative or fractional offset or length
   * @throws {BlobError} when the handle or store is closed, or the file cannot be read
   */
  read(offset: number, length: number, options: ReadOptions = {}): ReadResult {
    this.#checkOpen();
    return this.#host.read(this.#blob, offset, length, options.buffer);
  }

  /**
   * Moves the blob up in the cache's LRU order, as a read does, without reading (its
   * bytes were read elsewhere: the FUSE worker, the kernel).
   *
   * @throws {BlobError} when the handle or store is closed
   */
  touch(): void {
    this.#checkOpen();
    this.#host.touch(this.#blob);
  }

  /**
   * Stores bytes at `offset`. Only bytes not yet present are written; their range is
   * recorded in the database after the data is durable (every 4 MiB written, when the blob
   * becomes complete, on {@linkcode BlobHandle.flush} and on close).
   *
   * @param offset first byte
   * @param data the bytes, which must end at or before the blob's size
   * @returns `"stored"`, or `"skipped"` when the cache has no room for them (the cleaner
   *   could not evict enough) or the blob was removed
   * @throws {RangeError} when the range does not fit in the blob
   * @throws {BlobError} when the handle or store is closed, or the write fails (other
   *   than a full disk, which skips)
   */
  write(offset: number, data: Uint8Array): WriteResult {
    this.#checkOpen();
    return this.#host.write(this.#blob, offset, data);
  }

  /**
   * Stores bytes at `offset` as {@linkcode BlobHandle.write} does, but on the store's
   * writer when it has one (`BlobStore.setWriter`): another thread copies them into the
   * file. Room is made (or not) at once; the bytes count against the quota while they are
   * on their way, and become present, readable here, once written.
   *
   * @param offset first byte
   * @param data the bytes, to be kept unchanged until the promise settles (or used only
   *   during this call when it returns `"skipped"`)
   * @returns `"skipped"` when the cache has no room for them (or the blob was removed), or
   *   a promise of the outcome once they are in the file
   * @throws {RangeError} when the range does not fit in the blob
   * @throws {BlobError} when the handle or store is closed; the promise rejects with one
   *   when the write fails (other than a full disk, which skips)
   */
  store(offset: number, data: Uint8Array): StoreResult {
    this.#checkOpen();
    return this.#host.store(this.#blob, offset, data);
  }

  /**
   * The bytes present in the blob now.
   *
   * @returns ranges; some may not be recorded in the database yet
   */
  present(): ByteRanges {
    return this.#blob.present;
  }

  /**
   * Whether the whole blob is present.
   *
   * @returns true when every byte is cached
   */
  isComplete(): boolean {
    return this.#blob.isComplete();
  }

  /**
   * Records what was written so far (after an `fdatasync`), e.g. on a FUSE flush.
   *
   * @returns when the ranges written before the call are recorded
   * @throws {BlobError} when the handle is closed
   */
  flush(): Promise<void> {
    this.#checkOpen();
    return this.#host.flush(this.#blob);
  }

  /**
   * Closes the handle: flushes, and when it was the last handle, closes the file and lets
   * the cleaner evict the blob if the cache is over its quota. Idempotent.
   *
   * @returns when done
   */
  close(): Promise<void> {
    this.#closing ??= this.#host.release(this.#blob);
    return this.#closing;
  }

  /** Same as {@linkcode BlobHandle.close}. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  #checkOpen(): void {
    if (this.#closing !== null) {
      throw new BlobError(`Cannot use blob ${this.#blob.key}: handle closed`);
    }
  }
}
