/**
 * rsync deltas: new data described as copies of old blocks and literal bytes, computed
 * from the old data's signature.
 *
 * Format, version 1, little-endian:
 *
 * | offset | size | field                                   |
 * | ------ | ---- | --------------------------------------- |
 * | 0      | 1    | magic {@linkcode DELTA_MAGIC} (`D`)     |
 * | 1      | 1    | version {@linkcode FORMAT_VERSION}      |
 * | 2      | 2    | reserved, 0                             |
 * | 4      | 4    | block size of the signature             |
 * | 8      | 8    | old length: the data the signature describes |
 * | 16     | 8    | new length: the data the delta produces |
 * | 24     |      | ops, up to the end                      |
 *
 * Ops: {@linkcode OP_COPY}, then varints block index and block count (at least 1): the
 * old bytes of those blocks; {@linkcode OP_LITERAL}, then a varint length (at least 1) and
 * that many bytes. The ops' output must add up to the new length exactly.
 *
 * @module
 */

import { assert } from "../util/mod.ts";
import { ByteReader, varintSize, writeU64, writeVarint } from "./_codec.ts";
import { DeltaError } from "./errors.ts";
import {
  checkDataLength,
  DELTA_DATA_MAX,
  FORMAT_VERSION,
  packWeak,
  type ParsedSignature,
  parseSignature,
  readFormatHeader,
  rollWeak,
  STRONG_SIZE,
  strongHash,
  weakSum,
} from "./signature.ts";

/** First byte of a delta. */
export const DELTA_MAGIC = 0x44;
/** Bytes before the first op. */
export const DELTA_HEADER_SIZE = 24;
/** Op: copy blocks of the old data. */
export const OP_COPY = 1;
/** Op: literal bytes. */
export const OP_LITERAL = 2;
/**
 * Most slots tried per lookup or insertion in the weak-sum table. Honest signatures need
 * one or two (the table is at most half full and identical blocks are stored once); the
 * bound keeps a signature of equal weak sums from making delta quadratic.
 */
export const TABLE_PROBES_MAX = 64;
/**
 * Strong hashes that may miss per block of new data (plus {@linkcode STRONG_MISSES_MIN}),
 * each costing a block of hashing. Past this budget, weak-sum hits are ignored and the
 * rest of the data goes out as literals: a hostile signature costs at most a few times the
 * normal work, never block size × data size.
 */
export const STRONG_MISSES_PER_BLOCK = 4;
/** See {@linkcode STRONG_MISSES_PER_BLOCK}. */
export const STRONG_MISSES_MIN = 64;
/** Filter bits per indexed block, as a power of 2: 2⁸ gives under 0.5 % false hits. */
const FILTER_BITS_PER_BLOCK_LOG = 8;
/** Filter size bounds, as powers of 2 (2²² bits = 512 KiB). */
const FILTER_LOG_MIN = 10;
const FILTER_LOG_MAX = 22;
/** Multiplicative hashing of weak sums (Knuth); Math.imul keeps the low bits exact. */
const HASH_MULTIPLIER = 0x9e3779b1;

/** The header of a delta, read and checked. */
export interface DeltaHeader {
  /** Block size of the signature it was computed from. */
  readonly blockSize: number;
  /** Length of the old data it applies to. */
  readonly oldLength: number;
  /** Length of the data it produces. */
  readonly newLength: number;
  /** Blocks of the old data. */
  readonly blockCount: number;
}

/** Receives the ops of a delta, in order. */
export interface OpVisitor {
  /** Blocks `block` to `block + count` of the old data, its bytes `[start, end)`. */
  copy(block: number, count: number, start: number, end: number): void;
  /** Literal bytes, a view into the delta. */
  literal(bytes: Uint8Array): void;
}

/** Where to look for blocks of the old data, by weak sum. */
interface MatchIndex {
  readonly sig: ParsedSignature;
  /** Blocks of exactly `blockSize` bytes; the others is the short tail block. */
  readonly fullBlocks: number;
  /** Length of the last block when short, else 0. */
  readonly tailLength: number;
  /** Bit `h(weak)` set for each full block: one load rules out most windows. */
  readonly filter: Uint32Array;
  readonly filterShift: number;
  /** Open addressing: block index + 1, or 0 for an empty slot. */
  readonly table: Int32Array;
  readonly tableShift: number;
  /** Strong hashes that may still miss. */
  missesLeft: number;
}

/** The ops found, merged: adjacent copies become one. */
class OpList {
  readonly kinds: number[] = [];
  /** Copy: first block; literal: start offset in the new data. */
  readonly firsts: number[] = [];
  /** Copy: block count; literal: end offset in the new data. */
  readonly seconds: number[] = [];

  copy(block: number): void {
    const last = this.kinds.length - 1;
    if (
      last >= 0 && this.kinds[last] === OP_COPY &&
      this.firsts[last]! + this.seconds[last]! === block
    ) {
      this.seconds[last]!++;
      return;
    }
    this.kinds.push(OP_COPY);
    this.firsts.push(block);
    this.seconds.push(1);
  }

  literal(start: number, end: number): void {
    if (end <= start) return;
    this.kinds.push(OP_LITERAL);
    this.firsts.push(start);
    this.seconds.push(end);
  }
}

function ceilLog2(n: number): number {
  return n <= 1 ? 0 : 32 - Math.clz32(n - 1);
}

function sameStrong(strongs: Uint8Array, block: number, hash: Uint8Array): boolean {
  const at = block * STRONG_SIZE;
  for (let i = 0; i < STRONG_SIZE; i++) {
    if (strongs[at + i] !== hash[i]) return false;
  }
  return true;
}

/** Whether two blocks of the signature have the same strong hash. */
function sameBlocks(strongs: Uint8Array, a: number, b: number): boolean {
  return sameStrong(strongs, a, strongs.subarray(b * STRONG_SIZE, (b + 1) * STRONG_SIZE));
}

/** Adds a full block to the filter and the table, unless an identical block is there. */
function insert(index: MatchIndex, block: number): void {
  const { sig, filter, table } = index;
  const weak = sig.weaks[block]!;
  const bit = Math.imul(weak, HASH_MULTIPLIER) >>> index.filterShift;
  filter[bit >>> 5]! |= 1 << (bit & 31);
  const mask = table.length - 1;
  let slot = Math.imul(weak, HASH_MULTIPLIER) >>> index.tableShift;
  for (let i = 0; i < TABLE_PROBES_MAX; i++, slot = (slot + 1) & mask) {
    const entry = table[slot]!;
    if (entry === 0) {
      table[slot] = block + 1;
      return;
    }
    const other = entry - 1;
    if (sig.weaks[other] === weak && sameBlocks(sig.strongs, other, block)) return;
  }
  // No room within the probe bound: the block is only found as the next one in order.
}

function buildIndex(sig: ParsedSignature, newLength: number): MatchIndex {
  const tail = sig.dataLength % sig.blockSize;
  const fullBlocks = Math.floor(sig.dataLength / sig.blockSize);
  const bits = ceilLog2(fullBlocks) + FILTER_BITS_PER_BLOCK_LOG;
  const filterLog = Math.min(Math.max(bits, FILTER_LOG_MIN), FILTER_LOG_MAX);
  const tableLog = Math.max(ceilLog2(fullBlocks) + 1, 4);
  const index: MatchIndex = {
    sig,
    fullBlocks,
    tailLength: tail,
    filter: new Uint32Array(2 ** (filterLog - 5)),
    filterShift: 32 - filterLog,
    table: new Int32Array(2 ** tableLog),
    tableShift: 32 - tableLog,
    missesLeft: STRONG_MISSES_MIN + STRONG_MISSES_PER_BLOCK * Math.ceil(newLength / sig.blockSize),
  };
  for (let block = 0; block < fullBlocks; block++) insert(index, block);
  return index;
}

/**
 * The weak sum of the window {@linkcode scan} stopped at. A module variable rather than an
 * out-parameter: see {@linkcode weakSum} (an array store after an on-stack-replaced loop).
 */
let scanned = 0;

/**
 * Rolls the window `[p, p + L)` forward until its weak sum passes the filter. The hot loop:
 * one filter load per byte. Leaves the weak sum of the window it stopped at in `scanned`.
 *
 * @param weak the weak sum of the window at `p`
 * @returns the first position from `p` to `last` whose window passes, or `last + 1`
 */
function scan(data: Uint8Array, p: number, last: number, weak: number, index: MatchIndex): number {
  const L = index.sig.blockSize;
  const { filter, filterShift } = index;
  let a = weak & 0xffff;
  let b = weak >>> 16;
  for (;;) {
    const bit = Math.imul((b << 16) | (a & 0xffff), HASH_MULTIPLIER) >>> filterShift;
    if ((filter[bit >>> 5]! & (1 << (bit & 31))) !== 0) break;
    if (p === last) {
      p++;
      break;
    }
    const out = data[p]!;
    a = (a - out + data[p + L]!) | 0;
    b = (b - Math.imul(L, out) + a) | 0;
    p++;
  }
  scanned = packWeak(a, b);
  return p;
}

/**
 * The full block whose content is `data[p, p + L)`, or -1. Tries `expected` (the block
 * after the previous match) first, so that runs of identical blocks copy in order.
 */
function findMatch(
  index: MatchIndex,
  data: Uint8Array,
  p: number,
  weak: number,
  expected: number,
): number {
  const { sig, table } = index;
  const end = p + sig.blockSize;
  let strong: Uint8Array | null = null;
  if (expected < index.fullBlocks && sig.weaks[expected] === weak) {
    if (index.missesLeft <= 0) return -1;
    strong = strongHash(data, p, end);
    if (sameStrong(sig.strongs, expected, strong)) return expected;
  }
  const mask = table.length - 1;
  let slot = Math.imul(weak, HASH_MULTIPLIER) >>> index.tableShift;
  for (let i = 0; i < TABLE_PROBES_MAX; i++, slot = (slot + 1) & mask) {
    const entry = table[slot]!;
    if (entry === 0) break;
    const block = entry - 1;
    if (sig.weaks[block] !== weak) continue;
    if (strong === null) {
      if (index.missesLeft <= 0) return -1;
      strong = strongHash(data, p, end);
    }
    if (sameStrong(sig.strongs, block, strong)) return block;
  }
  if (strong !== null) index.missesLeft--;
  return -1;
}

/** Finds the full blocks of the old data in the new data; returns where literals resume. */
function matchFullBlocks(index: MatchIndex, data: Uint8Array, ops: OpList): number {
  const L = index.sig.blockSize;
  const last = data.length - L;
  if (index.fullBlocks === 0 || last < 0) return 0;
  let weak = weakSum(data, 0, L);
  let literalStart = 0;
  let expected = 0;
  let p = 0;
  while (p <= last) {
    p = scan(data, p, last, weak, index);
    if (p > last) break;
    weak = scanned;
    const block = findMatch(index, data, p, weak, expected);
    if (block < 0) {
      if (p === last) break;
      weak = rollWeak(data, p, L, weak);
      p++;
      continue;
    }
    ops.literal(literalStart, p);
    ops.copy(block);
    p += L;
    literalStart = p;
    expected = block + 1;
    if (p <= last) weak = weakSum(data, p, p + L);
  }
  return literalStart;
}

/**
 * Ends the ops: the short tail block of the old data is looked for at the very end of the
 * new data only (as rsync does), the rest is literal.
 */
function matchTail(index: MatchIndex, data: Uint8Array, ops: OpList, literalStart: number): void {
  const tail = index.tailLength;
  const start = data.length - tail;
  if (tail > 0 && start >= literalStart && index.missesLeft > 0) {
    const block = index.sig.blockCount - 1;
    if (index.sig.weaks[block] === weakSum(data, start, data.length)) {
      if (sameStrong(index.sig.strongs, block, strongHash(data, start, data.length))) {
        ops.literal(literalStart, start);
        ops.copy(block);
        return;
      }
    }
  }
  ops.literal(literalStart, data.length);
}

function encodedSize(ops: OpList): number {
  let size = DELTA_HEADER_SIZE;
  for (let i = 0; i < ops.kinds.length; i++) {
    const first = ops.firsts[i]!;
    const second = ops.seconds[i]!;
    if (ops.kinds[i] === OP_COPY) size += 1 + varintSize(first) + varintSize(second);
    else size += 1 + varintSize(second - first) + (second - first);
  }
  return size;
}

function encode(sig: ParsedSignature, data: Uint8Array, ops: OpList): Uint8Array {
  const out = new Uint8Array(encodedSize(ops));
  const view = new DataView(out.buffer);
  view.setUint8(0, DELTA_MAGIC);
  view.setUint8(1, FORMAT_VERSION);
  view.setUint32(4, sig.blockSize, true);
  writeU64(view, 8, sig.dataLength);
  writeU64(view, 16, data.length);
  let at = DELTA_HEADER_SIZE;
  for (let i = 0; i < ops.kinds.length; i++) {
    const first = ops.firsts[i]!;
    const second = ops.seconds[i]!;
    out[at++] = ops.kinds[i]!;
    if (ops.kinds[i] === OP_COPY) {
      at = writeVarint(out, writeVarint(out, at, first), second);
    } else {
      at = writeVarint(out, at, second - first);
      out.set(data.subarray(first, second), at);
      at += second - first;
    }
  }
  assert(at === out.length, "the ops fill the delta exactly");
  return out;
}

/**
 * Computes the delta that turns the old data into `newData`, from the old data's signature:
 * a rolling weak sum over every window of the new data, a filter and a table of the
 * signature's weak sums, and the strong hash to confirm a hit.
 *
 * @param signature from {@linkcode signature}, e.g. sent by a peer
 * @param newData the new data, at most {@linkcode DELTA_DATA_MAX} bytes
 * @returns the delta
 * @throws {DeltaError} when the signature is malformed or exceeds a limit
 * @throws {RangeError} when `newData` is too long
 */
export function delta(signature: Uint8Array, newData: Uint8Array): Uint8Array {
  checkDataLength(newData.length, "compute delta");
  const sig = parseSignature(signature);
  const index = buildIndex(sig, newData.length);
  const ops = new OpList();
  matchTail(index, newData, ops, matchFullBlocks(index, newData, ops));
  return encode(sig, newData, ops);
}

/**
 * Reads and checks the header of a delta.
 *
 * @param reader positioned at the start of the delta
 * @returns the header; the reader is left at the first op
 * @throws {DeltaError} when it is malformed or exceeds a limit
 */
export function readDeltaHeader(reader: ByteReader): DeltaHeader {
  const blockSize = readFormatHeader(reader, DELTA_MAGIC);
  const oldLength = reader.u64("old length", DELTA_DATA_MAX);
  const newLength = reader.u64("new length", DELTA_DATA_MAX);
  return { blockSize, oldLength, newLength, blockCount: Math.ceil(oldLength / blockSize) };
}

/**
 * Reads the ops of a delta, checking each: known kind, blocks within the old data, output
 * within the new length, and exactly the new length in the end.
 *
 * @param reader positioned at the first op (after {@linkcode readDeltaHeader})
 * @param header the delta's header
 * @param visitor receives each op once it is checked
 * @throws {DeltaError} at the first invalid op
 */
export function readOps(reader: ByteReader, header: DeltaHeader, visitor: OpVisitor): void {
  const { blockSize, oldLength, newLength, blockCount } = header;
  let produced = 0;
  while (reader.remaining > 0) {
    const kind = reader.u8("op");
    let length: number;
    if (kind === OP_COPY) {
      const block = reader.varint("copy block");
      const count = reader.varint("copy count");
      if (count === 0 || block >= blockCount || count > blockCount - block) {
        throw reader.error(`copy of blocks ${block}+${count} outside the ${blockCount} blocks`);
      }
      const start = block * blockSize;
      const end = Math.min((block + count) * blockSize, oldLength);
      length = end - start;
      if (length > newLength - produced) throw reader.error("ops exceed the new length");
      visitor.copy(block, count, start, end);
    } else if (kind === OP_LITERAL) {
      length = reader.varint("literal length");
      if (length === 0) throw reader.error("empty literal");
      if (length > newLength - produced) throw reader.error("ops exceed the new length");
      visitor.literal(reader.bytes(length, "literal"));
    } else {
      throw reader.error(`unknown op ${kind}`);
    }
    produced += length;
  }
  if (produced !== newLength) {
    throw new DeltaError(`Invalid delta: ops produce ${produced} bytes, not ${newLength}`);
  }
}
