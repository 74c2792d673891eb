import assert from "node:assert/strict";
import { ByteRange, ByteRanges } from "./byte_ranges.ts";

function r(start: number, end: number): ByteRange {
  return ByteRange.of(start, end);
}

/** A set from `[start, end]` pairs, e.g. `set([0, 10], [20, 30])`. */
function set(...pairs: [number, number][]): ByteRanges {
  return ByteRanges.of(...pairs.map(([start, end]) => r(start, end)));
}

/** The `[start, end]` pairs of a set, for deepEqual. */
function pairs(ranges: ByteRanges): [number, number][] {
  return ranges.toJSON();
}

// ByteRange

Deno.test("ByteRange.of() keeps its bounds", () => {
  const range = r(3, 7);
  assert.equal(range.start, 3);
  assert.equal(range.end, 7);
  assert.equal(r(0, Number.MAX_SAFE_INTEGER).end, Number.MAX_SAFE_INTEGER);
});

Deno.test("ByteRange.of() rejects offsets that are not non-negative safe integers", () => {
  for (const bad of [-1, 1.5, NaN, Infinity, -Infinity, Number.MAX_SAFE_INTEGER + 1]) {
    assert.throws(() => r(bad, 10), RangeError, `start ${bad}`);
    assert.throws(() => r(0, bad), RangeError, `end ${bad}`);
  }
  assert.throws(() => r(-1, 10), {
    name: "RangeError",
    message: "Invalid range start -1: expected a non-negative safe integer",
  });
  assert.throws(() => r(0, 0.5), {
    name: "RangeError",
    message: "Invalid range end 0.5: expected a non-negative safe integer",
  });
});

Deno.test("ByteRange.isEmpty() is true when end <= start", () => {
  assert.equal(r(0, 0).isEmpty(), true);
  assert.equal(r(5, 5).isEmpty(), true);
  assert.equal(r(7, 3).isEmpty(), true);
  assert.equal(r(3, 4).isEmpty(), false);
});

Deno.test("ByteRange.byteCount() counts bytes and is 0 when empty", () => {
  assert.equal(r(0, 10).byteCount(), 10);
  assert.equal(r(10, 20).byteCount(), 10);
  assert.equal(r(5, 5).byteCount(), 0);
  assert.equal(r(7, 3).byteCount(), 0);
});

Deno.test("ByteRange.containsOffset() includes start and excludes end", () => {
  const range = r(10, 20);
  assert.equal(range.containsOffset(9), false);
  assert.equal(range.containsOffset(10), true);
  assert.equal(range.containsOffset(19), true);
  assert.equal(range.containsOffset(20), false);
  assert.equal(r(5, 5).containsOffset(5), false);
});

Deno.test("ByteRange.overlaps() needs a shared byte", () => {
  assert.equal(r(0, 10).overlaps(r(5, 15)), true);
  assert.equal(r(5, 15).overlaps(r(0, 10)), true);
  assert.equal(r(0, 10).overlaps(r(2, 3)), true);
  assert.equal(r(0, 10).overlaps(r(10, 20)), false);
  assert.equal(r(10, 20).overlaps(r(0, 10)), false);
  assert.equal(r(0, 10).overlaps(r(5, 5)), false);
  assert.equal(r(0, 10).overlaps(r(8, 3)), false);
  assert.equal(r(8, 3).overlaps(r(0, 10)), false);
});

Deno.test("ByteRange.equals() compares bounds", () => {
  assert.equal(r(1, 2).equals(r(1, 2)), true);
  assert.equal(r(1, 2).equals(r(1, 3)), false);
  assert.equal(r(1, 2).equals(r(0, 2)), false);
  assert.equal(r(5, 5).equals(r(0, 0)), false);
});

Deno.test("ByteRange.toString() uses interval notation", () => {
  assert.equal(r(0, 10).toString(), "[0, 10)");
  assert.equal(String(r(5, 5)), "[5, 5)");
});

// ByteRanges: construction

Deno.test("ByteRanges.empty() holds nothing", () => {
  const empty = ByteRanges.empty();
  assert.equal(empty.isEmpty(), true);
  assert.equal(empty.byteCount(), 0);
  assert.deepEqual(empty.ranges(), []);
  assert.equal(empty.toString(), "{}");
  assert.ok(empty.equals(ByteRanges.of()));
});

Deno.test("ByteRanges.of() sorts its ranges", () => {
  assert.deepEqual(pairs(set([20, 30], [0, 10])), [[0, 10], [20, 30]]);
});

Deno.test("ByteRanges.of() merges overlapping, adjacent, nested and identical ranges", () => {
  assert.deepEqual(pairs(set([0, 10], [5, 15])), [[0, 15]]);
  assert.deepEqual(pairs(set([0, 10], [10, 20])), [[0, 20]]);
  assert.deepEqual(pairs(set([10, 20], [0, 10])), [[0, 20]]);
  assert.deepEqual(pairs(set([0, 30], [10, 20])), [[0, 30]]);
  assert.deepEqual(pairs(set([10, 20], [0, 30])), [[0, 30]]);
  assert.deepEqual(pairs(set([0, 10], [0, 10])), [[0, 10]]);
  assert.deepEqual(pairs(set([0, 5], [20, 25], [5, 20])), [[0, 25]]);
});

Deno.test("ByteRanges.of() drops empty ranges", () => {
  assert.ok(set([5, 5], [9, 3]).isEmpty());
  assert.deepEqual(pairs(set([0, 10], [10, 10], [20, 30])), [[0, 10], [20, 30]]);
  assert.equal(set([5, 5]), ByteRanges.empty());
});

Deno.test("ByteRanges.from() reads any iterable", () => {
  const ranges = new Set([r(20, 30), r(0, 10), r(10, 15)]);
  assert.deepEqual(pairs(ByteRanges.from(ranges)), [[0, 15], [20, 30]]);
  const many = Array.from({ length: 200_000 }, (_, i) => r(2 * i, 2 * i + 1));
  assert.equal(ByteRanges.from(many).ranges().length, 200_000);
});

// ByteRanges.add()

Deno.test("ByteRanges.add() inserts disjoint ranges in order", () => {
  const base = set([10, 20], [40, 50]);
  assert.deepEqual(pairs(base.add(r(0, 5))), [[0, 5], [10, 20], [40, 50]]);
  assert.deepEqual(pairs(base.add(r(25, 30))), [[10, 20], [25, 30], [40, 50]]);
  assert.deepEqual(pairs(base.add(r(60, 70))), [[10, 20], [40, 50], [60, 70]]);
  assert.deepEqual(pairs(ByteRanges.empty().add(r(1, 2))), [[1, 2]]);
});

Deno.test("ByteRanges.add() merges adjacent ranges", () => {
  const base = set([10, 20], [40, 50]);
  assert.deepEqual(pairs(base.add(r(5, 10))), [[5, 20], [40, 50]]);
  assert.deepEqual(pairs(base.add(r(20, 25))), [[10, 25], [40, 50]]);
  assert.deepEqual(pairs(base.add(r(20, 40))), [[10, 50]]);
  assert.deepEqual(pairs(base.add(r(50, 60))), [[10, 20], [40, 60]]);
});

Deno.test("ByteRanges.add() merges overlapping ranges", () => {
  const base = set([10, 20], [40, 50]);
  assert.deepEqual(pairs(base.add(r(5, 15))), [[5, 20], [40, 50]]);
  assert.deepEqual(pairs(base.add(r(15, 45))), [[10, 50]]);
  assert.deepEqual(pairs(base.add(r(0, 100))), [[0, 100]]);
  assert.deepEqual(pairs(base.add(r(45, 55))), [[10, 20], [40, 55]]);
});

Deno.test("ByteRanges.add() returns the same set for nested, identical or empty ranges", () => {
  const base = set([10, 20], [40, 50]);
  assert.equal(base.add(r(12, 18)), base);
  assert.equal(base.add(r(10, 20)), base);
  assert.equal(base.add(r(30, 30)), base);
  assert.equal(base.add(r(35, 25)), base);
});

Deno.test("ByteRanges.add() leaves the original set unchanged", () => {
  const base = set([10, 20]);
  const bigger = base.add(r(30, 40));
  assert.deepEqual(pairs(base), [[10, 20]]);
  assert.deepEqual(pairs(bigger), [[10, 20], [30, 40]]);
});

// ByteRanges.union(), intersection(), subtract()

Deno.test("ByteRanges.union() merges both sets", () => {
  const a = set([0, 10], [20, 30]);
  assert.equal(a.union(ByteRanges.empty()), a);
  assert.equal(ByteRanges.empty().union(a), a);
  assert.deepEqual(pairs(a.union(a)), [[0, 10], [20, 30]]);
  assert.deepEqual(pairs(a.union(set([40, 50]))), [[0, 10], [20, 30], [40, 50]]);
  assert.deepEqual(pairs(a.union(set([10, 20]))), [[0, 30]]);
  assert.deepEqual(pairs(a.union(set([5, 6], [12, 14], [25, 35]))), [
    [0, 10],
    [12, 14],
    [20, 35],
  ]);
  assert.deepEqual(pairs(set([5, 6]).union(set([0, 100]))), [[0, 100]]);
});

Deno.test("ByteRanges.intersection() keeps shared bytes", () => {
  const a = set([0, 10], [20, 30]);
  assert.ok(a.intersection(ByteRanges.empty()).isEmpty());
  assert.ok(ByteRanges.empty().intersection(a).isEmpty());
  assert.deepEqual(pairs(a.intersection(a)), [[0, 10], [20, 30]]);
  assert.ok(a.intersection(set([10, 20])).isEmpty());
  assert.ok(a.intersection(set([40, 50])).isEmpty());
  assert.deepEqual(pairs(a.intersection(set([5, 25]))), [[5, 10], [20, 25]]);
  assert.deepEqual(pairs(a.intersection(set([0, 100]))), [[0, 10], [20, 30]]);
  assert.deepEqual(pairs(a.intersection(set([2, 4], [6, 8], [30, 31]))), [[2, 4], [6, 8]]);
  assert.deepEqual(pairs(set([0, 10]).intersection(set([0, 5], [5, 10]))), [[0, 10]]);
});

Deno.test("ByteRanges.subtract() removes bytes", () => {
  const a = set([0, 10], [20, 30]);
  assert.equal(a.subtract(ByteRanges.empty()), a);
  assert.ok(ByteRanges.empty().subtract(a).isEmpty());
  assert.ok(a.subtract(a).isEmpty());
  assert.ok(a.subtract(set([0, 100])).isEmpty());
  assert.deepEqual(pairs(a.subtract(set([10, 20]))), [[0, 10], [20, 30]]);
  assert.deepEqual(pairs(a.subtract(set([3, 5]))), [[0, 3], [5, 10], [20, 30]]);
  assert.deepEqual(pairs(a.subtract(set([0, 3], [28, 30]))), [[3, 10], [20, 28]]);
  assert.deepEqual(pairs(a.subtract(set([5, 25]))), [[0, 5], [25, 30]]);
  assert.deepEqual(pairs(a.subtract(set([1, 2], [4, 5], [22, 23]))), [
    [0, 1],
    [2, 4],
    [5, 10],
    [20, 22],
    [23, 30],
  ]);
});

Deno.test("ByteRanges.subtract() handles a cut spanning several ranges", () => {
  const a = set([0, 10], [20, 30], [40, 50], [60, 70]);
  assert.deepEqual(pairs(a.subtract(set([5, 45]))), [[0, 5], [45, 50], [60, 70]]);
  assert.deepEqual(pairs(a.subtract(set([5, 25], [28, 65]))), [[0, 5], [25, 28], [65, 70]]);
});

// ByteRanges queries

Deno.test("ByteRanges.contains() needs the whole range covered", () => {
  const a = set([0, 10], [20, 30]);
  assert.equal(a.contains(r(0, 10)), true);
  assert.equal(a.contains(r(2, 8)), true);
  assert.equal(a.contains(r(20, 30)), true);
  assert.equal(a.contains(r(25, 30)), true);
  assert.equal(a.contains(r(5, 25)), false);
  assert.equal(a.contains(r(0, 11)), false);
  assert.equal(a.contains(r(19, 21)), false);
  assert.equal(a.contains(r(12, 15)), false);
  assert.equal(a.contains(r(30, 31)), false);
  assert.equal(ByteRanges.empty().contains(r(0, 1)), false);
});

Deno.test("ByteRanges.contains() is true for an empty range", () => {
  assert.equal(ByteRanges.empty().contains(r(5, 5)), true);
  assert.equal(set([0, 10]).contains(r(50, 50)), true);
});

Deno.test("ByteRanges.containsOffset() includes starts and excludes ends", () => {
  const a = set([10, 20], [30, 40]);
  const inside = [10, 15, 19, 30, 39];
  const outside = [0, 9, 20, 25, 29, 40, 1000];
  for (const n of inside) assert.equal(a.containsOffset(n), true, `${n}`);
  for (const n of outside) assert.equal(a.containsOffset(n), false, `${n}`);
  assert.equal(ByteRanges.empty().containsOffset(0), false);
});

Deno.test("ByteRanges.containing() returns the range holding an offset", () => {
  const a = set([10, 20], [30, 40]);
  assert.deepEqual(a.containing(10)?.toString(), "[10, 20)");
  assert.deepEqual(a.containing(19)?.toString(), "[10, 20)");
  assert.deepEqual(a.containing(35)?.toString(), "[30, 40)");
  assert.equal(a.containing(9), null);
  assert.equal(a.containing(20), null);
  assert.equal(a.containing(40), null);
  assert.equal(ByteRanges.empty().containing(0), null);
});

Deno.test("ByteRanges.overlaps() needs a shared byte", () => {
  const a = set([10, 20], [30, 40]);
  assert.equal(a.overlaps(r(15, 16)), true);
  assert.equal(a.overlaps(r(0, 11)), true);
  assert.equal(a.overlaps(r(19, 31)), true);
  assert.equal(a.overlaps(r(0, 100)), true);
  assert.equal(a.overlaps(r(39, 50)), true);
  assert.equal(a.overlaps(r(0, 10)), false);
  assert.equal(a.overlaps(r(20, 30)), false);
  assert.equal(a.overlaps(r(40, 50)), false);
  assert.equal(a.overlaps(r(15, 15)), false);
  assert.equal(ByteRanges.empty().overlaps(r(0, 100)), false);
});

Deno.test("ByteRanges.chunked() splits at multiples of the size", () => {
  const strings = (ranges: Iterable<ByteRange>) => [...ranges].map(String);
  assert.deepEqual(strings(set([5, 25]).chunked(10)), ["[5, 10)", "[10, 20)", "[20, 25)"]);
  assert.deepEqual(strings(set([0, 20]).chunked(10)), ["[0, 10)", "[10, 20)"]);
  assert.deepEqual(strings(set([2, 8]).chunked(10)), ["[2, 8)"]);
  assert.deepEqual(strings(set([8, 12], [30, 31]).chunked(10)), [
    "[8, 10)",
    "[10, 12)",
    "[30, 31)",
  ]);
  assert.deepEqual(strings(set([3, 6]).chunked(1)), ["[3, 4)", "[4, 5)", "[5, 6)"]);
  assert.deepEqual(strings(ByteRanges.empty().chunked(10)), []);
});

Deno.test("ByteRanges.chunked() is lazy", () => {
  const huge = set([0, Number.MAX_SAFE_INTEGER]);
  const iterator = huge.chunked(1);
  assert.equal(String(iterator.next().value), "[0, 1)");
  assert.equal(String(iterator.next().value), "[1, 2)");
});

Deno.test("ByteRanges.chunked() rejects a size that is not a positive safe integer", () => {
  for (const bad of [0, -1, 1.5, NaN, Infinity]) {
    assert.throws(() => set([0, 10]).chunked(bad), RangeError, `${bad}`);
  }
  assert.throws(() => set([0, 10]).chunked(0), {
    name: "RangeError",
    message: "Invalid chunk size 0: expected a positive safe integer",
  });
});

Deno.test("ByteRanges.byteCount() sums the ranges", () => {
  assert.equal(set([0, 10], [20, 25]).byteCount(), 15);
  assert.equal(set([0, 10], [5, 15]).byteCount(), 15);
  assert.equal(set([0, Number.MAX_SAFE_INTEGER]).byteCount(), Number.MAX_SAFE_INTEGER);
});

Deno.test("ByteRanges.ranges() returns a copy", () => {
  const a = set([0, 10]);
  const ranges = a.ranges();
  ranges.push(r(20, 30));
  ranges.shift();
  assert.deepEqual(pairs(a), [[0, 10]]);
});

Deno.test("ByteRanges.equals() compares bytes", () => {
  assert.ok(set([0, 10], [20, 30]).equals(set([20, 30], [0, 5], [5, 10])));
  assert.ok(!set([0, 10]).equals(set([0, 11])));
  assert.ok(!set([0, 10]).equals(set([0, 10], [20, 30])));
  assert.ok(!set([0, 10]).equals(ByteRanges.empty()));
  assert.ok(ByteRanges.empty().equals(set([3, 3])));
});

Deno.test("ByteRanges.toString() uses set notation", () => {
  assert.equal(set([0, 10], [20, 30]).toString(), "{[0, 10), [20, 30)}");
  assert.equal(set([1, 2]).toString(), "{[1, 2)}");
  assert.equal(String(ByteRanges.empty()), "{}");
});

// ByteRanges JSON

Deno.test("ByteRanges.toJSON() writes [start, end] pairs", () => {
  assert.deepEqual(set([20, 30], [0, 10]).toJSON(), [[0, 10], [20, 30]]);
  assert.equal(JSON.stringify(set([0, 10], [20, 30])), "[[0,10],[20,30]]");
  assert.equal(JSON.stringify(ByteRanges.empty()), "[]");
});

Deno.test("ByteRanges.fromJSON() reads back toJSON()", () => {
  for (const a of [ByteRanges.empty(), set([0, 1]), set([0, 10], [20, 30], [31, 40])]) {
    assert.ok(ByteRanges.fromJSON(JSON.parse(JSON.stringify(a))).equals(a));
    assert.ok(ByteRanges.fromJSON(a.toJSON()).equals(a));
  }
  const max = Number.MAX_SAFE_INTEGER;
  assert.deepEqual(pairs(ByteRanges.fromJSON([[0, max]])), [[0, max]]);
});

Deno.test("ByteRanges.fromJSON() rejects values that are not arrays of pairs", () => {
  const message = "Invalid byte ranges: expected an array of [start, end] pairs";
  for (const bad of [null, undefined, 0, "[[0, 1]]", { 0: [0, 1], length: 1 }]) {
    assert.throws(() => ByteRanges.fromJSON(bad), { name: "TypeError", message });
  }
  for (const bad of [[0, 1], [[0]], [[0, 1, 2]], [null], [{ start: 0, end: 1 }]]) {
    assert.throws(() => ByteRanges.fromJSON(bad), {
      name: "TypeError",
      message: "Invalid byte ranges: item 0 is not a [start, end] pair",
    });
  }
});

Deno.test("ByteRanges.fromJSON() rejects offsets that are not non-negative safe integers", () => {
  const bad = [-1, 1.5, NaN, Infinity, "0", null, 2 ** 53, 10n];
  for (const start of bad) {
    assert.throws(() => ByteRanges.fromJSON([[start, 10]]), {
      name: "TypeError",
      message: "Invalid byte ranges: item 0 has a start that is not a non-negative safe integer",
    });
  }
  for (const end of bad) {
    assert.throws(() => ByteRanges.fromJSON([[0, 5], [8, end]]), {
      name: "TypeError",
      message: "Invalid byte ranges: item 1 has an end that is not a non-negative safe integer",
    });
  }
});

Deno.test("ByteRanges.fromJSON() rejects empty ranges", () => {
  assert.throws(() => ByteRanges.fromJSON([[5, 5]]), {
    name: "TypeError",
    message: "Invalid byte ranges: item 0 [5, 5] is empty",
  });
  assert.throws(() => ByteRanges.fromJSON([[0, 1], [9, 3]]), /item 1 \[9, 3\] is empty/);
});

Deno.test("ByteRanges.fromJSON() rejects unsorted, overlapping or adjacent ranges", () => {
  assert.throws(() => ByteRanges.fromJSON([[20, 30], [0, 10]]), {
    name: "TypeError",
    message:
      "Invalid byte ranges: item 1 [0, 10] does not start after the end of the previous range (30)",
  });
  assert.throws(() => ByteRanges.fromJSON([[0, 10], [5, 15]]), TypeError);
  assert.throws(() => ByteRanges.fromJSON([[0, 10], [10, 15]]), TypeError);
  assert.throws(() => ByteRanges.fromJSON([[0, 10], [0, 10]]), TypeError);
  assert.throws(() => ByteRanges.fromJSON([[0, 10], [20, 30], [25, 40]]), /item 2/);
});

// Randomized comparison with a bitset over [0, 200)

const SIZE = 200;

/** mulberry32: a tiny seeded PRNG, good enough to pick test cases. */
function prng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A random integer in `[0, n)`. */
function below(random: () => number, n: number): number {
  return Math.floor(random() * n);
}

/** A random range within `[0, SIZE]`, sometimes empty or reversed. */
function randomRange(random: () => number): ByteRange {
  const start = below(random, SIZE);
  const length = below(random, 50) - 5;
  return r(start, Math.min(SIZE, Math.max(0, start + length)));
}

function randomSet(random: () => number): ByteRanges {
  const ranges = Array.from({ length: below(random, 6) }, () => randomRange(random));
  return ByteRanges.from(ranges);
}

function model(ranges: ByteRanges): boolean[] {
  const bits = new Array<boolean>(SIZE).fill(false);
  for (const range of ranges.ranges()) {
    for (let i = range.start; i < range.end; i++) bits[i] = true;
  }
  return bits;
}

function rangeModel(range: ByteRange): boolean[] {
  return Array.from({ length: SIZE }, (_, i) => range.containsOffset(i));
}

function assertNormalized(ranges: ByteRanges): void {
  let previousEnd = -1;
  for (const range of ranges.ranges()) {
    assert.ok(range.start < range.end, `${ranges} has an empty range`);
    assert.ok(range.start > previousEnd, `${ranges} is not normalized`);
    previousEnd = range.end;
  }
}

function assertModel(ranges: ByteRanges, expected: boolean[], what: string): void {
  assertNormalized(ranges);
  assert.deepEqual(model(ranges), expected, what);
}

function checkSetOperations(a: ByteRanges, b: ByteRanges, range: ByteRange): void {
  const ma = model(a);
  const mb = model(b);
  const mr = rangeModel(range);
  const label = `${a} and ${b}`;
  assertModel(a.union(b), ma.map((x, i) => x || mb[i]!), `${label}: union`);
  assertModel(a.intersection(b), ma.map((x, i) => x && mb[i]!), `${label}: intersection`);
  assertModel(a.subtract(b), ma.map((x, i) => x && !mb[i]!), `${label}: subtract`);
  assertModel(a.add(range), ma.map((x, i) => x || mr[i]!), `${a} add ${range}`);
  assert.equal(a.equals(b), ma.every((x, i) => x === mb[i]), `${label}: equals`);
  assert.equal(a.byteCount(), ma.filter((x) => x).length, `${a}: byteCount`);
  assert.ok(ByteRanges.fromJSON(a.toJSON()).equals(a), `${a}: JSON`);
}

function checkQueries(a: ByteRanges, range: ByteRange): void {
  const ma = model(a);
  const mr = rangeModel(range);
  const label = `${a} and ${range}`;
  assert.equal(a.contains(range), mr.every((x, i) => !x || ma[i]), `${label}: contains`);
  assert.equal(a.overlaps(range), mr.some((x, i) => x && ma[i]), `${label}: overlaps`);
  for (let n = 0; n <= SIZE; n++) {
    const inside = ma[n] === true;
    assert.equal(a.containsOffset(n), inside, `${a}: containsOffset(${n})`);
    const found = a.containing(n);
    assert.equal(found !== null, inside, `${a}: containing(${n})`);
    if (found === null) continue;
    assert.ok(found.containsOffset(n));
    assert.ok(a.contains(found));
    assert.ok(!ma[found.start - 1] && !ma[found.end], `${a}: containing(${n}) is maximal`);
  }
}

function checkChunks(a: ByteRanges, size: number): void {
  const pieces = [...a.chunked(size)];
  assert.ok(ByteRanges.from(pieces).equals(a), `${a}: chunked(${size}) covers the set`);
  let previousEnd = -1;
  for (const piece of pieces) {
    assert.ok(piece.start >= previousEnd && !piece.isEmpty(), `${a}: chunked(${size}) order`);
    assert.equal(Math.floor(piece.start / size), Math.floor((piece.end - 1) / size));
    const atBoundary = piece.end % size === 0 || !a.containsOffset(piece.end);
    assert.ok(atBoundary, `${a}: chunked(${size}) piece ${piece} ends early`);
    previousEnd = piece.end;
  }
}

Deno.test("ByteRanges agrees with a bitset model on random inputs", () => {
  const random = prng(0x5eed);
  for (let round = 0; round < 2000; round++) {
    const a = randomSet(random);
    const b = round % 10 === 0 ? a : randomSet(random);
    const range = randomRange(random);
    assertNormalized(a);
    checkSetOperations(a, b, range);
    checkQueries(a, range);
    checkChunks(a, 1 + below(random, 40));
  }
});
