import assert from "node:assert/strict";
import { join } from "node:path";
import { type ArenaName, parseArenaName } from "../types/mod.ts";
import { Child } from "./_testing.ts";
import { ARENA_LOCK_FILE, openArenaDatabase, openGlobalDatabase } from "./arena_db.ts";
import { StorageError } from "./database.ts";
import { HOLDER_SCHEMA } from "./testdata/arena_holder.ts";

const HOLDER = new URL("./testdata/arena_holder.ts", import.meta.url);
const DOCS = parseArenaName("docs");

/** A temporary directory holding one arena's workdir. */
class Fixture {
  readonly dir = Deno.makeTempDirSync({ prefix: "realize_arena_" });
  readonly workdir = join(this.dir, "work", ".docs.realize");
  readonly lockPath = join(this.workdir, ARENA_LOCK_FILE);

  static setup(): Fixture {
    return new Fixture();
  }

  open(arena: ArenaName = DOCS) {
    return openArenaDatabase(this.workdir, arena, { schemas: [HOLDER_SCHEMA] });
  }

  spawn(...args: string[]): Child {
    return Child.spawn(HOLDER, [this.workdir, DOCS, ...args]);
  }

  [Symbol.dispose](): void {
    Deno.removeSync(this.dir, { recursive: true });
  }
}

function inUseMessage(f: Fixture, pid: number): string {
  return `Cannot open arena "docs": arena in use by pid ${pid} (lock ${f.lockPath})`;
}

Deno.test("openArenaDatabase() creates the workdir, the database and the lock", () => {
  using f = Fixture.setup();
  using db = f.open();
  db.write((tx) => tx.run("INSERT INTO holder_row VALUES (1, 'x')"));
  assert.equal(db.path, join(f.workdir, "arena.db"));
  assert.equal(Deno.readTextFileSync(f.lockPath).trim(), String(Deno.pid));
});

Deno.test("openArenaDatabase() fails with the pid when the arena is open in this process", () => {
  using f = Fixture.setup();
  const first = f.open();
  try {
    assert.throws(() => f.open(), (e: unknown) => {
      assert(e instanceof StorageError);
      assert.equal(e.message, inUseMessage(f, Deno.pid));
      return true;
    });
  } finally {
    first.close();
  }
  f.open().close(); // closing released the lock
});

Deno.test("openArenaDatabase() fails in another process while this one holds it", async () => {
  using f = Fixture.setup();
  const db = f.open();
  try {
    await using child = f.spawn("try");
    const result = await child.finish();
    assert.equal(result.code, 3, result.stderr);
    assert.deepEqual(result.lines, [inUseMessage(f, Deno.pid)]);
  } finally {
    db.close();
  }
  await using again = f.spawn("try");
  const result = await again.finish();
  assert.equal(result.code, 0, result.stderr);
  assert.deepEqual(result.lines, ["opened"]);
});

Deno.test("openArenaDatabase() names the other process holding the arena", async () => {
  using f = Fixture.setup();
  await using holder = f.spawn("hold", "10");
  await holder.waitFor("ready");
  assert.throws(() => f.open(), { message: inUseMessage(f, holder.pid) });
});

Deno.test("openArenaDatabase() reopens an arena after SIGKILL mid-transaction", async () => {
  using f = Fixture.setup();
  {
    await using holder = f.spawn("hold", "100");
    await holder.waitFor("ready");
    holder.kill("SIGKILL");
    const result = await holder.finish();
    assert.equal(result.signal, "SIGKILL");
  }
  using db = f.open();
  db.read((tx) => {
    const check = tx.get<{ integrity_check: string }>("PRAGMA integrity_check");
    assert.equal(check?.integrity_check, "ok");
    const rows = tx.all<{ text: string; n: number }>(
      "SELECT text, count(*) AS n FROM holder_row GROUP BY text",
    );
    assert.deepEqual(rows.map((r) => ({ ...r })), [{ text: "committed", n: 100 }]);
  });
  db.write((tx) => tx.run("INSERT INTO holder_row VALUES (101, 'after restart')"));
});

Deno.test("openGlobalDatabase() creates its directory and can be opened twice", () => {
  using f = Fixture.setup();
  const path = join(f.dir, "var", "cache.db");
  using first = openGlobalDatabase(path, { schemas: [HOLDER_SCHEMA] });
  using second = openGlobalDatabase(path, { schemas: [HOLDER_SCHEMA] });
  first.write((tx) => tx.run("INSERT INTO holder_row VALUES (1, 'one')"));
  assert.equal(second.read((tx) => tx.all("SELECT * FROM holder_row")).length, 1);
});

Deno.test("openArenaDatabase() refuses a workdir that belongs to another arena", () => {
  using f = Fixture.setup();
  f.open().close();
  assert.throws(
    () => f.open(parseArenaName("photos")),
    (e) =>
      e instanceof StorageError &&
      e.message === `Cannot open arena "photos": workdir ${f.workdir} belongs to arena "docs"` +
          " (give each arena its own workdir)",
  );
  f.open().close(); // the refusal released the lock and changed nothing
});
