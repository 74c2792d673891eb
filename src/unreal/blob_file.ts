/**
 * The file of one blob and the state shared by every open handle on it (several FUSE opens
 * of one version share one {@linkcode BlobFile}, so they agree on what is present).
 *
 * A blob file is `<blobs dir>/<hash in base64url, no padding>`, a sparse file of the
 * version's size: written ranges hold data, the rest are holes.
 *
 * @module
 */

import { join } from "node:path";
import { ByteRange, ByteRanges, Hash, HASH_SIZE } from "../types/mod.ts";
import { assert } from "../util/mod.ts";
import type { Area } from "./blob_schema.ts";

/** A blob could not be read or written (an I/O error, not a missing range). */
export class BlobError extends Error {
  /** Always `"BlobError"`. */
  override name = "BlobError";
}

/**
 * The file name of a blob.
 *
 * @param hash the version's hash
 * @returns its 32 bytes in base64url without padding (43 characters)
 */
export function blobFileName(hash: Hash): string {
  return hash.bytes().toBase64({ alphabet: "base64url", omitPadding: true });
}

/**
 * The hash a blob file name stands for.
 *
 * @param name a directory entry of the blobs directory
 * @returns the hash, or `null` when `name` is not exactly what {@linkcode blobFileName} makes
 */
export function parseBlobFileName(name: string): Hash | null {
  let bytes: Uint8Array;
  try {
    bytes = Uint8Array.fromBase64(name, { alphabet: "base64url" });
  } catch {
    return null;
  }
  if (bytes.length !== HASH_SIZE) return null;
  const hash = Hash.fromBytes(bytes);
  return blobFileName(hash) === name ? hash : null;
}

/** An open blob: its file and what the handles on it share. Internal to the store. */
export class BlobFile {
  /** The version's hash. */
  readonly hash: Hash;
  /** The key of the store's maps: the file name. */
  readonly key: string;
  /** The file's path. */
  readonly path: string;
  /** The version's size. */
  readonly size: number;
  /** The open file. */
  readonly file: Deno.FsFile;
  /** The cache area (kept in step with the row). */
  area: Area;
  /** Whether the content is verified (kept in step with the row). */
  verified: boolean;
  /** Bytes written to the file: what reads are served from. Always ⊇ `recorded`. */
  present: ByteRanges;
  /** Bytes the database records as present. */
  recorded: ByteRanges;
  /**
   * Bytes being written elsewhere (a `BlobWriter`): counted against the quota, never
   * trimmed, present once written.
   */
  pending: ByteRanges = ByteRanges.empty();
  /** The writes under way elsewhere. */
  readonly writes = new Set<Promise<unknown>>();
  /** Bumped when the file is emptied: a write started before does not count. */
  generation = 0;
  /** `blockUsage(present ∪ pending)`, as counted in the store's totals. */
  usage: number;
  /** Bytes written since the last flush was started. */
  unflushedBytes = 0;
  /** Open handles, plus running verifications. */
  handles = 0;
  /** Running verifications: the blob's own ranges are not trimmed meanwhile. */
  verifying = 0;
  /** Removed from the store while open: reads go on from the unlinked file, writes skip. */
  detached = false;
  /** The running flush, if any. */
  flushing: Promise<void> | null = null;
  /** Whether another flush must follow the running one. */
  flushAgain = false;
  #fileClosed = false;

  /**
   * @param dir the blobs directory
   * @param init the row's values and the open file
   */
  constructor(
    dir: string,
    init: {
      hash: Hash;
      size: number;
      area: Area;
      verified: boolean;
      ranges: ByteRanges;
      usage: number;
      file: Deno.FsFile;
    },
  ) {
    this.hash = init.hash;
    this.key = blobFileName(init.hash);
    this.path = join(dir, this.key);
    this.size = init.size;
    this.file = init.file;
    this.area = init.area;
    this.verified = init.verified;
    this.present = init.ranges;
    this.recorded = init.ranges;
    this.usage = init.usage;
  }

  /** Closes the file. Idempotent. */
  closeFile(): void {
    if (this.#fileClosed) return;
    this.#fileClosed = true;
    this.file.close();
  }

  /**
   * Whether every byte is present.
   *
   * @returns true when `present` covers `[0, size)`
   */
  isComplete(): boolean {
    return this.present.contains(ByteRange.of(0, this.size));
  }

  /**
   * Reads bytes that are present.
   *
   * @param offset first byte
   * @param length bytes to read
   * @param buffer where to read, when it is large enough (saves an allocation)
   * @returns exactly `length` bytes (a view of `buffer` when it was used)
   * @throws {BlobError} when the file is shorter than expected or cannot be read
   */
  readAt(offset: number, length: number, buffer?: Uint8Array): Uint8Array {
    const out = buffer !== undefined && buffer.length >= length
      ? buffer.subarray(0, length)
      : new Uint8Array(length);
    try {
      this.file.seekSync(offset, Deno.SeekMode.Start);
      for (let done = 0; done < length;) {
        const n = this.file.readSync(out.subarray(done));
        if (n === null) {
          throw new BlobError(`Cannot read blob ${this.key}: file ends at ${offset + done}`);
        }
        done += n;
      }
    } catch (cause) {
      if (cause instanceof BlobError) throw cause;
      throw new BlobError(`Cannot read blob ${this.key} at ${offset}: ${messageOf(cause)}`, {
        cause,
      });
    }
    return out;
  }

  /**
   * Writes bytes at an offset (all of them, or throws).
   *
   * @param offset first byte
   * @param data the bytes
   * @throws {Error} what the file system threw (e.g. no space left)
   */
  writeAt(offset: number, data: Uint8Array): void {
    assert(offset + data.length <= this.size, "a blob write stays inside the blob");
    this.file.seekSync(offset, Deno.SeekMode.Start);
    for (let done = 0; done < data.length;) {
      const n = this.file.writeSync(data.subarray(done));
      assert(n > 0, "writeSync makes progress");
      done += n;
    }
  }
}

/**
 * A message for any thrown value.
 *
 * @param error what was thrown
 * @returns its message
 */
export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
