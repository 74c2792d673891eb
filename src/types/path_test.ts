import assert from "node:assert/strict";
import {
  components,
  ext,
  fromBytes,
  isRoot,
  join,
  name,
  parent,
  parse,
  type Path,
  PathError,
  problem,
  ROOT,
  selfAndAncestors,
  startsWith,
} from "./path.ts";

const encoder = new TextEncoder();

function p(text: string): Path {
  return parse(text);
}

Deno.test("parse() accepts simple and nested paths", () => {
  assert.equal(parse("a"), "a");
  assert.equal(parse("a/b"), "a/b");
  assert.equal(parse("a/b/c/d"), "a/b/c/d");
  assert.equal(parse(".hidden/.bashrc"), ".hidden/.bashrc");
  assert.equal(parse("a b/c\td"), "a b/c\td");
  assert.equal(parse("..."), "...");
  assert.equal(parse(".a/..b/c.."), ".a/..b/c..");
  assert.equal(parse("back\\slash"), "back\\slash");
});

Deno.test("parse() accepts colons", () => {
  assert.equal(parse("a/b:c"), "a/b:c");
  assert.equal(parse(":"), ":");
  assert.equal(parse("C:/x"), "C:/x");
});

Deno.test("parse() accepts Unicode without normalizing it", () => {
  assert.equal(parse("été/日本語/😀.txt"), "été/日本語/😀.txt");
  const nfc = "caf\u00e9";
  const nfd = "cafe\u0301";
  assert.equal(parse(nfc), nfc);
  assert.equal(parse(nfd), nfd);
  assert.notEqual(parse(nfc), parse(nfd));
});

Deno.test("parse() accepts the empty path as the root", () => {
  assert.equal(parse(""), ROOT);
  assert.equal(problem(""), null);
});

Deno.test("parse() rejects a leading slash", () => {
  assert.throws(() => parse("/a"), PathError);
  assert.throws(() => parse("/"), PathError);
  assert.equal(problem("/a"), "must be relative (starts with /)");
});

Deno.test("parse() rejects a trailing slash", () => {
  assert.throws(() => parse("a/"), PathError);
  assert.throws(() => parse("a/b/"), PathError);
  assert.equal(problem("a/"), "has an empty component");
});

Deno.test("parse() rejects empty components", () => {
  assert.throws(() => parse("a//b"), PathError);
  assert.throws(() => parse("//"), PathError);
  assert.equal(problem("a//b"), "has an empty component");
});

Deno.test("parse() rejects . and .. components", () => {
  for (const bad of [".", "..", "./a", "a/.", "a/./b", "../a", "a/..", "a/../b"]) {
    assert.throws(() => parse(bad), PathError, bad);
  }
  assert.equal(problem("a/./b"), 'has a "." component');
  assert.equal(problem("a/../b"), 'has a ".." component');
});

Deno.test("parse() rejects NUL", () => {
  assert.throws(() => parse("a\0b"), PathError);
  assert.throws(() => parse("\0"), PathError);
  assert.equal(problem("a/\0"), "contains a NUL character");
});

Deno.test("parse() rejects lone surrogates", () => {
  assert.throws(() => parse("a\uD800"), PathError);
  assert.throws(() => parse("\uDC00/b"), PathError);
  assert.throws(() => parse("a/\uDC00\uD800"), PathError);
  assert.equal(problem("\uD800"), "not valid Unicode");
  assert.equal(parse("\uD83D\uDE00"), "😀");
});

Deno.test("parse() errors name the path and the reason", () => {
  assert.throws(() => parse("a//b"), {
    name: "PathError",
    message: 'Invalid path "a//b": has an empty component',
  });
  assert.throws(() => parse("a\0"), {
    name: "PathError",
    message: 'Invalid path "a\0": contains a NUL character',
  });
});

Deno.test("fromBytes() decodes UTF-8", () => {
  assert.equal(fromBytes(encoder.encode("a/b:c")), "a/b:c");
  assert.equal(fromBytes(encoder.encode("été/😀")), "été/😀");
  assert.equal(fromBytes(new Uint8Array()), ROOT);
});

Deno.test("fromBytes() keeps a leading U+FEFF", () => {
  const bytes = new Uint8Array([0xef, 0xbb, 0xbf, 0x61]);
  assert.equal(fromBytes(bytes), "\uFEFFa");
});

Deno.test("fromBytes() rejects invalid UTF-8", () => {
  const invalid = [
    [0x66, 0x6f, 0x80, 0x6f], // lone continuation byte
    [0xc3], // truncated sequence
    [0xc0, 0xaf], // overlong "/"
    [0xed, 0xa0, 0x80], // encoded surrogate
    [0xff],
  ];
  for (const bytes of invalid) {
    assert.throws(() => fromBytes(new Uint8Array(bytes)), {
      name: "PathError",
      message: "Invalid path: not valid UTF-8",
    });
  }
});

Deno.test("fromBytes() rejects invalid paths", () => {
  assert.throws(() => fromBytes(encoder.encode("/a")), PathError);
  assert.throws(() => fromBytes(encoder.encode("a/../b")), PathError);
  assert.throws(() => fromBytes(new Uint8Array([0x61, 0x00])), PathError);
});

Deno.test("isRoot() is true only for the root", () => {
  assert.equal(isRoot(ROOT), true);
  assert.equal(isRoot(p("a")), false);
});

Deno.test("name() returns the last component", () => {
  assert.equal(name(p("a")), "a");
  assert.equal(name(p("a/b")), "b");
  assert.equal(name(p("a/b/c.txt")), "c.txt");
  assert.equal(name(ROOT), "");
});

Deno.test("parent() returns the containing directory", () => {
  assert.equal(parent(p("a/b/c")), "a/b");
  assert.equal(parent(p("a/b")), "a");
  assert.equal(parent(p("a")), ROOT);
  assert.equal(parent(ROOT), null);
});

Deno.test("components() splits on /", () => {
  assert.deepEqual(components(p("a/b/c")), ["a", "b", "c"]);
  assert.deepEqual(components(p("a")), ["a"]);
  assert.deepEqual(components(ROOT), []);
});

Deno.test("selfAndAncestors() lists nearest first and ends with the root", () => {
  assert.deepEqual(selfAndAncestors(p("a/b/c")), ["a/b/c", "a/b", "a", ""]);
  assert.deepEqual(selfAndAncestors(p("a")), ["a", ""]);
  assert.deepEqual(selfAndAncestors(ROOT), [""]);
});

Deno.test("join() appends names and relative paths", () => {
  assert.equal(join(p("a"), "b"), "a/b");
  assert.equal(join(p("a"), "b/c"), "a/b/c");
  assert.equal(join(p("a/b"), "c:d"), "a/b/c:d");
  assert.equal(join(ROOT, "a"), "a");
  assert.equal(join(p("a"), ""), "a");
  assert.equal(join(ROOT, ""), ROOT);
});

Deno.test("join() rejects invalid tails", () => {
  assert.throws(() => join(p("a"), "/b"), PathError);
  assert.throws(() => join(p("a"), "b/"), PathError);
  assert.throws(() => join(p("a"), "b//c"), PathError);
  assert.throws(() => join(p("a/b"), "../c"), PathError);
  assert.throws(() => join(p("a"), "."), PathError);
});

Deno.test("startsWith() compares whole components", () => {
  assert.equal(startsWith(p("a/b/c"), p("a")), true);
  assert.equal(startsWith(p("a/b/c"), p("a/b")), true);
  assert.equal(startsWith(p("a/b/c"), p("a/b/c")), true);
  assert.equal(startsWith(p("a/bc"), p("a/b")), false);
  assert.equal(startsWith(p("ab"), p("a")), false);
  assert.equal(startsWith(p("a"), p("a/b")), false);
  assert.equal(startsWith(p("b/a"), p("a")), false);
});

Deno.test("startsWith() treats the root as a prefix of everything", () => {
  assert.equal(startsWith(p("a"), ROOT), true);
  assert.equal(startsWith(p("a/b"), ROOT), true);
  assert.equal(startsWith(ROOT, ROOT), true);
  assert.equal(startsWith(ROOT, p("a")), false);
});

Deno.test("ext() returns the final extension with its dot", () => {
  assert.equal(ext(p("a.txt")), ".txt");
  assert.equal(ext(p("d/a.tar.gz")), ".gz");
  assert.equal(ext(p("foo.app/bar")), "");
  assert.equal(ext(p("foo.app/bar.txt")), ".txt");
  assert.equal(ext(p(".bar.txt")), ".txt");
  assert.equal(ext(p("noext")), "");
  assert.equal(ext(ROOT), "");
});

Deno.test("ext() ignores the leading dot of a hidden file", () => {
  assert.equal(ext(p(".bashrc")), "");
  assert.equal(ext(p("d/.bashrc")), "");
});
