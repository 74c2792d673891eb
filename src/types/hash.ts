/**
 * Content hashes: BLAKE3 with a 32-byte digest. Text form is the standard base64 alphabet
 * without padding (43 characters), as in upstream's `Hash` display.
 *
 * Upstream used BLAKE2b-256; this port uses BLAKE3, so hashes from the two never compare
 * equal.
 *
 * @module
 */

import { Blake3Hasher } from "@napi-rs/blake-hash";
import { Buffer } from "node:buffer";

/** Length of a hash in bytes. */
export const HASH_SIZE = 32;

/** Length of a hash in base64 characters, without padding. */
export const HASH_BASE64_LENGTH = 43;

const BASE64 = /^[A-Za-z0-9+/]*$/;

/** Thrown when bytes or text are not a valid hash. */
export class HashError extends Error {
  override name = "HashError";
}

/** Hashes data given in chunks; the result equals {@linkcode Hash.of} on the concatenation. */
export class Hasher {
  readonly #hasher = new Blake3Hasher();

  /**
   * Adds the next chunk of data.
   *
   * @param chunk bytes; read before this returns, never kept
   * @returns this hasher, for chaining
   */
  update(chunk: Uint8Array): this {
    // A Buffer view over the same memory: the native binding is typed for Buffer.
    this.#hasher.update(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength));
    return this;
  }

  /**
   * The hash of everything added so far. The hasher is not reset: more chunks may follow
   * and a later digest covers them too.
   *
   * @returns the hash
   */
  digest(): Hash {
    return Hash.fromBytes(this.#hasher.digestBuffer());
  }
}

/** A BLAKE3-256 digest. Immutable. */
export class Hash {
  // Not `Hash.of()`: Hasher cannot see the outer `Hash` binding while this class initializes.
  /** The hash of no bytes. */
  static readonly EMPTY: Hash = new Hash(new Uint8Array(new Blake3Hasher().digestBuffer()));

  readonly #bytes: Uint8Array;

  private constructor(bytes: Uint8Array) {
    if (bytes.length !== HASH_SIZE) {
      throw new HashError(`Invalid hash: expected ${HASH_SIZE} bytes, got ${bytes.length}`);
    }
    this.#bytes = bytes;
  }

  /**
   * Hashes data in one go. For streams, use {@linkcode Hasher}.
   *
   * @param data the content
   * @returns its hash
   */
  static of(data: Uint8Array): Hash {
    return new Hasher().update(data).digest();
  }

  /**
   * Makes a hash from its raw bytes (a database column, a wire message).
   *
   * @param bytes exactly 32 bytes; copied
   * @returns the hash
   * @throws {HashError} when `bytes` is not 32 bytes long
   */
  static fromBytes(bytes: Uint8Array): Hash {
    // Not `bytes.slice()`: on a node Buffer, slice() is a view, not a copy.
    return new Hash(new Uint8Array(bytes));
  }

  /**
   * Parses the text form.
   *
   * @param text 43 characters of standard base64 without padding
   * @returns the hash
   * @throws {HashError} for padded input, a wrong length or invalid characters
   */
  static parse(text: string): Hash {
    if (text.length !== HASH_BASE64_LENGTH || !BASE64.test(text)) {
      throw new HashError(
        `Invalid hash "${text}": expected ${HASH_BASE64_LENGTH} base64 characters without padding`,
      );
    }
    let bytes: Uint8Array;
    try {
      // 43 characters encode 32 bytes and 2 spare bits; "strict" rejects spare bits that are
      // set, so every hash has exactly one text form.
      bytes = Uint8Array.fromBase64(`${text}=`, { lastChunkHandling: "strict" });
    } catch (cause) {
      throw new HashError(`Invalid hash "${text}": last character has unused bits set`, {
        cause,
      });
    }
    return new Hash(bytes);
  }

  /**
   * The raw bytes.
   *
   * @returns a copy of the 32 bytes
   */
  bytes(): Uint8Array {
    return new Uint8Array(this.#bytes);
  }

  /**
   * Whether two hashes are the same.
   *
   * @param other another hash
   * @returns true when all 32 bytes are equal
   */
  equals(other: Hash): boolean {
    const theirs = other.#bytes;
    for (let i = 0; i < HASH_SIZE; i++) {
      if (this.#bytes[i] !== theirs[i]) return false;
    }
    return true;
  }

  /**
   * The text form, which {@linkcode Hash.parse} reads back.
   *
   * @returns 43 characters of standard base64 without padding
   */
  toString(): string {
    return this.#bytes.toBase64({ omitPadding: true });
  }
}
