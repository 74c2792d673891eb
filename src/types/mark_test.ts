import assert from "node:assert/strict";
import { DEFAULT_MARK, isMark, type Mark, MARKS, parseMark } from "./mark.ts";

Deno.test("MARKS lists every mark in database order", () => {
  assert.deepEqual(MARKS, ["watch", "keep", "own"]);
  assert.equal(MARKS.indexOf("watch"), 0);
  assert.equal(MARKS.indexOf("keep"), 1);
  assert.equal(MARKS.indexOf("own"), 2);
});

Deno.test("DEFAULT_MARK is watch", () => {
  assert.equal(DEFAULT_MARK, "watch");
});

Deno.test("isMark() accepts exactly the three marks", () => {
  for (const mark of MARKS) assert.equal(isMark(mark), true);
  for (const other of ["", "Watch", "KEEP", " own", "own ", "watched", "toString", "0"]) {
    assert.equal(isMark(other), false, other);
  }
});

Deno.test("parseMark() returns the mark", () => {
  const marks: Mark[] = MARKS.map(parseMark);
  assert.deepEqual(marks, ["watch", "keep", "own"]);
});

Deno.test("parseMark() throws TypeError for anything else", () => {
  assert.throws(() => parseMark("Keep"), {
    name: "TypeError",
    message: 'Invalid mark "Keep": expected watch, keep or own',
  });
  assert.throws(() => parseMark(""), TypeError);
  assert.throws(() => parseMark(" keep"), TypeError);
});
