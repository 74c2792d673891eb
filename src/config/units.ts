/**
 * Sizes and durations as written in the configuration.
 *
 * - A size is a non-negative integer number of bytes, or a string: a decimal number
 *   (fraction allowed) and an optional unit `B`, `K`, `KB`, `M`, `MB`, `G`, `GB`, `T`,
 *   `TB` (multiples of 1024, any case): `"500M"`, `"1.5G"`, `"2 kb"`.
 * - Where the configuration allows it, a size may also be a percentage of the disk:
 *   `"10%"`, more than 0 and at most 100.
 * - A duration is a non-negative number of seconds (fraction allowed) or a string with a
 *   unit `ms`, `s`, `m`, `h` or `d`: `"500ms"`, `"1.5s"`, `"3m"`, `"30d"`.
 *
 * Errors are `RangeError`s whose message quotes the input and says what is expected.
 *
 * @module
 */

/** A size in bytes, or a percentage of the disk that holds the data. */
export type BytesOrPercent =
  | { readonly kind: "bytes"; readonly bytes: number }
  | { readonly kind: "percent"; readonly percent: number };

const SIZE = /^(\d+(?:\.\d+)?)\s*([A-Za-z]*)$/;
const PERCENT = /^(\d+(?:\.\d+)?)\s*%$/;
const DURATION = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)$/;

const KIB = 1024;
const SIZE_UNITS: ReadonlyMap<string, number> = new Map([
  ["", 1],
  ["B", 1],
  ["K", KIB],
  ["KB", KIB],
  ["M", KIB ** 2],
  ["MB", KIB ** 2],
  ["G", KIB ** 3],
  ["GB", KIB ** 3],
  ["T", KIB ** 4],
  ["TB", KIB ** 4],
]);
const DURATION_UNITS: Readonly<Record<string, number>> = {
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
};

/**
 * Parses a size in bytes; fractions of a byte are rounded down.
 *
 * @param value an integer number of bytes, or a string such as `"1.5G"`
 * @returns the number of bytes, a safe integer ≥ 0
 * @throws {RangeError} for a negative, fractional or unsafe number, a percentage, an
 * unknown unit or anything else that is not a size
 */
export function parseBytes(value: number | string): number {
  if (typeof value === "number") {
    if (!Number.isSafeInteger(value) || value < 0) {
      throw new RangeError(`Invalid size ${value}: expected a whole number of bytes ≥ 0`);
    }
    return value;
  }
  const text = value.trim();
  if (PERCENT.test(text)) {
    throw new RangeError(`Invalid size "${value}": a percentage is not allowed here`);
  }
  if (text.startsWith("-")) throw new RangeError(`Invalid size "${value}": must not be negative`);
  const m = SIZE.exec(text);
  if (m === null) {
    throw new RangeError(`Invalid size "${value}": expected a number and a unit, like "10G"`);
  }
  const unit = SIZE_UNITS.get(m[2]!.toUpperCase());
  if (unit === undefined) {
    throw new RangeError(
      `Invalid size "${value}": unknown unit "${m[2]}", expected B, K, KB, M, MB, G, GB, T or TB`,
    );
  }
  const bytes = Math.floor(Number(m[1]) * unit);
  if (!Number.isSafeInteger(bytes)) throw new RangeError(`Invalid size "${value}": too large`);
  return bytes;
}

/**
 * Parses a size in bytes or a percentage.
 *
 * @param value an integer number of bytes, or a string such as `"1.5G"` or `"10%"`
 * @returns the bytes or the percentage
 * @throws {RangeError} for anything {@linkcode parseBytes} rejects, and for a
 * percentage that is not more than 0 and at most 100
 */
export function parseBytesOrPercent(value: number | string): BytesOrPercent {
  if (typeof value === "string") {
    const m = PERCENT.exec(value.trim());
    if (m !== null) {
      const percent = Number(m[1]);
      if (percent <= 0 || percent > 100) {
        throw new RangeError(
          `Invalid percentage "${value}": must be more than 0% and at most 100%`,
        );
      }
      return { kind: "percent", percent };
    }
  }
  return { kind: "bytes", bytes: parseBytes(value) };
}

/**
 * Parses a duration, rounded to whole milliseconds.
 *
 * @param value a number of seconds (fraction allowed), or a string such as `"500ms"`,
 * `"1.5s"` or `"3m"`
 * @returns the duration in milliseconds, a safe integer ≥ 0
 * @throws {RangeError} for a negative or non-finite number, a string without a known
 * unit, or anything else that is not a duration
 */
export function parseDurationMs(value: number | string): number {
  let ms: number;
  if (typeof value === "number") {
    if (!Number.isFinite(value) || value < 0) {
      throw new RangeError(`Invalid duration ${value}: expected a number of seconds ≥ 0`);
    }
    ms = value * 1000;
  } else {
    const m = DURATION.exec(value.trim());
    if (m === null) {
      throw new RangeError(
        `Invalid duration "${value}": expected a number and a unit ms, s, m, h or d, like "500ms"`,
      );
    }
    ms = Number(m[1]) * DURATION_UNITS[m[2]!]!;
  }
  const rounded = Math.round(ms);
  if (!Number.isSafeInteger(rounded)) throw new RangeError(`Invalid duration ${value}: too long`);
  return rounded;
}
