import assert from "node:assert/strict";
import { ByteRange, ByteRanges } from "../types/mod.ts";
import { trimPlan } from "./cache_cleaner.ts";
import { alignOutward, BLOCK_SIZE, blockUsage, quotaBytes } from "./cache_usage.ts";

const B = BLOCK_SIZE;
const MIB = 1 << 20;

function ranges(...pairs: [number, number][]): ByteRanges {
  return ByteRanges.from(pairs.map(([s, e]) => ByteRange.of(s, e)));
}

const SPACE = { blockSize: 4096, totalBytes: 1000 * MIB, freeBytes: 300 * MIB };

Deno.test("blockUsage() counts each 4 KiB block a range touches once", () => {
  assert.equal(blockUsage(ByteRanges.empty()), 0);
  assert.equal(blockUsage(ranges([0, 1])), B);
  assert.equal(blockUsage(ranges([0, B])), B);
  assert.equal(blockUsage(ranges([0, B + 1])), 2 * B);
  assert.equal(blockUsage(ranges([B - 1, B + 1])), 2 * B);
  assert.equal(blockUsage(ranges([0, 100], [200, 300])), B, "two ranges in one block");
  assert.equal(blockUsage(ranges([100, B + 10], [B + 20, 3 * B])), 3 * B);
  assert.equal(blockUsage(ranges([0, 10], [10 * B, 10 * B + 1])), 2 * B);
});

Deno.test("alignOutward() rounds ranges out to blocks", () => {
  assert.deepEqual(alignOutward(ranges([1, 2], [B + 5, 3 * B - 1])), ranges([0, B], [B, 3 * B]));
  assert.ok(alignOutward(ByteRanges.empty()).isEmpty());
});

Deno.test("quotaBytes() takes max in bytes or percent of the filesystem", () => {
  const bytes = { max: { kind: "bytes", bytes: 5 * MIB }, leave: null } as const;
  assert.equal(quotaBytes(bytes, 0, null), 5 * MIB);
  const percent = { max: { kind: "percent", percent: 10 }, leave: null } as const;
  assert.equal(quotaBytes(percent, 0, { ...SPACE, availableBytes: 300 * MIB }), 100 * MIB);
});

Deno.test("quotaBytes() lowers the quota to leave free space, never below 0", () => {
  const limits = {
    max: { kind: "bytes", bytes: 500 * MIB },
    leave: { kind: "bytes", bytes: 200 * MIB },
  } as const;
  // 300 MiB available, the cache uses 50: it may grow by 100 MiB, to 150.
  assert.equal(quotaBytes(limits, 50 * MIB, { ...SPACE, availableBytes: 300 * MIB }), 150 * MIB);
  // The cache's own growth does not move the quota: 100 MiB more used, 100 less available.
  assert.equal(quotaBytes(limits, 150 * MIB, { ...SPACE, availableBytes: 200 * MIB }), 150 * MIB);
  assert.equal(quotaBytes(limits, 0, { ...SPACE, availableBytes: 10 * MIB }), 0);
  const pct = { max: limits.max, leave: { kind: "percent", percent: 25 } } as const;
  assert.equal(quotaBytes(pct, 0, { ...SPACE, availableBytes: 300 * MIB }), 50 * MIB);
});

Deno.test("trimPlan() frees blocks farthest behind the write first, then farthest ahead", () => {
  const present = ranges([0, 10 * B], [20 * B, 30 * B], [40 * B, 50 * B]);
  const write = ByteRange.of(30 * B + 100, 30 * B + 200);
  assert.deepEqual(trimPlan(present, write, 3 * B, 0), ranges([0, 3 * B]));
  assert.deepEqual(trimPlan(present, write, 12 * B, 0), ranges([0, 10 * B], [20 * B, 22 * B]));
  assert.deepEqual(
    trimPlan(present, write, 25 * B, 0),
    ranges([0, 10 * B], [20 * B, 30 * B], [45 * B, 50 * B]),
  );
  assert.deepEqual(trimPlan(present, write, 1000 * B, 0), present, "all there is");
  assert.deepEqual(trimPlan(present, write, 1, 4 * B), ranges([0, 4 * B]), "minBytes");
});

Deno.test("trimPlan() never touches the blocks being written", () => {
  const present = ranges([0, 4 * B]);
  const write = ByteRange.of(2 * B + 10, 2 * B + 20);
  assert.deepEqual(trimPlan(present, write, 100 * B, 0), ranges([0, 2 * B], [3 * B, 4 * B]));
  const partial = ranges([0, B + 50]); // the second block is shared with the write
  assert.deepEqual(trimPlan(partial, ByteRange.of(B + 50, B + 60), 100 * B, 0), ranges([0, B]));
});
