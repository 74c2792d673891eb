import assert from "node:assert/strict";
import { type Path, paths } from "../types/mod.ts";
import { AssertionError } from "../util/mod.ts";
import { Database } from "./database.ts";
import {
  clearDecision,
  type Decision,
  DECISIONS,
  ENGINE_SCHEMA,
  getDecision,
  isDecision,
  setDecision,
} from "./engine.ts";

/** An in-memory arena database with the engine's tables. */
class Fixture {
  readonly db: Database;

  private constructor(db: Database) {
    this.db = db;
  }

  static setup(): Fixture {
    return new Fixture(Database.memory({ schemas: [ENGINE_SCHEMA] }));
  }

  set(path: Path, decision: Decision): void {
    this.db.write((tx) => setDecision(tx, path, decision));
  }

  clear(path: Path): boolean {
    return this.db.write((tx) => clearDecision(tx, path));
  }

  get(path: Path): Decision | null {
    return this.db.read((tx) => getDecision(tx, path));
  }

  [Symbol.dispose](): void {
    this.db.close();
  }
}

const FOO = paths.parse("dir/foo.txt");
const BAR = paths.parse("dir/bar.txt");

Deno.test("getDecision() returns null for a path without decision", () => {
  using f = Fixture.setup();
  assert.equal(f.get(FOO), null);
});

Deno.test("setDecision() stores every decision", () => {
  using f = Fixture.setup();
  for (const decision of DECISIONS) {
    f.set(FOO, decision);
    assert.equal(f.get(FOO), decision);
  }
});

Deno.test("setDecision() replaces the previous decision of the path only", () => {
  using f = Fixture.setup();
  f.set(FOO, "realize");
  f.set(BAR, "update-cache");
  f.set(FOO, "unrealize");
  assert.equal(f.get(FOO), "unrealize");
  assert.equal(f.get(BAR), "update-cache");
});

Deno.test("clearDecision() removes the decision and reports whether there was one", () => {
  using f = Fixture.setup();
  f.set(FOO, "realize");
  f.set(BAR, "realize");
  assert.equal(f.clear(FOO), true);
  assert.equal(f.clear(FOO), false);
  assert.equal(f.get(FOO), null);
  assert.equal(f.get(BAR), "realize");
});

Deno.test("setDecision() is rolled back with its transaction", () => {
  using f = Fixture.setup();
  assert.throws(() =>
    f.db.write((tx) => {
      setDecision(tx, FOO, "realize");
      throw new Error("abort");
    })
  );
  assert.equal(f.get(FOO), null);
});

Deno.test("setDecision() refuses an unknown decision", () => {
  using f = Fixture.setup();
  assert.throws(() => f.set(FOO, "delete" as Decision), AssertionError);
  assert.equal(f.get(FOO), null);
});

Deno.test("getDecision() asserts on an unknown decision read back", () => {
  using f = Fixture.setup();
  f.db.write((tx) => {
    tx.run("PRAGMA ignore_check_constraints = ON");
    tx.run("INSERT INTO engine_decision (path, decision) VALUES (?, 'delete')", FOO);
  });
  assert.throws(() => f.get(FOO), AssertionError);
});

Deno.test("isDecision() accepts exactly the decisions", () => {
  assert.equal(DECISIONS.every(isDecision), true);
  assert.equal(isDecision("Realize"), false);
  assert.equal(isDecision(0), false);
});
