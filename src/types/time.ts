/**
 * Points in time with nanosecond precision, such as file modification times. A file is
 * considered unchanged only while its size and mtime match to the nanosecond, so times
 * never pass through a float.
 *
 * The wire and database form is `secs` + `nsecs` (capnp `Time{secs: UInt64, nsecs:
 * UInt32}`). The range is the epoch up to the last instant a JavaScript `Date` can hold,
 * `+275760-09-13T00:00:00Z`, so {@linkcode UnixTime.toMillis} is always exact and
 * {@linkcode UnixTime.toDate} always valid.
 *
 * @module
 */

const NANOS_PER_SEC = 1_000_000_000;
const NANOS_PER_MILLI = 1_000_000;
const MILLIS_PER_SEC = 1_000;

/** Largest `secs`: `Date` holds at most 8.64e15 ms after the epoch. */
const UNIX_TIME_SECS_MAX = 8_640_000_000_000;

const ISO = /^(\d{4}|\+\d{6})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(?:\.(\d{1,9}))?Z$/;

/** Why `secs` and `nsecs` do not make a valid time, or `null`. */
function problem(secs: number, nsecs: number): string | null {
  if (!Number.isSafeInteger(secs) || secs < 0) {
    return "seconds must be a non-negative safe integer";
  }
  if (!Number.isInteger(nsecs) || nsecs < 0 || nsecs >= NANOS_PER_SEC) {
    return "nanoseconds must be an integer from 0 to 999999999";
  }
  if (secs > UNIX_TIME_SECS_MAX || (secs === UNIX_TIME_SECS_MAX && nsecs > 0)) {
    return "after +275760-09-13T00:00:00Z";
  }
  return null;
}

/**
 * The seconds since the epoch named by the fields of an {@linkcode ISO} match, without the
 * fraction: `null` when they name no real instant (February 30, 24:00, a leap second),
 * `Infinity` when the instant is beyond what a `Date` holds.
 */
function wholeSecs(match: RegExpExecArray): number | null {
  const [year, month, day, hour, minute, second] = match.slice(1, 7).map(Number) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  // Not Date.UTC(): it maps years 0 to 99 to 1900 to 1999.
  const date = new Date(0);
  date.setUTCFullYear(year, month - 1, day);
  date.setUTCHours(hour, minute, second);
  const ms = date.getTime();
  if (Number.isNaN(ms)) return Infinity;
  const same = date.getUTCFullYear() === year && date.getUTCMonth() === month - 1 &&
    date.getUTCDate() === day && date.getUTCHours() === hour &&
    date.getUTCMinutes() === minute && date.getUTCSeconds() === second;
  return same ? ms / MILLIS_PER_SEC : null;
}

/** A time since the Unix epoch, in seconds and nanoseconds. Immutable. */
export class UnixTime {
  /** 1970-01-01T00:00:00Z. */
  static readonly EPOCH: UnixTime = new UnixTime(0, 0);
  /** The latest representable time, `+275760-09-13T00:00:00Z`. */
  static readonly MAX: UnixTime = new UnixTime(UNIX_TIME_SECS_MAX, 0);

  readonly #secs: number;
  readonly #nsecs: number;

  private constructor(secs: number, nsecs: number) {
    this.#secs = secs;
    this.#nsecs = nsecs;
  }

  /**
   * Makes a time from its wire form.
   *
   * @param secs whole seconds since the epoch
   * @param nsecs nanoseconds after `secs`, 0 to 999,999,999
   * @returns the time
   * @throws {RangeError} when a field is out of range or the time is after
   *   {@linkcode UnixTime.MAX}
   */
  static of(secs: number, nsecs = 0): UnixTime {
    const why = problem(secs, nsecs);
    if (why !== null) throw new RangeError(`Invalid time ${secs}s ${nsecs}ns: ${why}`);
    return new UnixTime(secs, nsecs);
  }

  /**
   * Makes a time from milliseconds, e.g. `Date.now()` or `date.getTime()`.
   *
   * @param ms whole milliseconds since the epoch
   * @returns the time
   * @throws {RangeError} when `ms` is not an integer from 0 to 8.64e15
   */
  static fromMillis(ms: number): UnixTime {
    if (!Number.isSafeInteger(ms) || ms < 0 || ms > UNIX_TIME_SECS_MAX * MILLIS_PER_SEC) {
      throw new RangeError(`Invalid time ${ms}ms: expected an integer from 0 to 8.64e15`);
    }
    const secs = Math.floor(ms / MILLIS_PER_SEC);
    return new UnixTime(secs, (ms - secs * MILLIS_PER_SEC) * NANOS_PER_MILLI);
  }

  /**
   * Makes a time from nanoseconds.
   *
   * @param ns nanoseconds since the epoch
   * @returns the time
   * @throws {RangeError} when `ns` is negative or after {@linkcode UnixTime.MAX}
   */
  static fromNanos(ns: bigint): UnixTime {
    const perSec = BigInt(NANOS_PER_SEC);
    if (ns < 0n || ns > BigInt(UNIX_TIME_SECS_MAX) * perSec) {
      throw new RangeError(
        `Invalid time ${ns}ns: expected 0 to ${UNIX_TIME_SECS_MAX}000000000 nanoseconds`,
      );
    }
    return new UnixTime(Number(ns / perSec), Number(ns % perSec));
  }

  /**
   * The current wall-clock time, to the millisecond. Code that needs a testable clock takes
   * one as a parameter instead of calling this.
   *
   * @returns the time now
   */
  static now(): UnixTime {
    return UnixTime.fromMillis(Date.now());
  }

  /**
   * Parses the form written by {@linkcode UnixTime.toString}: ISO-8601 in UTC, with a
   * fraction of 1 to 9 digits or none, e.g. `2009-02-13T23:31:30.123456789Z`.
   *
   * @param text the time
   * @returns the time
   * @throws {TypeError} when `text` is not in that form, not a real date and time, before
   *   the epoch or after {@linkcode UnixTime.MAX}
   */
  static parse(text: string): UnixTime {
    const match = ISO.exec(text);
    if (match === null) {
      throw new TypeError(`Invalid time "${text}": expected YYYY-MM-DDTHH:MM:SS[.fraction]Z`);
    }
    const secs = wholeSecs(match);
    if (secs === null) throw new TypeError(`Invalid time "${text}": no such date and time`);
    const nsecs = Number((match[7] ?? "").padEnd(9, "0"));
    if (secs < 0) throw new TypeError(`Invalid time "${text}": before the epoch`);
    if (secs > UNIX_TIME_SECS_MAX || (secs === UNIX_TIME_SECS_MAX && nsecs > 0)) {
      throw new TypeError(`Invalid time "${text}": after +275760-09-13T00:00:00Z`);
    }
    return new UnixTime(secs, nsecs);
  }

  /** Whole seconds since the epoch. */
  get secs(): number {
    return this.#secs;
  }

  /** Nanoseconds after {@linkcode UnixTime.secs}, 0 to 999,999,999. */
  get nsecs(): number {
    return this.#nsecs;
  }

  /**
   * Nanoseconds since the epoch, exactly.
   *
   * @returns `secs * 1e9 + nsecs`
   */
  toNanos(): bigint {
    return BigInt(this.#secs) * BigInt(NANOS_PER_SEC) + BigInt(this.#nsecs);
  }

  /**
   * Milliseconds since the epoch, dropping the sub-millisecond part.
   *
   * @returns whole milliseconds, always a safe integer
   */
  toMillis(): number {
    return this.#secs * MILLIS_PER_SEC + Math.floor(this.#nsecs / NANOS_PER_MILLI);
  }

  /**
   * A `Date`, to the millisecond.
   *
   * @returns a new, valid `Date`
   */
  toDate(): Date {
    return new Date(this.toMillis());
  }

  /**
   * Orders two times, to the nanosecond.
   *
   * @param other another time
   * @returns -1 when this is earlier, 1 when later, 0 when equal
   */
  compare(other: UnixTime): -1 | 0 | 1 {
    if (this.#secs !== other.#secs) return this.#secs < other.#secs ? -1 : 1;
    if (this.#nsecs !== other.#nsecs) return this.#nsecs < other.#nsecs ? -1 : 1;
    return 0;
  }

  /**
   * Whether two times are the same, to the nanosecond.
   *
   * @param other another time
   * @returns true when `secs` and `nsecs` are equal
   */
  equals(other: UnixTime): boolean {
    return this.#secs === other.#secs && this.#nsecs === other.#nsecs;
  }

  /**
   * ISO-8601 in UTC: nine fraction digits when `nsecs` is not 0, none otherwise.
   *
   * @returns e.g. `2009-02-13T23:31:30.123456789Z` or `2009-02-13T23:31:30Z`
   */
  toString(): string {
    // toISOString() ends in ".000Z" since the milliseconds are whole seconds.
    const whole = new Date(this.#secs * MILLIS_PER_SEC).toISOString().slice(0, -5);
    if (this.#nsecs === 0) return `${whole}Z`;
    return `${whole}.${String(this.#nsecs).padStart(9, "0")}Z`;
  }
}
