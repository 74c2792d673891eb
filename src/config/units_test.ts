import assert from "node:assert/strict";
import { parseBytes, parseBytesOrPercent, parseDurationMs } from "./units.ts";

Deno.test("parseBytes() accepts integers and sizes with units of 1024", () => {
  assert.equal(parseBytes(0), 0);
  assert.equal(parseBytes(12345), 12345);
  assert.equal(parseBytes("12345"), 12345);
  assert.equal(parseBytes("7B"), 7);
  assert.equal(parseBytes("2K"), 2048);
  assert.equal(parseBytes("2KB"), 2048);
  assert.equal(parseBytes("500M"), 500 * 1024 ** 2);
  assert.equal(parseBytes("16MB"), 16 * 1024 ** 2);
  assert.equal(parseBytes("10G"), 10 * 1024 ** 3);
  assert.equal(parseBytes("1.5G"), 1.5 * 1024 ** 3);
  assert.equal(parseBytes("2TB"), 2 * 1024 ** 4);
});

Deno.test("parseBytes() ignores the case of units and spaces", () => {
  assert.equal(parseBytes("2m"), 2 * 1024 ** 2);
  assert.equal(parseBytes("2mb"), 2 * 1024 ** 2);
  assert.equal(parseBytes("2Kb"), 2048);
  assert.equal(parseBytes(" 3 g "), 3 * 1024 ** 3);
});

Deno.test("parseBytes() rounds fractions of a byte down", () => {
  assert.equal(parseBytes("1.5"), 1);
  assert.equal(parseBytes("0.001K"), 1);
});

Deno.test("parseBytes() rejects what is not a size", () => {
  const cases: [number | string, RegExp][] = [
    ["10X", /^Invalid size "10X": unknown unit "X", expected B, K, KB/],
    ["-5", /^Invalid size "-5": must not be negative$/],
    [-5, /^Invalid size -5: expected a whole number of bytes ≥ 0$/],
    [1.5, /^Invalid size 1.5: expected a whole number/],
    ["G", /^Invalid size "G": expected a number and a unit, like "10G"$/],
    ["", /^Invalid size "": expected a number/],
    ["1.G", /expected a number and a unit/],
    ["1e3", /expected a number and a unit/],
    ["10KiB", /unknown unit "KiB"/],
    ["10%", /^Invalid size "10%": a percentage is not allowed here$/],
    ["99999999999T", /^Invalid size "99999999999T": too large$/],
  ];
  for (const [value, message] of cases) {
    assert.throws(() => parseBytes(value), { name: "RangeError", message }, String(value));
  }
});

Deno.test("parseBytesOrPercent() accepts bytes and percentages", () => {
  assert.deepEqual(parseBytesOrPercent("10G"), { kind: "bytes", bytes: 10 * 1024 ** 3 });
  assert.deepEqual(parseBytesOrPercent(4096), { kind: "bytes", bytes: 4096 });
  assert.deepEqual(parseBytesOrPercent("10%"), { kind: "percent", percent: 10 });
  assert.deepEqual(parseBytesOrPercent("0.5%"), { kind: "percent", percent: 0.5 });
  assert.deepEqual(parseBytesOrPercent("100%"), { kind: "percent", percent: 100 });
});

Deno.test("parseBytesOrPercent() rejects percentages out of range and bad sizes", () => {
  const cases: [string, RegExp][] = [
    ["150%", /^Invalid percentage "150%": must be more than 0% and at most 100%$/],
    ["0%", /^Invalid percentage "0%"/],
    ["-5%", /^Invalid size "-5%": must not be negative$/],
    ["%", /^Invalid size "%"/],
    ["10X", /unknown unit "X"/],
  ];
  for (const [value, message] of cases) {
    assert.throws(() => parseBytesOrPercent(value), { name: "RangeError", message }, value);
  }
});

Deno.test("parseDurationMs() accepts seconds and strings with units", () => {
  assert.equal(parseDurationMs(3), 3000);
  assert.equal(parseDurationMs(0.25), 250);
  assert.equal(parseDurationMs(0), 0);
  assert.equal(parseDurationMs("500ms"), 500);
  assert.equal(parseDurationMs("1.5s"), 1500);
  assert.equal(parseDurationMs("3m"), 180_000);
  assert.equal(parseDurationMs("2h"), 7_200_000);
  assert.equal(parseDurationMs("30d"), 2_592_000_000);
  assert.equal(parseDurationMs(" 2 s "), 2000);
  assert.equal(parseDurationMs("0.4ms"), 0);
});

Deno.test("parseDurationMs() rejects what is not a duration", () => {
  const cases: [number | string, RegExp][] = [
    [-1, /^Invalid duration -1: expected a number of seconds ≥ 0$/],
    [Infinity, /^Invalid duration Infinity/],
    [NaN, /^Invalid duration NaN/],
    ["3", /^Invalid duration "3": expected a number and a unit ms, s, m, h or d, like "500ms"$/],
    ["3w", /^Invalid duration "3w"/],
    ["3S", /^Invalid duration "3S"/],
    ["-3s", /^Invalid duration "-3s"/],
    ["s", /^Invalid duration "s"/],
    [1e300, /^Invalid duration 1e\+300: too long$/],
  ];
  for (const [value, message] of cases) {
    assert.throws(() => parseDurationMs(value), { name: "RangeError", message }, String(value));
  }
});
