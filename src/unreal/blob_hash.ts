/**
 * Hashing a complete blob file for verification.
 *
 * @module
 */

import { Hasher } from "../types/mod.ts";
import type { Hash } from "../types/mod.ts";

/** Bytes read per step by {@linkcode hashFileInline}. */
export const HASH_READ_BYTES = 1 << 20;

/** What a file hasher reports; `HashPool.hashFile` of `src/real` returns a superset. */
export interface FileHash {
  /** BLAKE3 of the bytes read. */
  readonly hash: Hash;
  /** Bytes read. */
  readonly bytesRead: number;
}

/** Hashes a whole file, e.g. `(path, options) => pool.hashFile(path, options)`. */
export type HashFileFn = (
  path: string,
  options: { readonly signal?: AbortSignal },
) => Promise<FileHash>;

/**
 * Hashes a file on the calling thread, reading it asynchronously. The default of the blob
 * store; pass a `HashPool` to hash off the main thread.
 *
 * @param path the file
 * @param options `signal` aborts between reads
 * @returns its hash and length
 * @throws {Deno.errors.NotFound} and other read errors
 * @throws the signal's reason when aborted
 */
export async function hashFileInline(
  path: string,
  options: { readonly signal?: AbortSignal } = {},
): Promise<FileHash> {
  using file = await Deno.open(path, { read: true });
  const hasher = new Hasher();
  const buffer = new Uint8Array(HASH_READ_BYTES);
  let bytesRead = 0;
  for (;;) {
    options.signal?.throwIfAborted();
    const n = await file.read(buffer);
    if (n === null) break;
    hasher.update(buffer.subarray(0, n));
    bytesRead += n;
  }
  return { hash: hasher.digest(), bytesRead };
}
