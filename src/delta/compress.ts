/**
 * Chunk compression for the network (seed #compress): zstd level 3 through `node:zlib`,
 * skipped for chunks a quick probe finds incompressible (audio, video, archives).
 *
 * A compressed chunk, version 1:
 *
 * | offset | size | field                                          |
 * | ------ | ---- | ---------------------------------------------- |
 * | 0      | 1    | magic {@linkcode COMPRESSED_MAGIC} (`Z`)       |
 * | 1      | 1    | version {@linkcode COMPRESSED_VERSION}         |
 * | 2      | 4    | uncompressed length, little-endian             |
 * | 6      |      | one zstd frame                                 |
 *
 * The length is ours, not zstd's: Deno's zstd frames carry no content size, and a truncated
 * frame decompresses without error into fewer bytes. Checking the output against it catches
 * truncation; zstd is stopped one byte past it, so more output is an error too (Deno's zstd
 * may also ignore frames after the first). The length also bounds the output before zstd
 * runs. Deno ends each output with an empty 9-byte frame, which is harmless.
 *
 * @module
 */

import { Buffer } from "node:buffer";
import { constants, zstdCompressSync, zstdDecompressSync } from "node:zlib";
import { ByteReader } from "./_codec.ts";
import { DeltaError } from "./errors.ts";

/** First byte of a compressed chunk. */
export const COMPRESSED_MAGIC = 0x5a;
/** Second byte of a compressed chunk. */
export const COMPRESSED_VERSION = 1;
/** Bytes before the zstd frame. */
export const COMPRESSED_HEADER_SIZE = 6;
/** zstd level: deno-network.md Q4, ratio 0.18 on source text at 236 MB/s. */
export const COMPRESS_LEVEL = 3;
/**
 * zstd window, as a power of 2 (2 MiB), set on both sides: the decoder refuses frames that
 * ask for more, so a hostile frame cannot make it allocate a large window.
 */
export const COMPRESS_WINDOW_LOG = 21;
/** Bytes compressed to decide whether a chunk is worth compressing. */
export const COMPRESS_PROBE_BYTES = 32 << 10;
/** A probe that compresses to more than this fraction means: send the chunk raw. */
export const COMPRESS_PROBE_RATIO_MAX = 0.9;
/** Chunks shorter than this go raw: the header and frame overhead eat the gain. */
export const COMPRESS_MIN_BYTES = 64;
/** Longest chunk to compress or decompress. Network chunks are about 1 MiB. */
export const COMPRESS_CHUNK_MAX = 64 << 20;

/** What {@linkcode compressChunk} returns. */
export interface CompressedChunk {
  /** The compressed chunk, or the input itself (same array) when `compressed` is false. */
  readonly data: Uint8Array;
  /** Whether `data` must go through {@linkcode decompressChunk}. */
  readonly compressed: boolean;
}

/** Options of {@linkcode decompressChunk}. */
export interface DecompressOptions {
  /** Most bytes the chunk may hold once decompressed, up to {@linkcode COMPRESS_CHUNK_MAX}. */
  readonly maxSize: number;
}

const COMPRESS_OPTIONS = {
  params: {
    [constants.ZSTD_c_compressionLevel]: COMPRESS_LEVEL,
    [constants.ZSTD_c_windowLog]: COMPRESS_WINDOW_LOG,
  },
};

function zstd(bytes: Uint8Array): Buffer {
  const input = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return zstdCompressSync(input, COMPRESS_OPTIONS);
}

/**
 * Compresses a chunk for the network when that pays: a probe of its first
 * {@linkcode COMPRESS_PROBE_BYTES} must shrink to at most {@linkcode COMPRESS_PROBE_RATIO_MAX},
 * and the whole must come out shorter than it went in.
 *
 * @param bytes the chunk, at most {@linkcode COMPRESS_CHUNK_MAX} bytes
 * @returns the compressed chunk, or `bytes` itself with `compressed: false`
 * @throws {RangeError} when the chunk is too long
 */
export function compressChunk(bytes: Uint8Array): CompressedChunk {
  if (bytes.length > COMPRESS_CHUNK_MAX) {
    throw new RangeError(
      `Cannot compress chunk: ${bytes.length} bytes exceed ${COMPRESS_CHUNK_MAX}`,
    );
  }
  const raw = { data: bytes, compressed: false };
  if (bytes.length < COMPRESS_MIN_BYTES) return raw;
  if (bytes.length > COMPRESS_PROBE_BYTES) {
    const probe = zstd(bytes.subarray(0, COMPRESS_PROBE_BYTES));
    if (probe.length > COMPRESS_PROBE_BYTES * COMPRESS_PROBE_RATIO_MAX) return raw;
  }
  const frame = zstd(bytes);
  if (COMPRESSED_HEADER_SIZE + frame.length >= bytes.length) return raw;
  const data = new Uint8Array(COMPRESSED_HEADER_SIZE + frame.length);
  const view = new DataView(data.buffer);
  view.setUint8(0, COMPRESSED_MAGIC);
  view.setUint8(1, COMPRESSED_VERSION);
  view.setUint32(2, bytes.length, true);
  data.set(frame, COMPRESSED_HEADER_SIZE);
  return { data, compressed: true };
}

/**
 * Decompresses a chunk made by {@linkcode compressChunk}. zstd stops as soon as the output
 * would pass the announced length, so a zstd bomb costs at most `maxSize` bytes.
 *
 * @param data a compressed chunk, e.g. from a peer
 * @param options the output limit
 * @returns the chunk, a fresh array
 * @throws {DeltaError} when the chunk is malformed, truncated, or would exceed `maxSize`
 * @throws {RangeError} for an invalid `maxSize`
 */
export function decompressChunk(data: Uint8Array, options: DecompressOptions): Uint8Array {
  const { maxSize } = options;
  if (!Number.isSafeInteger(maxSize) || maxSize < 0 || maxSize > COMPRESS_CHUNK_MAX) {
    const expected = `an integer from 0 to ${COMPRESS_CHUNK_MAX}`;
    throw new RangeError(`Invalid maxSize ${maxSize}: expected ${expected}`);
  }
  const reader = new ByteReader(data, "compressed chunk");
  const magic = reader.u8("magic");
  if (magic !== COMPRESSED_MAGIC) throw reader.error(`magic is ${magic}, not ${COMPRESSED_MAGIC}`);
  const version = reader.u8("version");
  if (version !== COMPRESSED_VERSION) throw reader.error(`unsupported version ${version}`);
  const size = reader.u32("length");
  if (size > maxSize) {
    throw new DeltaError(`Cannot decompress chunk: it holds ${size} bytes, over ${maxSize}`);
  }
  const frame = reader.bytes(reader.remaining, "frame");
  let out: Buffer;
  try {
    out = zstdDecompressSync(Buffer.from(frame.buffer, frame.byteOffset, frame.byteLength), {
      maxOutputLength: size + 1, // one more: output past `size` is an error
      params: { [constants.ZSTD_d_windowLogMax]: COMPRESS_WINDOW_LOG },
    });
  } catch (cause) {
    const why = cause instanceof Error ? cause.message : String(cause);
    throw new DeltaError(`Invalid compressed chunk: ${why}`, { cause });
  }
  if (out.length !== size) {
    throw new DeltaError(`Invalid compressed chunk: ${out.length} bytes, not ${size}`);
  }
  return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
}
