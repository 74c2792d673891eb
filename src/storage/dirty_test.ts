import assert from "node:assert/strict";
import { join } from "node:path";
import { type Path, paths } from "../types/mod.ts";
import { Database } from "./database.ts";
import {
  clearDirty,
  DIRTY_SCHEMA,
  dirtyAfter,
  dirtyCounter,
  isDirty,
  lastDirtyCounter,
  markDirty,
  markDirtyMany,
  waitForDirty,
} from "./dirty.ts";

/** An arena database file with the dirty log, reopenable. */
class Fixture {
  readonly dir = Deno.makeTempDirSync({ prefix: "realize_dirty_" });
  #db: Database | null = null;

  static setup(): Fixture {
    const f = new Fixture();
    f.reopen();
    return f;
  }

  get db(): Database {
    assert(this.#db !== null);
    return this.#db;
  }

  reopen(): void {
    this.#db?.close();
    this.#db = Database.open(join(this.dir, "arena.db"), { schemas: [DIRTY_SCHEMA] });
  }

  mark(...names: string[]): number[] {
    return this.db.write((tx) => names.map((n) => markDirty(tx, paths.parse(n))));
  }

  log(): [number, string][] {
    return this.db.read((tx) => dirtyAfter(tx, 0, 100)).map((e) => [e.counter, e.path]);
  }

  clear(name: string, counter: number): boolean {
    return this.db.write((tx) => clearDirty(tx, paths.parse(name), counter));
  }

  [Symbol.dispose](): void {
    this.#db?.close();
    Deno.removeSync(this.dir, { recursive: true });
  }
}

/** Whether `promise` settled once the commit's hooks and the microtasks they queue ran. */
async function settled(promise: Promise<unknown>): Promise<boolean> {
  let done = false;
  promise.then(() => done = true, () => done = true);
  await new Promise((resolve) => setTimeout(resolve, 0));
  return done;
}

Deno.test("markDirty() hands out increasing counters and dirtyAfter() reads them in order", () => {
  using f = Fixture.setup();
  assert.deepEqual(f.mark("a", "b"), [1, 2]);
  assert.deepEqual(f.mark("c"), [3]);
  assert.deepEqual(f.log(), [[1, "a"], [2, "b"], [3, "c"]]);
  assert.deepEqual(f.db.read((tx) => dirtyAfter(tx, 1, 1)), [{ counter: 2, path: "b" as Path }]);
  assert.deepEqual(f.db.read((tx) => dirtyAfter(tx, 3, 10)), []);
});

Deno.test("markDirty() keeps only the newest entry of a path", () => {
  using f = Fixture.setup();
  f.mark("a", "b", "a");
  assert.deepEqual(f.log(), [[2, "b"], [3, "a"]]);
  assert.equal(f.db.read((tx) => dirtyCounter(tx, paths.parse("a"))), 3);
});

Deno.test("markDirtyMany() leaves the log markDirty() would, one path after the other", () => {
  using one = Fixture.setup();
  using many = Fixture.setup();
  const before = ["a", "b", "c"];
  const batch = ["x", "b", "y", "x", "z"];
  one.mark(...before, ...batch);
  many.mark(...before);
  const last = many.db.write((tx) => markDirtyMany(tx, batch.map((n) => paths.parse(n))));
  const dump = (f: Fixture) => f.db.read((tx) => dirtyAfter(tx, 0, 100));
  assert.deepEqual(dump(many), dump(one));
  assert.equal(last, 8);
  assert.equal(many.db.read((tx) => lastDirtyCounter(tx)), 8);
  assert.equal(many.db.write((tx) => markDirtyMany(tx, [])), 8, "nothing to mark");
});

Deno.test("markDirtyMany() wakes waitForDirty() after the commit", async () => {
  using f = Fixture.setup();
  const woken = waitForDirty(f.db, 0);
  f.db.write((tx) => markDirtyMany(tx, [paths.parse("a"), paths.parse("b")]));
  assert.equal(await woken, 2);
});

Deno.test("clearDirty() removes the entry it handled", () => {
  using f = Fixture.setup();
  const [a] = f.mark("a", "b");
  assert.equal(f.clear("a", a!), true);
  assert.deepEqual(f.log(), [[2, "b"]]);
  assert.equal(f.db.read((tx) => isDirty(tx, paths.parse("a"))), false);
  assert.equal(f.db.read((tx) => isDirty(tx, paths.parse("b"))), true);
});

Deno.test("clearDirty() refuses a stale counter and keeps the newer entry", () => {
  using f = Fixture.setup();
  const [old] = f.mark("a");
  const [newer] = f.mark("a");
  assert.equal(f.clear("a", old!), false);
  assert.deepEqual(f.log(), [[newer!, "a"]]);
  assert.equal(f.clear("missing", 1), false);
});

Deno.test("markDirty() counters never go backwards, even across reopen with an empty log", () => {
  using f = Fixture.setup();
  const [a, b] = f.mark("a", "b");
  f.clear("a", a!);
  f.clear("b", b!);
  assert.deepEqual(f.log(), []);
  f.reopen();
  assert.equal(f.db.read((tx) => lastDirtyCounter(tx)), 2);
  assert.deepEqual(f.mark("c"), [3]);
});

Deno.test("markDirty() is rolled back with its transaction, counter included", () => {
  using f = Fixture.setup();
  f.mark("a");
  assert.throws(() =>
    f.db.write((tx) => {
      markDirty(tx, paths.parse("b"));
      throw new Error("abort");
    })
  );
  assert.deepEqual(f.log(), [[1, "a"]]);
  assert.deepEqual(f.mark("c"), [2]);
});

Deno.test("waitForDirty() resolves at once when a newer counter exists", async () => {
  using f = Fixture.setup();
  f.mark("a", "b");
  assert.equal(await waitForDirty(f.db, 1), 2);
});

Deno.test("waitForDirty() wakes after the commit of a change", async () => {
  using f = Fixture.setup();
  const waiting = waitForDirty(f.db, 0);
  assert.equal(await settled(waiting), false);
  f.mark("a");
  assert.equal(await waiting, 1);
});

Deno.test("waitForDirty() is not woken by a rolled-back change", async () => {
  using f = Fixture.setup();
  const waiting = waitForDirty(f.db, 0);
  assert.throws(() =>
    f.db.write((tx) => {
      markDirty(tx, paths.parse("a"));
      throw new Error("abort");
    })
  );
  f.db.write(() => {
    assert.throws(() =>
      f.db.write((inner) => {
        markDirty(inner, paths.parse("b"));
        throw new Error("abort savepoint");
      })
    );
  });
  assert.equal(await settled(waiting), false);
  f.mark("c");
  assert.equal(await waiting, 1);
});

Deno.test("waitForDirty() ignores counters it has seen", async () => {
  using f = Fixture.setup();
  f.mark("a");
  const waiting = waitForDirty(f.db, 2);
  f.mark("b");
  assert.equal(await settled(waiting), false);
  f.mark("c");
  assert.equal(await waiting, 3);
});

Deno.test("waitForDirty() stops when its signal aborts", async () => {
  using f = Fixture.setup();
  const controller = new AbortController();
  const waiting = waitForDirty(f.db, 0, { signal: controller.signal });
  controller.abort(new Error("shutdown"));
  await assert.rejects(waiting, { message: "shutdown" });
  f.mark("a"); // the aborted waiter is gone
  await assert.rejects(
    waitForDirty(f.db, 0, { signal: AbortSignal.abort(new Error("already")) }),
    { message: "already" },
  );
});
