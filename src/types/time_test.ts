import assert from "node:assert/strict";
import { UnixTime } from "./time.ts";

// 2009-02-13T23:31:30Z, Unix time 1234567890.
const SECS = 1_234_567_890;

Deno.test("UnixTime.of() keeps seconds and nanoseconds", () => {
  const t = UnixTime.of(SECS, 123_456_789);
  assert.equal(t.secs, SECS);
  assert.equal(t.nsecs, 123_456_789);
  assert.equal(UnixTime.of(SECS).nsecs, 0);
  assert.equal(UnixTime.of(0, 999_999_999).nsecs, 999_999_999);
});

Deno.test("UnixTime.of() rejects out-of-range fields", () => {
  for (const secs of [-1, 1.5, NaN, Infinity, 8_640_000_000_001, Number.MAX_SAFE_INTEGER]) {
    assert.throws(() => UnixTime.of(secs, 0), RangeError, `secs ${secs}`);
  }
  for (const nsecs of [-1, 1_000_000_000, 0.5, NaN]) {
    assert.throws(() => UnixTime.of(0, nsecs), RangeError, `nsecs ${nsecs}`);
  }
  assert.throws(() => UnixTime.of(-1, 0), {
    name: "RangeError",
    message: "Invalid time -1s 0ns: seconds must be a non-negative safe integer",
  });
  assert.throws(() => UnixTime.of(0, 1_000_000_000), {
    name: "RangeError",
    message: "Invalid time 0s 1000000000ns: nanoseconds must be an integer from 0 to 999999999",
  });
});

Deno.test("UnixTime.of() accepts up to the largest Date", () => {
  assert.ok(UnixTime.of(8_640_000_000_000, 0).equals(UnixTime.MAX));
  assert.throws(() => UnixTime.of(8_640_000_000_000, 1), {
    name: "RangeError",
    message: "Invalid time 8640000000000s 1ns: after +275760-09-13T00:00:00Z",
  });
  assert.equal(UnixTime.of(8_639_999_999_999, 999_999_999).toDate().getTime(), 8.64e15 - 1);
});

Deno.test("UnixTime.EPOCH and UnixTime.MAX are the bounds", () => {
  assert.equal(UnixTime.EPOCH.toString(), "1970-01-01T00:00:00Z");
  assert.equal(UnixTime.EPOCH.toNanos(), 0n);
  assert.equal(UnixTime.MAX.toString(), "+275760-09-13T00:00:00Z");
  assert.equal(UnixTime.MAX.toMillis(), 8.64e15);
});

Deno.test("UnixTime.fromMillis() splits milliseconds", () => {
  const t = UnixTime.fromMillis(SECS * 1000 + 333);
  assert.equal(t.secs, SECS);
  assert.equal(t.nsecs, 333_000_000);
  assert.ok(UnixTime.fromMillis(0).equals(UnixTime.EPOCH));
  assert.ok(UnixTime.fromMillis(8.64e15).equals(UnixTime.MAX));
  assert.equal(UnixTime.fromMillis(999).nsecs, 999_000_000);
});

Deno.test("UnixTime.fromMillis() rejects values that are not whole milliseconds in range", () => {
  for (const ms of [-1, 1.5, NaN, Infinity, 8.64e15 + 1]) {
    assert.throws(() => UnixTime.fromMillis(ms), RangeError, `${ms}`);
  }
  assert.throws(() => UnixTime.fromMillis(-1), {
    name: "RangeError",
    message: "Invalid time -1ms: expected an integer from 0 to 8.64e15",
  });
});

Deno.test("UnixTime.fromNanos() splits nanoseconds exactly", () => {
  const t = UnixTime.fromNanos(1_234_567_890_123_456_789n);
  assert.equal(t.secs, SECS);
  assert.equal(t.nsecs, 123_456_789);
  assert.ok(UnixTime.fromNanos(0n).equals(UnixTime.EPOCH));
  assert.ok(UnixTime.fromNanos(8_640_000_000_000_000_000_000n).equals(UnixTime.MAX));
  assert.equal(UnixTime.fromNanos(999_999_999n).nsecs, 999_999_999);
});

Deno.test("UnixTime.fromNanos() rejects values out of range", () => {
  assert.throws(() => UnixTime.fromNanos(-1n), {
    name: "RangeError",
    message: "Invalid time -1ns: expected 0 to 8640000000000000000000 nanoseconds",
  });
  assert.throws(() => UnixTime.fromNanos(8_640_000_000_000_000_000_001n), RangeError);
});

Deno.test("UnixTime.toNanos() is exact", () => {
  assert.equal(UnixTime.of(SECS, 123_456_789).toNanos(), 1_234_567_890_123_456_789n);
  assert.equal(UnixTime.MAX.toNanos(), 8_640_000_000_000_000_000_000n);
  const t = UnixTime.of(8_639_999_999_999, 999_999_999);
  assert.ok(UnixTime.fromNanos(t.toNanos()).equals(t));
});

Deno.test("UnixTime.toMillis() drops the sub-millisecond part", () => {
  assert.equal(UnixTime.of(SECS, 123_456_789).toMillis(), SECS * 1000 + 123);
  assert.equal(UnixTime.of(SECS, 999_999).toMillis(), SECS * 1000);
  assert.equal(UnixTime.fromMillis(1_700_000_000_123).toMillis(), 1_700_000_000_123);
});

Deno.test("UnixTime.toDate() returns the same instant to the millisecond", () => {
  const date = UnixTime.of(SECS, 333_999_999).toDate();
  assert.equal(date.toISOString(), "2009-02-13T23:31:30.333Z");
  assert.equal(UnixTime.MAX.toDate().getTime(), 8.64e15);
});

Deno.test("UnixTime.now() is close to Date.now()", () => {
  const before = Date.now();
  const now = UnixTime.now();
  const after = Date.now();
  assert.ok(before <= now.toMillis() && now.toMillis() <= after);
  assert.equal(now.nsecs % 1_000_000, 0);
});

Deno.test("UnixTime.compare() orders by seconds then nanoseconds", () => {
  const a = UnixTime.of(SECS, 5);
  assert.equal(a.compare(UnixTime.of(SECS, 5)), 0);
  assert.equal(a.compare(UnixTime.of(SECS, 6)), -1);
  assert.equal(a.compare(UnixTime.of(SECS, 4)), 1);
  assert.equal(a.compare(UnixTime.of(SECS + 1, 0)), -1);
  assert.equal(a.compare(UnixTime.of(SECS - 1, 999_999_999)), 1);
});

Deno.test("UnixTime.compare() tells apart times in the same millisecond", () => {
  const a = UnixTime.of(SECS, 123_456_788);
  const b = UnixTime.of(SECS, 123_456_789);
  assert.equal(a.toMillis(), b.toMillis());
  assert.equal(a.compare(b), -1);
  assert.equal(b.compare(a), 1);
  assert.ok(!a.equals(b));
});

Deno.test("UnixTime.compare() sorts like toNanos()", () => {
  const times = [
    UnixTime.of(SECS, 1),
    UnixTime.of(0, 0),
    UnixTime.of(SECS, 0),
    UnixTime.of(SECS - 1, 999_999_999),
    UnixTime.MAX,
    UnixTime.of(1, 0),
    UnixTime.of(0, 999_999_999),
  ];
  const sorted = [...times].sort((a, b) => a.compare(b));
  const byNanos = [...times].sort((a, b) => (a.toNanos() < b.toNanos() ? -1 : 1));
  assert.deepEqual(sorted.map(String), byNanos.map(String));
});

Deno.test("UnixTime.equals() compares to the nanosecond", () => {
  assert.ok(UnixTime.of(SECS, 1).equals(UnixTime.of(SECS, 1)));
  assert.ok(UnixTime.of(SECS).equals(UnixTime.fromMillis(SECS * 1000)));
  assert.ok(!UnixTime.of(SECS, 1).equals(UnixTime.of(SECS, 2)));
  assert.ok(!UnixTime.of(SECS, 1).equals(UnixTime.of(SECS + 1, 1)));
});

Deno.test("UnixTime.toString() prints nine fraction digits when needed", () => {
  assert.equal(UnixTime.of(SECS, 123_456_789).toString(), "2009-02-13T23:31:30.123456789Z");
  assert.equal(UnixTime.of(SECS, 333_000_000).toString(), "2009-02-13T23:31:30.333000000Z");
  assert.equal(UnixTime.of(SECS, 1).toString(), "2009-02-13T23:31:30.000000001Z");
  assert.equal(String(UnixTime.of(SECS)), "2009-02-13T23:31:30Z");
  assert.equal(UnixTime.of(253_402_300_800).toString(), "+010000-01-01T00:00:00Z");
});

Deno.test("UnixTime.parse() reads back toString()", () => {
  const times = [
    UnixTime.EPOCH,
    UnixTime.MAX,
    UnixTime.of(SECS),
    UnixTime.of(SECS, 1),
    UnixTime.of(SECS, 123_456_789),
    UnixTime.of(SECS, 999_999_999),
    UnixTime.of(951_782_400, 500), // 2000-02-29
    UnixTime.of(253_402_300_799, 999_999_999), // 9999-12-31T23:59:59
    UnixTime.of(253_402_300_800, 7), // year 10000
  ];
  for (const t of times) {
    const text = t.toString();
    const back = UnixTime.parse(text);
    assert.ok(back.equals(t), text);
    assert.equal(back.toString(), text);
  }
});

Deno.test("UnixTime.parse() accepts 1 to 9 fraction digits", () => {
  assert.equal(UnixTime.parse("2009-02-13T23:31:30.5Z").nsecs, 500_000_000);
  assert.equal(UnixTime.parse("2009-02-13T23:31:30.333Z").nsecs, 333_000_000);
  assert.equal(UnixTime.parse("2009-02-13T23:31:30.000000001Z").nsecs, 1);
  assert.equal(UnixTime.parse("2009-02-13T23:31:30.000Z").nsecs, 0);
  assert.equal(UnixTime.parse("2009-02-13T23:31:30Z").secs, SECS);
  const date = new Date(SECS * 1000 + 42);
  assert.equal(UnixTime.parse(date.toISOString()).toMillis(), date.getTime());
});

Deno.test("UnixTime.parse() rejects other formats", () => {
  const bad = [
    "",
    "2009-02-13",
    "2009-02-13T23:31:30",
    "2009-02-13T23:31:30.333",
    "2009-02-13T23:31:30z",
    "2009-02-13t23:31:30Z",
    "2009-02-13 23:31:30Z",
    "2009-02-13T23:31:30+00:00",
    "2009-02-13T23:31:30.Z",
    "2009-02-13T23:31:30.1234567890Z",
    "2009-2-13T23:31:30Z",
    "09-02-13T23:31:30Z",
    "1234567890",
    " 2009-02-13T23:31:30Z",
  ];
  for (const text of bad) {
    assert.throws(() => UnixTime.parse(text), {
      name: "TypeError",
      message: `Invalid time "${text}": expected YYYY-MM-DDTHH:MM:SS[.fraction]Z`,
    });
  }
});

Deno.test("UnixTime.parse() rejects dates and times that do not exist", () => {
  const bad = [
    "2009-02-29T00:00:00Z",
    "2009-02-30T00:00:00Z",
    "2009-04-31T00:00:00Z",
    "2009-13-01T00:00:00Z",
    "2009-00-01T00:00:00Z",
    "2009-01-00T00:00:00Z",
    "2009-02-13T24:00:00Z",
    "2009-02-13T23:60:00Z",
    "2016-12-31T23:59:60Z",
  ];
  for (const text of bad) {
    assert.throws(() => UnixTime.parse(text), {
      name: "TypeError",
      message: `Invalid time "${text}": no such date and time`,
    });
  }
  assert.equal(UnixTime.parse("2008-02-29T00:00:00Z").toString(), "2008-02-29T00:00:00Z");
});

Deno.test("UnixTime.parse() rejects times out of range", () => {
  assert.throws(() => UnixTime.parse("1969-12-31T23:59:59.999999999Z"), {
    name: "TypeError",
    message: 'Invalid time "1969-12-31T23:59:59.999999999Z": before the epoch',
  });
  assert.throws(() => UnixTime.parse("0000-01-01T00:00:00Z"), /before the epoch/);
  assert.throws(() => UnixTime.parse("0099-12-31T00:00:00Z"), /before the epoch/);
  assert.throws(() => UnixTime.parse("+275760-09-13T00:00:00.000000001Z"), {
    name: "TypeError",
    message: 'Invalid time "+275760-09-13T00:00:00.000000001Z": after +275760-09-13T00:00:00Z',
  });
  assert.throws(() => UnixTime.parse("+275760-09-13T00:00:01Z"), /after \+275760/);
  assert.throws(() => UnixTime.parse("+999999-01-01T00:00:00Z"), /after \+275760/);
});

Deno.test("UnixTime round trips through text, nanoseconds and the wire form", () => {
  // A fixed-seed LCG: reproducible times spread over the whole range.
  let state = 12345n;
  const next = (bound: bigint) => {
    state = (state * 6364136223846793005n + 1442695040888963407n) % 2n ** 64n;
    return (state >> 11n) % bound;
  };
  for (let i = 0; i < 1000; i++) {
    const t = UnixTime.fromNanos(next(8_640_000_000_000_000_000_000n));
    assert.ok(UnixTime.parse(t.toString()).equals(t), t.toString());
    assert.ok(UnixTime.fromNanos(t.toNanos()).equals(t));
    assert.ok(UnixTime.of(t.secs, t.nsecs).equals(t));
    assert.equal(UnixTime.fromMillis(t.toMillis()).compare(t), t.nsecs % 1_000_000 ? -1 : 0);
  }
});
