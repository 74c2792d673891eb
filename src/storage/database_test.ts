import assert from "node:assert/strict";
import { join } from "node:path";
import { AssertionError } from "../util/mod.ts";
import { Database, type Schema, StorageError, type WriteTx } from "./database.ts";

const ITEMS_V1 = "CREATE TABLE items_item (id INTEGER PRIMARY KEY, name TEXT NOT NULL)";
const ITEMS_V2 = "ALTER TABLE items_item ADD COLUMN size INTEGER NOT NULL DEFAULT 0;" +
  "INSERT INTO items_item (name, size) VALUES ('from migration 2', 2)";
const ITEMS_V3 = "CREATE TABLE items_log (n INTEGER PRIMARY KEY)";

function items(...migrations: string[]): Schema {
  return { name: "items", migrations };
}

interface Fixture {
  readonly dir: string;
  readonly path: string;
  open(schemas?: readonly Schema[], busyTimeoutMs?: number): Database;
  [Symbol.dispose](): void;
}

function setup(): Fixture {
  const dir = Deno.makeTempDirSync({ prefix: "realize_db_" });
  const path = join(dir, "test.db");
  const opened: Database[] = [];
  return {
    dir,
    path,
    open(schemas = [items(ITEMS_V1)], busyTimeoutMs = 5000) {
      const db = Database.open(path, { schemas, busyTimeoutMs });
      opened.push(db);
      return db;
    },
    [Symbol.dispose]() {
      for (const db of opened) db.close();
      Deno.removeSync(dir, { recursive: true });
    },
  };
}

function insert(tx: WriteTx, name: string): void {
  tx.run("INSERT INTO items_item (name) VALUES (?)", name);
}

function names(db: Database): string[] {
  return db.read((tx) => tx.all<{ name: string }>("SELECT name FROM items_item ORDER BY id"))
    .map((r) => r.name);
}

function schemaVersion(db: Database, name: string): number | undefined {
  return db.read((tx) =>
    tx.get<{ version: number }>("SELECT version FROM meta_schema WHERE name = ?", name)
  )?.version;
}

Deno.test("Database.open() applies migrations once and in order", () => {
  using f = setup();
  const db = f.open([items(ITEMS_V1, ITEMS_V2)]);
  assert.equal(schemaVersion(db, "items"), 2);
  assert.deepEqual(names(db), ["from migration 2"]);
  db.close();
  const again = f.open([items(ITEMS_V1, ITEMS_V2, ITEMS_V3)]);
  assert.equal(schemaVersion(again, "items"), 3);
  assert.deepEqual(names(again), ["from migration 2"]); // migration 2 did not run again
  again.write((tx) => tx.run("INSERT INTO items_log (n) VALUES (1)"));
});

Deno.test("Database.open() does not re-apply migrations on reopen", () => {
  using f = setup();
  f.open([items(ITEMS_V1, ITEMS_V2)]).close();
  const db = f.open([items(ITEMS_V1, ITEMS_V2)]);
  assert.deepEqual(names(db), ["from migration 2"]);
  assert.equal(schemaVersion(db, "items"), 2);
});

Deno.test("Database.open() refuses a schema newer than the code", () => {
  using f = setup();
  f.open([items(ITEMS_V1, ITEMS_V2, ITEMS_V3)]).close();
  assert.throws(() => f.open([items(ITEMS_V1, ITEMS_V2)]), {
    name: "StorageError",
    message: `Cannot open database "${f.path}": schema "items" is version 3 ` +
      `but this realize knows up to 2`,
  });
  assert.equal(schemaVersion(f.open([items(ITEMS_V1, ITEMS_V2, ITEMS_V3)]), "items"), 3);
});

Deno.test("Database.open() rolls back every migration when one fails", () => {
  using f = setup();
  const other: Schema = { name: "other", migrations: ["CREATE TABLE other_x (a)", "BROKEN"] };
  assert.throws(() => f.open([items(ITEMS_V1), other]), (e: unknown) => {
    assert(e instanceof StorageError);
    assert.match(e.message, /migration 2 of schema "other" failed/);
    assert(e.cause instanceof Error);
    return true;
  });
  const db = f.open([]);
  assert.equal(schemaVersion(db, "items"), undefined);
});

Deno.test("Database.open() leaves alone the schemas it is not given", () => {
  using f = setup();
  const other: Schema = { name: "other", migrations: ["CREATE TABLE other_x (a)"] };
  f.open([items(ITEMS_V1, ITEMS_V2), other]).close();
  const db = f.open([other]);
  assert.equal(schemaVersion(db, "items"), 2);
  assert.deepEqual(names(db), ["from migration 2"]);
});

Deno.test("Database.open() sets WAL, synchronous=NORMAL, busy_timeout and foreign_keys", () => {
  using f = setup();
  const db = f.open();
  const pragma = (name: string) =>
    db.read((tx) => Object.values(tx.get(`PRAGMA ${name}`) ?? {})[0]);
  assert.equal(pragma("journal_mode"), "wal");
  assert.equal(pragma("synchronous"), 1);
  assert.equal(pragma("busy_timeout"), 5000);
  assert.equal(pragma("foreign_keys"), 1);
});

Deno.test("Database.memory() creates the schemas", () => {
  using db = Database.memory({ schemas: [items(ITEMS_V1)] });
  db.write((tx) => insert(tx, "a"));
  assert.deepEqual(names(db), ["a"]);
  assert.equal(db.path, ":memory:");
});

Deno.test("write() commits on return and rolls back on throw", () => {
  using db = Database.memory({ schemas: [items(ITEMS_V1)] });
  assert.equal(db.write((tx) => (insert(tx, "kept"), 7)), 7);
  assert.throws(() =>
    db.write((tx) => {
      insert(tx, "dropped");
      throw new Error("boom");
    }), { message: "boom" });
  assert.deepEqual(names(db), ["kept"]);
  assert.equal(db.inTransaction, false);
});

Deno.test("write() nested in write() rolls back its savepoint alone", () => {
  using db = Database.memory({ schemas: [items(ITEMS_V1)] });
  db.write((tx) => {
    insert(tx, "outer 1");
    assert.throws(() =>
      db.write((inner) => {
        insert(inner, "inner dropped");
        throw new Error("inner");
      })
    );
    db.write((inner) => insert(inner, "inner kept"));
    insert(tx, "outer 2");
  });
  assert.deepEqual(names(db), ["outer 1", "inner kept", "outer 2"]);
});

Deno.test("write() nested in write() is rolled back with the outer transaction", () => {
  using db = Database.memory({ schemas: [items(ITEMS_V1)] });
  assert.throws(() =>
    db.write((tx) => {
      db.write((inner) => insert(inner, "inner"));
      insert(tx, "outer");
      throw new Error("outer");
    })
  );
  assert.deepEqual(names(db), []);
});

Deno.test("afterCommit() hooks run in order after the outermost commit", () => {
  using db = Database.memory({ schemas: [items(ITEMS_V1)] });
  const calls: string[] = [];
  db.write((tx) => {
    tx.afterCommit(() => calls.push(`1 sees ${names(db).length} rows`));
    insert(tx, "a");
    db.write((inner) => inner.afterCommit(() => calls.push("2 nested")));
    assert.throws(() =>
      db.write((inner) => {
        inner.afterCommit(() => calls.push("dropped with its savepoint"));
        throw new Error("inner");
      })
    );
    tx.afterCommit(() => calls.push("3"));
    assert.deepEqual(calls, []);
  });
  assert.deepEqual(calls, ["1 sees 1 rows", "2 nested", "3"]);
});

Deno.test("afterCommit() hooks never run after a rollback", () => {
  using db = Database.memory({ schemas: [items(ITEMS_V1)] });
  let called = false;
  assert.throws(() =>
    db.write((tx) => {
      tx.afterCommit(() => called = true);
      db.write((inner) => inner.afterCommit(() => called = true));
      throw new Error("rollback");
    })
  );
  assert.equal(called, false);
});

Deno.test("afterCommit() hooks may open a new transaction", () => {
  using db = Database.memory({ schemas: [items(ITEMS_V1)] });
  db.write((tx) => {
    insert(tx, "a");
    tx.afterCommit(() => db.write((next) => insert(next, "from hook")));
  });
  assert.deepEqual(names(db), ["a", "from hook"]);
});

Deno.test("write() refuses an async callback and rolls it back", async () => {
  using db = Database.memory({ schemas: [items(ITEMS_V1)] });
  let pending: Promise<void> | undefined;
  assert.throws(
    () =>
      db.write(
        ((tx: WriteTx) => {
          pending = (async () => {
            insert(tx, "before await");
            await Promise.resolve();
          })();
          return pending;
        }) as never,
      ),
    (e: unknown) => e instanceof AssertionError && /returned a Promise/.test(e.message),
  );
  await pending;
  assert.deepEqual(names(db), []);
  assert.equal(db.inTransaction, false);
  db.write((tx) => insert(tx, "next write works"));
  assert.deepEqual(names(db), ["next write works"]);
});

Deno.test("read() refuses an async callback", () => {
  using db = Database.memory({ schemas: [items(ITEMS_V1)] });
  assert.throws(() => db.read((async () => {}) as never), AssertionError);
  assert.equal(db.inTransaction, false);
});

Deno.test("read() offers no run() and refuses writes", () => {
  using db = Database.memory({ schemas: [items(ITEMS_V1)] });
  db.read((tx) => {
    assert.equal("run" in tx, false);
    assert.equal("afterCommit" in tx, false);
    assert.throws(() => tx.all("INSERT INTO items_item (name) VALUES ('x')"), StorageError);
  });
  db.write((tx) => {
    insert(tx, "a");
    db.read((inner) => assert.equal(inner.all("SELECT * FROM items_item").length, 1));
    insert(tx, "b"); // writable again after the nested read
  });
  assert.deepEqual(names(db), ["a", "b"]);
});

Deno.test("read() sees one snapshot while another connection commits", () => {
  using f = setup();
  const reader = f.open();
  const writer = f.open();
  const count = (tx: { get<T>(sql: string): T | undefined }) =>
    tx.get<{ n: number }>("SELECT count(*) AS n FROM items_item")?.n;
  reader.read((tx) => {
    assert.equal(count(tx), 0);
    writer.write((w) => insert(w, "concurrent"));
    assert.equal(count(tx), 0);
  });
  assert.equal(reader.read((tx) => count(tx)), 1);
});

Deno.test("write() fails with StorageError naming the path while another connection writes", () => {
  using f = setup();
  const first = f.open();
  const second = f.open(undefined, 0);
  first.write(() => {
    assert.throws(() => second.write(() => {}), (e: unknown) => {
      assert(e instanceof StorageError);
      assert.match(e.message, /^Cannot begin a transaction on database ".*test\.db": /);
      assert.match(e.message, /locked/);
      assert(e.cause instanceof Error);
      return true;
    });
  });
  assert.equal(second.inTransaction, false);
});

Deno.test("StorageError wraps SQLite errors with the cause and the path", () => {
  using db = Database.memory({ schemas: [items(ITEMS_V1)] });
  assert.throws(() => db.read((tx) => tx.get("SELECT * FROM missing")), (e: unknown) => {
    assert(e instanceof StorageError);
    assert.equal(e.message, `Cannot query database ":memory:": no such table: missing`);
    assert(e.cause instanceof Error);
    return true;
  });
});

Deno.test("iterate() yields rows and is unusable after its transaction", () => {
  using db = Database.memory({ schemas: [items(ITEMS_V1)] });
  db.write((tx) => ["a", "b", "c"].forEach((n) => insert(tx, n)));
  let rest: IterableIterator<{ name: string }> | undefined;
  const first = db.read((tx) => {
    const all = [...tx.iterate<{ name: string }>("SELECT name FROM items_item ORDER BY id")];
    rest = tx.iterate<{ name: string }>("SELECT name FROM items_item ORDER BY id");
    return [all.map((r) => r.name), rest.next().value?.name];
  });
  assert.deepEqual(first, [["a", "b", "c"], "a"]);
  assert.throws(() => rest?.next(), AssertionError);
});

Deno.test("write() keeps working past the prepared statement cache size", () => {
  using db = Database.memory({ schemas: [items(ITEMS_V1)] });
  const sum = db.write((tx) => {
    let total = 0;
    for (let i = 0; i < 300; i++) total += tx.get<{ n: number }>(`SELECT ${i} AS n`)?.n ?? 0;
    return total + (tx.get<{ n: number }>("SELECT 0 AS n")?.n ?? 0);
  });
  assert.equal(sum, (299 * 300) / 2);
});

Deno.test("a transaction is unusable after its callback returns", () => {
  using db = Database.memory({ schemas: [items(ITEMS_V1)] });
  const leaked = db.write((tx) => tx);
  assert.throws(() => insert(leaked, "late"), AssertionError);
  assert.throws(() => leaked.afterCommit(() => {}), AssertionError);
});

Deno.test("write() inside read() is a bug", () => {
  using db = Database.memory({ schemas: [items(ITEMS_V1)] });
  assert.throws(() => db.read(() => db.write(() => {})), AssertionError);
  assert.equal(db.inTransaction, false);
});

Deno.test("close() is idempotent and later use fails", () => {
  const db = Database.memory({ schemas: [items(ITEMS_V1)] });
  db.close();
  db.close();
  assert.equal(db.closed, true);
  assert.throws(() => db.read(() => {}), {
    name: "StorageError",
    message: `Cannot use database ":memory:": closed`,
  });
});

Deno.test("Database.open() refuses duplicate schema names", () => {
  assert.throws(
    () => Database.memory({ schemas: [items(ITEMS_V1), items(ITEMS_V1)] }),
    AssertionError,
  );
});
