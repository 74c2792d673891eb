/**
 * The cleaner's choices, as pure functions over the database and byte ranges; the store
 * carries them out (database first, then the files).
 *
 * - {@linkcode chooseVictims}: whole blobs to evict, `pending` first then `working`, least
 *   recently used first within each; `protected` and open blobs are never chosen.
 * - {@linkcode trimPlan}: for a blob larger than what the cache can hold, the parts of its own
 *   data to punch out, farthest behind the current write first (seed `#largedl`).
 *
 * @module
 */

import type { ReadTx } from "../storage/mod.ts";
import { ByteRange, ByteRanges, type Hash } from "../types/mod.ts";
import { assert } from "../util/mod.ts";
import { type Area, EVICTION_ORDER, leastRecentlyUsed } from "./blob_schema.ts";
import { alignOutward, alignRange, BLOCK_SIZE } from "./cache_usage.ts";

/** A blob chosen for eviction. */
export interface Victim {
  /** The blob. */
  readonly hash: Hash;
  /** Its area. */
  readonly area: Area;
  /** What evicting it frees. */
  readonly usage: number;
}

/** Most blobs chosen in one call; the cleaner loops for more. */
export const VICTIMS_MAX = 256;

/**
 * Chooses blobs to evict until they free `needBytes`.
 *
 * @param tx a transaction (the LRU positions must be up to date in it)
 * @param needBytes how much to free
 * @param isOpen whether a blob is open (open blobs are skipped)
 * @returns the victims in eviction order, at most {@linkcode VICTIMS_MAX}; they may free
 *   less than `needBytes` when nothing else is evictable
 */
export function chooseVictims(
  tx: ReadTx,
  needBytes: number,
  isOpen: (hash: Hash) => boolean,
): Victim[] {
  const victims: Victim[] = [];
  let freed = 0;
  for (const area of EVICTION_ORDER) {
    for (const { hash, usage } of leastRecentlyUsed(tx, area)) {
      if (freed >= needBytes || victims.length >= VICTIMS_MAX) return victims;
      if (isOpen(hash)) continue;
      victims.push({ hash, area, usage });
      freed += usage;
    }
  }
  return victims;
}

/**
 * The parts of an open blob's own data to punch out so that a write can be stored: whole
 * blocks, never those the write touches, farthest behind the write first (a file read
 * sequentially keeps the window just behind the reader), then farthest ahead.
 *
 * @param present the blob's present ranges
 * @param write the range being written
 * @param needBytes how much must be freed
 * @param minBytes free at least this much when possible, so a long sequential read trims
 *   in steps rather than at every write
 * @returns block-aligned ranges, each touching present data; they free
 *   `min(max(needBytes, minBytes), available)` rounded up to a block, or less when the blob
 *   has no more data outside the write's blocks
 */
export function trimPlan(
  present: ByteRanges,
  write: ByteRange,
  needBytes: number,
  minBytes: number,
): ByteRanges {
  const goal = Math.ceil(Math.max(needBytes, minBytes) / BLOCK_SIZE) * BLOCK_SIZE;
  const keep = alignRange(write);
  const candidates = alignOutward(present).subtract(ByteRanges.of(keep)).ranges();
  const behind = candidates.filter((r) => r.end <= keep.start);
  const ahead = candidates.filter((r) => r.start >= keep.end).reverse();
  const pieces: ByteRange[] = [];
  let taken = 0;
  for (const range of behind) {
    if (taken >= goal) break;
    const take = Math.min(range.byteCount(), goal - taken);
    pieces.push(ByteRange.of(range.start, range.start + take));
    taken += take;
  }
  for (const range of ahead) {
    if (taken >= goal) break;
    const take = Math.min(range.byteCount(), goal - taken);
    pieces.push(ByteRange.of(range.end - take, range.end));
    taken += take;
  }
  const plan = ByteRanges.from(pieces);
  assert(!plan.overlaps(keep), "a trim never touches the blocks being written");
  return plan;
}
