/**
 * Byte ranges of a file: which parts of a file are cached, which to download.
 *
 * A {@linkcode ByteRange} is half-open, `[start, end)`, and empty when `end <= start`.
 * {@linkcode ByteRanges} is an immutable set of bytes kept as sorted, non-overlapping,
 * non-adjacent, non-empty ranges; every operation returns a new set and runs as a linear
 * merge (or a binary search) over those sorted arrays.
 *
 * @module
 */

/** Byte offsets are non-negative safe integers. */
function checkOffset(value: number, what: string): void {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new RangeError(`Invalid ${what} ${value}: expected a non-negative safe integer`);
  }
}

/** A half-open range of bytes `[start, end)`. Immutable. */
export class ByteRange {
  readonly #start: number;
  readonly #end: number;

  private constructor(start: number, end: number) {
    this.#start = start;
    this.#end = end;
  }

  /**
   * Makes a range.
   *
   * @param start first byte offset, included
   * @param end offset after the last byte; `end <= start` makes an empty range
   * @returns the range `[start, end)`
   * @throws {RangeError} when `start` or `end` is not a non-negative safe integer
   */
  static of(start: number, end: number): ByteRange {
    checkOffset(start, "range start");
    checkOffset(end, "range end");
    return new ByteRange(start, end);
  }

  /** First byte offset, included. */
  get start(): number {
    return this.#start;
  }

  /** Offset after the last byte, excluded. */
  get end(): number {
    return this.#end;
  }

  /**
   * Whether the range holds no byte.
   *
   * @returns true when `end <= start`
   */
  isEmpty(): boolean {
    return this.#end <= this.#start;
  }

  /**
   * The number of bytes in the range.
   *
   * @returns `end - start`, or 0 for an empty range
   */
  byteCount(): number {
    return Math.max(0, this.#end - this.#start);
  }

  /**
   * Whether the range holds a byte.
   *
   * @param offset a byte offset
   * @returns true when `start <= offset < end`
   */
  containsOffset(offset: number): boolean {
    return this.#start <= offset && offset < this.#end;
  }

  /**
   * Whether the two ranges share at least one byte; empty ranges overlap nothing.
   *
   * @param other another range
   * @returns true when they share a byte
   */
  overlaps(other: ByteRange): boolean {
    if (this.isEmpty() || other.isEmpty()) return false;
    return this.#start < other.#end && other.#start < this.#end;
  }

  /**
   * Whether the two ranges have the same bounds (so `[5, 5)` differs from `[0, 0)`).
   *
   * @param other another range
   * @returns true when `start` and `end` are equal
   */
  equals(other: ByteRange): boolean {
    return this.#start === other.#start && this.#end === other.#end;
  }

  /**
   * The interval notation.
   *
   * @returns e.g. `[0, 10)`
   */
  toString(): string {
    return `[${this.#start}, ${this.#end})`;
  }
}

/** Index of the last range with `start <= offset`, or -1. Binary search. */
function lastStartingAtOrBefore(ranges: readonly ByteRange[], offset: number): number {
  let lo = 0;
  let hi = ranges.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (ranges[mid]!.start <= offset) lo = mid + 1;
    else hi = mid;
  }
  return lo - 1;
}

/** Merges ranges sorted by start into normalized form; drops empty ranges. */
function coalesce(sorted: readonly ByteRange[]): ByteRange[] {
  const out: ByteRange[] = [];
  let current: ByteRange | null = null;
  for (const next of sorted) {
    if (next.isEmpty()) continue;
    if (current === null) {
      current = next;
    } else if (next.start <= current.end) {
      if (next.end > current.end) current = ByteRange.of(current.start, next.end);
    } else {
      out.push(current);
      current = next;
    }
  }
  if (current !== null) out.push(current);
  return out;
}

/** Merges two normalized arrays into one array sorted by start. */
function mergeSorted(a: readonly ByteRange[], b: readonly ByteRange[]): ByteRange[] {
  const out: ByteRange[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length && j < b.length) {
    if (a[i]!.start <= b[j]!.start) out.push(a[i++]!);
    else out.push(b[j++]!);
  }
  while (i < a.length) out.push(a[i++]!);
  while (j < b.length) out.push(b[j++]!);
  return out;
}

/** The bytes in both normalized arrays, normalized. */
function intersect(a: readonly ByteRange[], b: readonly ByteRange[]): ByteRange[] {
  const out: ByteRange[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length && j < b.length) {
    const x = a[i]!;
    const y = b[j]!;
    const start = Math.max(x.start, y.start);
    const end = Math.min(x.end, y.end);
    if (start < end) {
      if (start === x.start && end === x.end) out.push(x);
      else if (start === y.start && end === y.end) out.push(y);
      else out.push(ByteRange.of(start, end));
    }
    // Pieces never touch: the next one starts after a gap of `a` or of `b`.
    if (x.end < y.end) i++;
    else j++;
  }
  return out;
}

/** The bytes of normalized `a` outside normalized `b`, normalized. */
function difference(a: readonly ByteRange[], b: readonly ByteRange[]): ByteRange[] {
  const out: ByteRange[] = [];
  let j = 0;
  for (const range of a) {
    let start = range.start;
    while (j < b.length && b[j]!.end <= start) j++;
    // Cut every range of `b` that starts inside `range` out of it. A range of `b` that
    // reaches past `range.end` stays at `j` for the next range of `a`.
    while (j < b.length && b[j]!.start < range.end) {
      const cut = b[j]!;
      if (cut.start > start) out.push(ByteRange.of(start, cut.start));
      start = Math.max(start, cut.end);
      if (cut.end > range.end) break;
      j++;
    }
    if (start < range.end) out.push(start === range.start ? range : ByteRange.of(start, range.end));
  }
  return out;
}

/** Splits normalized ranges at the multiples of `size`. */
function* chunks(
  ranges: readonly ByteRange[],
  size: number,
): Generator<ByteRange, void, undefined> {
  for (const range of ranges) {
    let start = range.start;
    while (start < range.end) {
      const end = Math.min(range.end, (Math.floor(start / size) + 1) * size);
      yield start === range.start && end === range.end ? range : ByteRange.of(start, end);
      start = end;
    }
  }
}

/** Why an item of a persisted array is not a valid range, or `null`. */
function itemProblem(item: unknown, previousEnd: number): string | null {
  if (!Array.isArray(item) || item.length !== 2) return "is not a [start, end] pair";
  const [start, end] = item as unknown[];
  if (typeof start !== "number" || !Number.isSafeInteger(start) || start < 0) {
    return "has a start that is not a non-negative safe integer";
  }
  if (typeof end !== "number" || !Number.isSafeInteger(end) || end < 0) {
    return "has an end that is not a non-negative safe integer";
  }
  if (end <= start) return `[${start}, ${end}] is empty`;
  if (start <= previousEnd) {
    return `[${start}, ${end}] does not start after the end of the previous range (${previousEnd})`;
  }
  return null;
}

/**
 * An immutable set of byte offsets, kept as sorted, non-overlapping, non-adjacent,
 * non-empty ranges.
 */
export class ByteRanges {
  static readonly #EMPTY = new ByteRanges([]);

  /** Normalized; never exposed, so never mutated. */
  readonly #ranges: readonly ByteRange[];

  private constructor(normalized: readonly ByteRange[]) {
    this.#ranges = normalized;
  }

  /**
   * The empty set.
   *
   * @returns a set with no byte
   */
  static empty(): ByteRanges {
    return ByteRanges.#EMPTY;
  }

  /**
   * Makes a set from ranges in any order; they may overlap, touch or be empty.
   *
   * @param ranges the ranges to include
   * @returns their union
   */
  static of(...ranges: ByteRange[]): ByteRanges {
    return ByteRanges.from(ranges);
  }

  /**
   * Makes a set from ranges in any order, like {@linkcode ByteRanges.of} but without
   * spreading a large array into arguments.
   *
   * @param ranges the ranges to include
   * @returns their union
   */
  static from(ranges: Iterable<ByteRange>): ByteRanges {
    const sorted = [...ranges].sort((a, b) => a.start - b.start);
    return ByteRanges.#make(coalesce(sorted));
  }

  /**
   * Reads the form written by {@linkcode ByteRanges.toJSON}, e.g. from a database.
   *
   * @param value parsed JSON: an array of `[start, end]` pairs
   * @returns the set
   * @throws {TypeError} unless `value` is an array of `[start, end]` pairs of
   *   non-negative safe integers, non-empty, sorted, non-overlapping and non-adjacent
   */
  static fromJSON(value: unknown): ByteRanges {
    if (!Array.isArray(value)) {
      throw new TypeError("Invalid byte ranges: expected an array of [start, end] pairs");
    }
    const ranges: ByteRange[] = [];
    let previousEnd = -1;
    for (const [i, item] of value.entries()) {
      const why = itemProblem(item, previousEnd);
      if (why !== null) throw new TypeError(`Invalid byte ranges: item ${i} ${why}`);
      const [start, end] = item as [number, number];
      ranges.push(ByteRange.of(start, end));
      previousEnd = end;
    }
    return ByteRanges.#make(ranges);
  }

  static #make(normalized: ByteRange[]): ByteRanges {
    return normalized.length === 0 ? ByteRanges.#EMPTY : new ByteRanges(normalized);
  }

  /**
   * Adds a range, merging it with the ranges it overlaps or touches.
   *
   * @param range the range to add; an empty range changes nothing
   * @returns the union of this set and `range`
   */
  add(range: ByteRange): ByteRanges {
    if (this.contains(range)) return this;
    return ByteRanges.#make(coalesce(mergeSorted(this.#ranges, [range])));
  }

  /**
   * The bytes in either set.
   *
   * @param other another set
   * @returns the union
   */
  union(other: ByteRanges): ByteRanges {
    if (other.isEmpty()) return this;
    if (this.isEmpty()) return other;
    return ByteRanges.#make(coalesce(mergeSorted(this.#ranges, other.#ranges)));
  }

  /**
   * The bytes in both sets.
   *
   * @param other another set
   * @returns the intersection
   */
  intersection(other: ByteRanges): ByteRanges {
    return ByteRanges.#make(intersect(this.#ranges, other.#ranges));
  }

  /**
   * The bytes in this set and not in `other`.
   *
   * @param other the bytes to remove
   * @returns the difference
   */
  subtract(other: ByteRanges): ByteRanges {
    if (this.isEmpty() || other.isEmpty()) return this;
    return ByteRanges.#make(difference(this.#ranges, other.#ranges));
  }

  /**
   * Whether every byte of `range` is in the set.
   *
   * @param range a range
   * @returns true when `range` is covered; always true for an empty range
   */
  contains(range: ByteRange): boolean {
    if (range.isEmpty()) return true;
    const i = lastStartingAtOrBefore(this.#ranges, range.start);
    return i >= 0 && this.#ranges[i]!.end >= range.end;
  }

  /**
   * Whether a byte is in the set.
   *
   * @param offset a byte offset
   * @returns true when a range holds `offset`
   */
  containsOffset(offset: number): boolean {
    return this.containing(offset) !== null;
  }

  /**
   * The range of the set that holds a byte.
   *
   * @param offset a byte offset
   * @returns the range holding `offset`, or `null`
   */
  containing(offset: number): ByteRange | null {
    const i = lastStartingAtOrBefore(this.#ranges, offset);
    if (i < 0) return null;
    const range = this.#ranges[i]!;
    return offset < range.end ? range : null;
  }

  /**
   * Whether the set holds at least one byte of `range`.
   *
   * @param range a range
   * @returns true when they share a byte; always false for an empty range
   */
  overlaps(range: ByteRange): boolean {
    if (range.isEmpty()) return false;
    const i = lastStartingAtOrBefore(this.#ranges, range.end - 1);
    return i >= 0 && this.#ranges[i]!.end > range.start;
  }

  /**
   * Splits every range at the multiples of `size`, e.g. to request aligned blocks:
   * `{[5, 25)}` in chunks of 10 gives `[5, 10)`, `[10, 20)`, `[20, 25)`.
   *
   * @param size the chunk size in bytes
   * @returns the pieces in order, each within one chunk, made lazily so a caller may stop
   *   early
   * @throws {RangeError} when `size` is not a positive safe integer
   */
  chunked(size: number): Generator<ByteRange, void, undefined> {
    if (!Number.isSafeInteger(size) || size <= 0) {
      throw new RangeError(`Invalid chunk size ${size}: expected a positive safe integer`);
    }
    return chunks(this.#ranges, size);
  }

  /**
   * The number of bytes in the set.
   *
   * @returns the sum of the range lengths
   */
  byteCount(): number {
    let count = 0;
    for (const range of this.#ranges) count += range.end - range.start;
    return count;
  }

  /**
   * Whether the set holds no byte.
   *
   * @returns true for the empty set
   */
  isEmpty(): boolean {
    return this.#ranges.length === 0;
  }

  /**
   * The ranges, sorted, non-overlapping, non-adjacent and non-empty.
   *
   * @returns a new array
   */
  ranges(): ByteRange[] {
    return [...this.#ranges];
  }

  /**
   * Whether two sets hold the same bytes.
   *
   * @param other another set
   * @returns true when they are equal
   */
  equals(other: ByteRanges): boolean {
    if (this.#ranges.length !== other.#ranges.length) return false;
    return this.#ranges.every((range, i) => range.equals(other.#ranges[i]!));
  }

  /**
   * The set notation.
   *
   * @returns e.g. `{[0, 10), [20, 30)}`, or `{}` when empty
   */
  toString(): string {
    return `{${this.#ranges.join(", ")}}`;
  }

  /**
   * The persisted form, read back by {@linkcode ByteRanges.fromJSON}.
   *
   * @returns `[start, end]` pairs, e.g. `[[0, 10], [20, 30]]`
   */
  toJSON(): [number, number][] {
    return this.#ranges.map((range) => [range.start, range.end]);
  }
}
