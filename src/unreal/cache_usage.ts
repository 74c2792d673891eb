/**
 * What the blob cache counts against its quota, and the quota itself.
 *
 * **Accounting.** A blob costs the 4 KiB blocks its present ranges touch
 * ({@linkcode blockUsage}): a range is rounded out to block boundaries, and a block shared
 * by two ranges counts once. This is computed from the recorded ranges, never read back
 * from `st_blocks`, so it is deterministic, needs no `stat` after each write, and the sum
 * over the database rows is the cache's usage. It matches what ext4 and tmpfs allocate for
 * data (4 KiB blocks and pages); filesystem metadata is not counted.
 *
 * **Quota** ({@linkcode quotaBytes}): `disk_usage.max` (bytes, or a percentage of the size of
 * the filesystem holding the blobs), lowered so that `disk_usage.leave` stays free on that
 * filesystem: `min(max, used + available − leave)`, where `available` is `statvfs`
 * `f_bavail` now. Writing a block of cache both adds to `used` and takes from `available`,
 * so the cache's own writes do not move the quota; other files filling the disk lower it.
 *
 * @module
 */

import type { FsSpace } from "../../ffi/libc/mod.ts";
import type { BytesOrPercent, DiskUsage } from "../config/mod.ts";
import { ByteRange, ByteRanges } from "../types/mod.ts";
import { assert } from "../util/mod.ts";

/** The accounting unit: bytes of one block. */
export const BLOCK_SIZE = 4096;

/**
 * The bytes of the blocks that `ranges` touch.
 *
 * @param ranges present bytes of one blob
 * @returns a multiple of {@linkcode BLOCK_SIZE}
 */
export function blockUsage(ranges: ByteRanges): number {
  let blocks = 0;
  let counted = -1; // the last block already counted
  for (const range of ranges.ranges()) {
    const first = Math.max(Math.floor(range.start / BLOCK_SIZE), counted + 1);
    const last = Math.ceil(range.end / BLOCK_SIZE) - 1;
    if (last >= first) blocks += last - first + 1;
    counted = Math.max(counted, last);
  }
  return blocks * BLOCK_SIZE;
}

/**
 * The whole blocks that `ranges` touch: each range rounded out to block boundaries.
 *
 * @param ranges byte ranges
 * @returns block-aligned ranges covering `ranges`
 */
export function alignOutward(ranges: ByteRanges): ByteRanges {
  return ByteRanges.from(ranges.ranges().map((r) => alignRange(r)));
}

/**
 * One range rounded out to block boundaries.
 *
 * @param range a byte range
 * @returns the block-aligned range covering it
 */
export function alignRange(range: ByteRange): ByteRange {
  if (range.isEmpty()) return range;
  const start = Math.floor(range.start / BLOCK_SIZE) * BLOCK_SIZE;
  return ByteRange.of(start, Math.ceil(range.end / BLOCK_SIZE) * BLOCK_SIZE);
}

/**
 * The quota of the cache right now.
 *
 * @param limits the arena's `disk_usage`
 * @param usedBytes what the cache uses now (its own accounting)
 * @param space the filesystem holding the blobs; needed when `max` is a percentage or
 *   `leave` is set, ignored otherwise
 * @returns the most the cache may use, in bytes (0 when the disk is fuller than `leave`
 *   allows even without the cache)
 * @throws {AssertionError} when `space` is needed but missing
 */
export function quotaBytes(limits: DiskUsage, usedBytes: number, space: FsSpace | null): number {
  let quota = resolveBytes(limits.max, space);
  if (limits.leave !== null) {
    assert(space !== null, "statvfs is known when disk_usage.leave is set");
    const leave = resolveBytes(limits.leave, space);
    quota = Math.min(quota, usedBytes + space.availableBytes - leave);
  }
  return Math.max(0, Math.floor(quota));
}

/**
 * Whether {@linkcode quotaBytes} needs the filesystem's space for these limits.
 *
 * @param limits the arena's `disk_usage`
 * @returns true when `max` is a percentage or `leave` is set
 */
export function needsSpace(limits: DiskUsage): boolean {
  return limits.max.kind === "percent" || limits.leave !== null;
}

function resolveBytes(value: BytesOrPercent, space: FsSpace | null): number {
  if (value.kind === "bytes") return value.bytes;
  assert(space !== null, "statvfs is known when a limit is a percentage");
  return Math.floor(space.totalBytes * value.percent / 100);
}
