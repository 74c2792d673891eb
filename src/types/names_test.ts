import assert from "node:assert/strict";
import {
  type ArenaName,
  arenaNameProblem,
  arenaNamesClash,
  NameError,
  parseArenaName,
  parsePeerName,
  peerNameProblem,
} from "./names.ts";

function arena(text: string): ArenaName {
  return parseArenaName(text);
}

Deno.test("parseArenaName() accepts plain and nested names", () => {
  assert.equal(parseArenaName("docs"), "docs");
  assert.equal(parseArenaName("photos/2024"), "photos/2024");
  assert.equal(parseArenaName("a:b"), "a:b");
  assert.equal(parseArenaName("été"), "été");
  assert.equal(parseArenaName(".hidden"), ".hidden");
});

Deno.test("parseArenaName() rejects the empty name", () => {
  assert.throws(() => parseArenaName(""), {
    name: "NameError",
    message: 'Invalid arena name "": must not be empty',
  });
});

Deno.test("parseArenaName() rejects invalid paths", () => {
  for (const bad of ["/docs", "docs/", "/", "a//b", ".", "..", "a/../b", "a\0", "\uD800"]) {
    assert.throws(() => parseArenaName(bad), NameError, bad);
  }
  assert.equal(arenaNameProblem("docs/"), "must not end with /");
  assert.equal(arenaNameProblem("/docs"), "must be relative (starts with /)");
  assert.equal(arenaNameProblem("a/./b"), 'has a "." component');
  assert.equal(arenaNameProblem("docs"), null);
});

Deno.test("parsePeerName() accepts letters, digits and . _ @ + -", () => {
  for (const good of ["laptop", "a", "9", "nas-2", "me@home", "a.b_c+d-e", "Éric", "日本"]) {
    assert.equal(parsePeerName(good), good);
    assert.equal(peerNameProblem(good), null);
  }
});

Deno.test("parsePeerName() accepts at most 64 characters", () => {
  assert.equal(parsePeerName("a".repeat(64)), "a".repeat(64));
  assert.equal(parsePeerName("é".repeat(64)), "é".repeat(64));
  assert.throws(() => parsePeerName("a".repeat(65)), NameError);
});

Deno.test("parsePeerName() rejects other names", () => {
  for (const bad of ["", "-a", ".a", "_a", "@a", "a b", "a/b", "a:b", "a\n", " a", "😀"]) {
    assert.throws(() => parsePeerName(bad), NameError, bad);
  }
  assert.throws(() => parsePeerName("a b"), {
    name: "NameError",
    message: 'Invalid peer name "a b": must be 1 to 64 letters, digits or . _ @ + -, ' +
      "starting with a letter or digit",
  });
});

Deno.test("arenaNamesClash() is true for equal names", () => {
  assert.equal(arenaNamesClash(arena("docs"), arena("docs")), true);
  assert.equal(arenaNamesClash(arena("a/b"), arena("a/b")), true);
});

Deno.test("arenaNamesClash() is true when one name contains the other", () => {
  assert.equal(arenaNamesClash(arena("docs"), arena("docs/x")), true);
  assert.equal(arenaNamesClash(arena("docs/x"), arena("docs")), true);
  assert.equal(arenaNamesClash(arena("docs"), arena("docs/x/y")), true);
  assert.equal(arenaNamesClash(arena("a/b"), arena("a/b/c")), true);
});

Deno.test("arenaNamesClash() is false for names that only share a text prefix", () => {
  assert.equal(arenaNamesClash(arena("docs"), arena("docs_x")), false);
  assert.equal(arenaNamesClash(arena("docs"), arena("docsx")), false);
  assert.equal(arenaNamesClash(arena("docsx"), arena("docs")), false);
  assert.equal(arenaNamesClash(arena("docs/x"), arena("docs/xy")), false);
});

Deno.test("arenaNamesClash() is false for siblings and unrelated names", () => {
  assert.equal(arenaNamesClash(arena("photos/2023"), arena("photos/2024")), false);
  assert.equal(arenaNamesClash(arena("docs"), arena("music")), false);
  assert.equal(arenaNamesClash(arena("a/docs"), arena("docs")), false);
});
