/**
 * rsync signatures: per block of the old data, a 32-bit rolling weak sum and a 128-bit
 * strong hash, so that a peer holding new data can find the blocks it shares with ours.
 *
 * Format, version 1, little-endian:
 *
 * | offset          | size   | field                                          |
 * | --------------- | ------ | ---------------------------------------------- |
 * | 0               | 1      | magic {@linkcode SIGNATURE_MAGIC} (`S`)        |
 * | 1               | 1      | version {@linkcode FORMAT_VERSION}             |
 * | 2               | 2      | reserved, 0                                    |
 * | 4               | 4      | block size                                     |
 * | 8               | 8      | data length                                    |
 * | 16              | 4 × n  | weak sums, one per block                       |
 * | 16 + 4n         | 16 × n | strong hashes: BLAKE3 truncated to 16 bytes    |
 *
 * `n = ceil(data length / block size)`; the last block may be short. The length must match
 * exactly, so a signature allocates nothing beyond its own size when read.
 *
 * @module
 */

import { blake3 } from "@napi-rs/blake-hash";
import { Buffer } from "node:buffer";
import { ByteReader, writeU64 } from "./_codec.ts";
import { DeltaError } from "./errors.ts";

/** First byte of a signature. */
export const SIGNATURE_MAGIC = 0x53;
/** Second byte of signatures and deltas: the version of their formats. */
export const FORMAT_VERSION = 1;
/** Block size unless told otherwise (deno-network.md Q5: the best delta speed and size). */
export const BLOCK_SIZE_DEFAULT = 16 << 10;
/** Smallest block size. */
export const BLOCK_SIZE_MIN = 16;
/** Largest block size. */
export const BLOCK_SIZE_MAX = 1 << 20;
/** Most bytes of old or new data in a signature or a delta. */
export const DELTA_DATA_MAX = 1 << 30;
/** Bytes of a strong hash. */
export const STRONG_SIZE = 16;
/** Bytes before the first weak sum. */
export const SIGNATURE_HEADER_SIZE = 16;
/** Bytes per block. */
export const SIGNATURE_BLOCK_SIZE = 4 + STRONG_SIZE;

/** A signature, read and checked. */
export interface ParsedSignature {
  /** Bytes per block (all but the last). */
  readonly blockSize: number;
  /** Length of the data it describes. */
  readonly dataLength: number;
  /** Number of blocks. */
  readonly blockCount: number;
  /** Weak sum of block i. */
  readonly weaks: Uint32Array;
  /** Strong hash of block i in bytes `16 i` to `16 i + 16`. */
  readonly strongs: Uint8Array;
}

/** Checks a block size given by a caller. */
export function checkBlockSize(blockSize: number): void {
  if (!Number.isInteger(blockSize) || blockSize < BLOCK_SIZE_MIN || blockSize > BLOCK_SIZE_MAX) {
    const expected = `an integer from ${BLOCK_SIZE_MIN} to ${BLOCK_SIZE_MAX}`;
    throw new RangeError(`Invalid block size ${blockSize}: expected ${expected}`);
  }
}

/** Checks the length of data given by a caller. */
export function checkDataLength(length: number, what: string): void {
  if (length > DELTA_DATA_MAX) {
    throw new RangeError(`Cannot ${what}: ${length} bytes exceed ${DELTA_DATA_MAX}`);
  }
}

/**
 * Packs the two 16-bit halves of a weak sum, `a` low and `b` high.
 *
 * @param a sum of the bytes (only its low 16 bits count)
 * @param b sum of the running sums (only its low 16 bits count)
 * @returns the weak sum, unsigned
 */
export function packWeak(a: number, b: number): number {
  return ((b << 16) | (a & 0xffff)) >>> 0;
}

/**
 * Computes the rsync weak sum of `data[start, end)`: `a = Σ x_i` and
 * `b = Σ (len − i) x_i`, both modulo 2¹⁶, so that one byte in and one out update them in
 * O(1) (see {@linkcode rollWeak}).
 *
 * Returns the packed sum rather than filling an out-parameter: a store into an array after
 * the loop deoptimized the on-stack-replaced loop on every call (delta 5× slower).
 *
 * @returns `b << 16 | a`, unsigned
 */
export function weakSum(data: Uint8Array, start: number, end: number): number {
  let a = 0;
  let b = 0;
  for (let i = start; i < end; i++) {
    a = (a + data[i]!) | 0;
    b = (b + a) | 0;
  }
  return packWeak(a, b);
}

/**
 * Moves a window of `length` bytes one byte on: the weak sum of `data[p + 1, p + 1 + length)`
 * from that of `data[p, p + length)`.
 *
 * @param weak the weak sum at `p`, packed
 * @returns the weak sum at `p + 1`, packed
 */
export function rollWeak(data: Uint8Array, p: number, length: number, weak: number): number {
  const out = data[p]!;
  const a = ((weak & 0xffff) - out + data[p + length]!) | 0;
  const b = ((weak >>> 16) - Math.imul(length, out) + a) | 0;
  return packWeak(a, b);
}

/**
 * The strong hash of `data[start, end)`: BLAKE3, of which the first
 * {@linkcode STRONG_SIZE} bytes count.
 *
 * @returns 32 bytes
 */
export function strongHash(data: Uint8Array, start: number, end: number): Uint8Array {
  return blake3(Buffer.from(data.buffer, data.byteOffset + start, end - start));
}

/**
 * Computes the signature of old data, to send to the peer holding the new data.
 *
 * @param data the old data, at most {@linkcode DELTA_DATA_MAX} bytes
 * @param blockSize bytes per block, {@linkcode BLOCK_SIZE_MIN} to {@linkcode BLOCK_SIZE_MAX}
 * @returns the signature, 16 + 20 bytes per block
 * @throws {RangeError} for an invalid block size or too much data
 */
export function signature(data: Uint8Array, blockSize: number = BLOCK_SIZE_DEFAULT): Uint8Array {
  checkBlockSize(blockSize);
  checkDataLength(data.length, "compute signature");
  const count = Math.ceil(data.length / blockSize);
  const out = new Uint8Array(SIGNATURE_HEADER_SIZE + count * SIGNATURE_BLOCK_SIZE);
  const view = new DataView(out.buffer);
  view.setUint8(0, SIGNATURE_MAGIC);
  view.setUint8(1, FORMAT_VERSION);
  view.setUint32(4, blockSize, true);
  writeU64(view, 8, data.length);
  const strongs = SIGNATURE_HEADER_SIZE + 4 * count;
  for (let k = 0; k < count; k++) {
    const start = k * blockSize;
    const end = Math.min(start + blockSize, data.length);
    view.setUint32(SIGNATURE_HEADER_SIZE + 4 * k, weakSum(data, start, end), true);
    out.set(strongHash(data, start, end).subarray(0, STRONG_SIZE), strongs + STRONG_SIZE * k);
  }
  return out;
}

/**
 * Reads the start both formats share: magic, version, reserved bytes and block size.
 *
 * @param reader positioned at the start
 * @param magic the format's magic byte
 * @returns the block size
 * @throws {DeltaError} when any of them is wrong
 */
export function readFormatHeader(reader: ByteReader, magic: number): number {
  const got = reader.u8("magic");
  if (got !== magic) throw reader.error(`magic is ${got}, not ${magic}`);
  const version = reader.u8("version");
  if (version !== FORMAT_VERSION) throw reader.error(`unsupported version ${version}`);
  if (reader.u16("reserved") !== 0) throw reader.error("reserved bytes are not 0");
  const blockSize = reader.u32("block size");
  if (blockSize < BLOCK_SIZE_MIN || blockSize > BLOCK_SIZE_MAX) {
    throw reader.error(`block size ${blockSize} is outside ${BLOCK_SIZE_MIN}..${BLOCK_SIZE_MAX}`);
  }
  return blockSize;
}

/**
 * Reads and checks a signature.
 *
 * @param bytes a signature, e.g. from a peer
 * @returns its fields; `strongs` is a view into `bytes`
 * @throws {DeltaError} when it is malformed or exceeds a limit
 */
export function parseSignature(bytes: Uint8Array): ParsedSignature {
  const reader = new ByteReader(bytes, "signature");
  const blockSize = readFormatHeader(reader, SIGNATURE_MAGIC);
  const dataLength = reader.u64("data length", DELTA_DATA_MAX);
  const blockCount = Math.ceil(dataLength / blockSize);
  const expected = SIGNATURE_HEADER_SIZE + blockCount * SIGNATURE_BLOCK_SIZE;
  if (bytes.length !== expected) {
    const why = `${blockCount} blocks need ${expected} bytes, got ${bytes.length}`;
    throw new DeltaError(`Invalid signature: ${why}`);
  }
  const weaks = new Uint32Array(blockCount);
  for (let k = 0; k < blockCount; k++) weaks[k] = reader.u32("weak sum");
  const strongs = reader.bytes(blockCount * STRONG_SIZE, "strong hashes");
  return { blockSize, dataLength, blockCount, weaks, strongs };
}
