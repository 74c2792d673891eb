/**
 * Applying a delta to the old data, and recognizing deltas that change nothing.
 *
 * @module
 */

import { assert } from "../util/mod.ts";
import { ByteReader } from "./_codec.ts";
import { type DeltaHeader, type OpVisitor, readDeltaHeader, readOps } from "./delta.ts";
import { DeltaError } from "./errors.ts";
import { DELTA_DATA_MAX } from "./signature.ts";

/** Options of {@linkcode patch}. */
export interface PatchOptions {
  /**
   * Most bytes the delta may produce, e.g. the size the peer announced; a delta that claims
   * more is rejected before anything is allocated. Defaults to {@linkcode DELTA_DATA_MAX}.
   */
  readonly maxSize?: number;
}

const CHECK_ONLY: OpVisitor = { copy() {}, literal() {} };

function readHeaderFor(delta: Uint8Array, oldLength: number): [ByteReader, DeltaHeader] {
  const reader = new ByteReader(delta, "delta");
  const header = readDeltaHeader(reader);
  if (header.oldLength !== oldLength) {
    throw new DeltaError(
      `Cannot apply delta: it is for ${header.oldLength} bytes of old data, got ${oldLength}`,
    );
  }
  return [reader, header];
}

/**
 * Rebuilds the new data from the old data and a delta. The delta is checked whole before
 * the output is allocated, so a hostile one fails without side effects. Runs inline: it is
 * a series of copies.
 *
 * @param oldData the data the signature was computed from
 * @param delta from {@linkcode delta}, e.g. sent by a peer
 * @param options limits
 * @returns the new data, a fresh array
 * @throws {DeltaError} when the delta is malformed, is for old data of another length, or
 *   produces more than `maxSize` bytes
 */
export function patch(
  oldData: Uint8Array,
  delta: Uint8Array,
  options: PatchOptions = {},
): Uint8Array {
  const maxSize = options.maxSize ?? DELTA_DATA_MAX;
  if (!Number.isSafeInteger(maxSize) || maxSize < 0) {
    throw new RangeError(`Invalid maxSize ${maxSize}: expected a non-negative safe integer`);
  }
  const [reader, header] = readHeaderFor(delta, oldData.length);
  if (header.newLength > maxSize) {
    throw new DeltaError(
      `Cannot apply delta: it produces ${header.newLength} bytes, over ${maxSize}`,
    );
  }
  const start = reader.offset;
  readOps(reader, header, CHECK_ONLY);
  const out = new Uint8Array(header.newLength);
  let at = 0;
  readOps(new ByteReader(delta.subarray(start), "delta"), header, {
    copy(_block, _count, from, to) {
      out.set(oldData.subarray(from, to), at);
      at += to - from;
    },
    literal(bytes) {
      out.set(bytes, at);
      at += bytes.length;
    },
  });
  assert(at === out.length, "a checked delta fills its output exactly");
  return out;
}

/**
 * Whether a delta reproduces the old data exactly: it produces as many bytes as the old
 * data has, all by copying every block in order, with no literal. The caller then skips
 * the transfer (seed #emptydelta): the data did not change.
 *
 * @param delta from {@linkcode delta}
 * @param oldLength length of the old data
 * @returns true when applying it would change nothing
 * @throws {DeltaError} when the delta is malformed or is for old data of another length
 */
export function isEmptyDelta(delta: Uint8Array, oldLength: number): boolean {
  const [reader, header] = readHeaderFor(delta, oldLength);
  if (header.newLength !== header.oldLength) return false;
  let next = 0;
  let inOrder = true;
  readOps(reader, header, {
    copy(block, count) {
      if (block !== next) inOrder = false;
      next = block + count;
    },
    literal() {
      inOrder = false;
    },
  });
  return inOrder && next === header.blockCount;
}
