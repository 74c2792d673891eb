import assert from "node:assert/strict";
import { type Mark, type Path, paths, ROOT } from "../types/mod.ts";
import { Database } from "./database.ts";
import { clearMark, getMark, listMarks, markFor, MARKS_SCHEMA, setMark } from "./marks.ts";

interface Fixture {
  readonly db: Database;
  set(path: string, mark: Mark): void;
  clear(path: string): boolean;
  get(path: string): Mark | null;
  markFor(path: string, arenaDefault?: Mark): Mark;
  [Symbol.dispose](): void;
}

function setup(): Fixture {
  const db = Database.memory({ schemas: [MARKS_SCHEMA] });
  return {
    db,
    set: (path, mark) => db.write((tx) => setMark(tx, paths.parse(path), mark)),
    clear: (path) => db.write((tx) => clearMark(tx, paths.parse(path))),
    get: (path) => db.read((tx) => getMark(tx, paths.parse(path))),
    markFor: (path, arenaDefault = "watch") =>
      db.read((tx) => markFor(tx, paths.parse(path), arenaDefault)),
    [Symbol.dispose]: () => db.close(),
  };
}

Deno.test("markFor() returns the arena default when nothing is marked", () => {
  using f = setup();
  assert.equal(f.markFor("a/b/c.txt"), "watch");
  assert.equal(f.markFor("a/b/c.txt", "keep"), "keep");
  assert.equal(f.markFor(""), "watch");
});

Deno.test("markFor() returns a file's own mark", () => {
  using f = setup();
  f.set("a/b/c.txt", "own");
  assert.equal(f.markFor("a/b/c.txt"), "own");
  assert.equal(f.markFor("a/b/d.txt"), "watch");
});

Deno.test("markFor() returns the nearest ancestor's mark", () => {
  using f = setup();
  f.set("a", "keep");
  f.set("a/b", "own");
  assert.equal(f.markFor("a/b/c/d.txt"), "own");
  assert.equal(f.markFor("a/b"), "own");
  assert.equal(f.markFor("a/x.txt"), "keep");
  assert.equal(f.markFor("b/x.txt"), "watch");
});

Deno.test("markFor() prefers a file's mark over its directory's", () => {
  using f = setup();
  f.set("a", "own");
  f.set("a/c.txt", "watch");
  assert.equal(f.markFor("a/c.txt"), "watch");
  assert.equal(f.markFor("a/d.txt"), "own");
});

Deno.test("markFor() uses the arena mark (root path) before the configured default", () => {
  using f = setup();
  f.set("", "keep");
  assert.equal(f.markFor("x/y.txt", "watch"), "keep");
  assert.equal(f.markFor("", "own"), "keep");
  f.set("x", "own");
  assert.equal(f.markFor("x/y.txt", "watch"), "own");
  f.clear("");
  assert.equal(f.markFor("z.txt", "own"), "own");
});

Deno.test("markFor() does not inherit from a sibling sharing a name prefix", () => {
  using f = setup();
  f.set("a/b", "own");
  assert.equal(f.markFor("a/bc"), "watch");
  assert.equal(f.markFor("a/bc/d"), "watch");
  assert.equal(f.markFor("a/b/d"), "own");
});

Deno.test("setMark() overwrites and clearMark() restores inheritance", () => {
  using f = setup();
  f.set("a", "keep");
  f.set("a/b.txt", "own");
  f.set("a/b.txt", "watch");
  assert.equal(f.get("a/b.txt"), "watch");
  assert.equal(f.clear("a/b.txt"), true);
  assert.equal(f.clear("a/b.txt"), false);
  assert.equal(f.get("a/b.txt"), null);
  assert.equal(f.markFor("a/b.txt"), "keep");
});

Deno.test("getMark() returns only explicit marks", () => {
  using f = setup();
  f.set("a", "own");
  assert.equal(f.get("a"), "own");
  assert.equal(f.get("a/b"), null);
  assert.equal(f.get(""), null);
});

Deno.test("setMark() is rolled back with its transaction", () => {
  using f = setup();
  assert.throws(() =>
    f.db.write((tx) => {
      setMark(tx, paths.parse("a"), "own");
      throw new Error("abort");
    })
  );
  assert.equal(f.get("a"), null);
});

Deno.test("listMarks() lists explicit marks by path", () => {
  using f = setup();
  f.set("b", "own");
  f.set("", "keep");
  f.set("a/c", "watch");
  const expected: { path: Path; mark: Mark }[] = [
    { path: ROOT, mark: "keep" },
    { path: paths.parse("a/c"), mark: "watch" },
    { path: paths.parse("b"), mark: "own" },
  ];
  assert.deepEqual(f.db.read((tx) => listMarks(tx)), expected);
});
