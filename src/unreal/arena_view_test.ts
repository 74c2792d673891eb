// The filesystem-shaped view: lookup, getattr, readdir over local and remote entries.
// deno-lint-ignore-file no-sync-fn-in-async-fn
import assert from "node:assert/strict";
import { HashPool, RealArena } from "../real/mod.ts";
import {
  Database,
  GLOBAL_INODE_SCHEMA,
  InodeAllocator,
  openArenaDatabase,
  openGlobalDatabase,
  ROOT_INODE,
} from "../storage/mod.ts";
import { parseArenaName, UnixTime } from "../types/mod.ts";
import { A, B, h, p, UnrealFixture } from "./_testing.ts";
import { ArenaView, type Attr } from "./arena_view.ts";
import { ARENA_SCHEMAS, GLOBAL_TREE_SCHEMA } from "./mod.ts";
import { ensureNode } from "./tree.ts";

function names(f: UnrealFixture, ino: number, limit = 1000): string[] {
  const out: string[] = [];
  for (let offset = 0;;) {
    const batch = f.fs.readdir(ino, offset, limit);
    assert.ok(batch !== null);
    if (batch.length === 0) return out;
    out.push(...batch.map((e) => e.name));
    offset = batch.at(-1)!.next;
  }
}

Deno.test("lookup(), getattr() and readdir() show remote files and directories", () => {
  using f = UnrealFixture.setup();
  f.apply(A, f.add("docs/report.pdf", "pdf bytes", 1234), f.add("top.txt", "top"));
  const root = f.arena.view.root;
  assert.deepEqual(names(f, root).sort(), ["docs", "top.txt"]);
  const docs = f.fs.lookup(root, "docs");
  assert.equal(docs?.kind, "dir");
  const report = f.fs.lookup(docs!.ino, "report.pdf");
  assert.equal(report?.kind, "file");
  assert.equal(report?.size, "pdf bytes".length);
  assert.ok(report?.mtime.equals(UnixTime.of(1234)));
  assert.equal(report?.local, false);
  assert.deepEqual(f.fs.getattr(report!.ino), report);
  const version = f.fs.versionOf(report!.ino);
  assert.ok(version?.hash?.equals(h("pdf bytes")));
  assert.deepEqual({ ...version, hash: undefined }, { ...report, hash: undefined });
  assert.equal(f.fs.versionOf(docs!.ino)?.hash, null, "a directory has no version");
  assert.equal(f.fs.lookup(root, "missing"), null);
  assert.equal(f.fs.lookup(root, ".."), null);
  assert.equal(f.fs.readdir(report!.ino, 0, 10), null, "not a directory");
});

Deno.test("an inode is stable for a path across restarts", () => {
  using f = UnrealFixture.setup();
  f.apply(A, f.add("a/b/c", "c"));
  const a = f.fs.lookup(f.arena.view.root, "a")!;
  const c = f.fs.lookup(f.fs.lookup(a.ino, "b")!.ino, "c")!;
  f.close();
  f.open();
  const again = f.fs.lookup(f.fs.lookup(f.fs.lookup(f.arena.view.root, "a")!.ino, "b")!.ino, "c");
  assert.equal(again?.ino, c.ino);
  assert.equal(f.fs.lookup(f.arena.view.root, "a")?.ino, a.ino);
});

Deno.test("a file removed remotely disappears from lookup and readdir", () => {
  using f = UnrealFixture.setup();
  f.apply(A, f.add("x", "x"), f.add("y", "y"));
  const x = f.fs.lookup(f.arena.view.root, "x")!;
  f.apply(A, { kind: "remove", index: 0, path: p("x"), oldHash: h("x") });
  assert.equal(f.fs.lookup(f.arena.view.root, "x"), null);
  assert.equal(f.fs.getattr(x.ino), null);
  assert.deepEqual(names(f, f.arena.view.root), ["y"]);
});

Deno.test("readdir() offsets are stable over 3,000 entries read 100 at a time", () => {
  using f = UnrealFixture.setup();
  const files = Array.from({ length: 3000 }, (_, i) => f.add(`big/f${i}`, `c${i}`));
  f.apply(B, ...files);
  const dir = f.fs.lookup(f.arena.view.root, "big")!;
  const first = f.fs.readdir(dir.ino, 0, 100)!;
  // Entries removed during the listing are skipped; the rest come exactly once.
  f.apply(B, { kind: "remove", index: 0, path: p("big/f2999"), oldHash: h("c2999") });
  const rest = names(f, dir.ino, 100).slice(100);
  const all = [...first.map((e) => e.name), ...rest];
  assert.equal(all.length, 2999);
  assert.equal(new Set(all).size, 2999);
  assert.ok(!all.includes("f2999"));
});

Deno.test("a listing shows new entries whether this connection or another added them", () => {
  using f = UnrealFixture.setup();
  f.apply(A, f.add("d/one", "1"));
  // The FUSE worker's view: its own connection to the same database.
  const db = Database.open(`${f.dir}/docs/arena.db`, { schemas: ARENA_SCHEMAS });
  try {
    const alloc = new InodeAllocator({
      arenaDb: db,
      globalDb: f.globalDb,
      arena: parseArenaName("docs"),
      rangeSize: 100,
    });
    const other = new ArenaView(db, alloc);
    const list = (view: ArenaView) => {
      const d = view.lookup(view.root, "d")!;
      return view.readdir(d.ino, 0, 100)!.map((e) => e.name);
    };
    assert.deepEqual(list(other), ["one"]);
    assert.deepEqual(list(f.arena.view), ["one"]);
    f.apply(A, f.add("d/two", "2")); // committed by the first connection
    assert.deepEqual(list(other), ["one", "two"], "another connection's commit");
    assert.deepEqual(list(f.arena.view), ["one", "two"]);
    assert.deepEqual(list(other), ["one", "two"], "listed again, nothing changed");
    f.apply(A, f.add("d/three", "3"));
    assert.deepEqual(list(f.arena.view), ["one", "two", "three"], "this connection's commit");
    assert.deepEqual(list(other), ["one", "two", "three"]);
    f.apply(A, { kind: "remove", index: 0, path: p("d/one"), oldHash: h("1") });
    assert.deepEqual(list(other), ["two", "three"]);
  } finally {
    db.close();
  }
});

Deno.test("readdir() returns fewer entries than asked only at the end, stale nodes or not", () => {
  using f = UnrealFixture.setup();
  f.apply(A, ...Array.from({ length: 10 }, (_, i) => f.add(`d/f${i}`, `c${i}`)));
  const dir = f.fs.lookup(f.arena.view.root, "d")!;
  // Nodes with nothing at their path (a local file deleted since), listed first (lower
  // inodes): a listing skips them.
  f.db.write((tx) => ["g1", "g2", "g3"].forEach((g) => ensureNode(tx, p(`d/${g}`), f.arena.alloc)));
  const first = f.fs.readdir(dir.ino, 0, 5)!;
  assert.deepEqual(first.map((e) => e.name), ["f0", "f1", "f2", "f3", "f4"]);
  const rest = f.fs.readdir(dir.ino, first.at(-1)!.next, 6)!;
  assert.deepEqual(rest.map((e) => e.name), ["f5", "f6", "f7", "f8", "f9"], "the end");
  assert.deepEqual(f.fs.readdir(dir.ino, rest.at(-1)!.next, 5), []);
});

Deno.test("the root lists arenas, with nested directories for names with /", () => {
  using f = UnrealFixture.setup("docs", "photos/2024", "photos/2025");
  assert.deepEqual(names(f, ROOT_INODE), ["docs", "photos"]);
  const photos = f.fs.lookup(ROOT_INODE, "photos")!;
  assert.equal(photos.kind, "dir");
  assert.deepEqual(names(f, photos.ino), ["2024", "2025"]);
  const y2024 = f.fs.lookup(photos.ino, "2024")!;
  assert.equal(y2024.ino, f.arenas.get(parseArenaName("photos/2024"))!.view.root);
  assert.equal(f.fs.arenaOf(y2024.ino)?.arena, "photos/2024");
  assert.equal(f.fs.arenaOf(photos.ino), null, "a global directory belongs to no arena");
  f.close();
  f.open();
  assert.equal(f.fs.lookup(ROOT_INODE, "photos")?.ino, photos.ino, "stable across restarts");
});

Deno.test("inodes never collide across arenas", () => {
  using f = UnrealFixture.setup("one", "two");
  const [one, two] = [...f.arenas.values()];
  for (let i = 0; i < 250; i++) {
    one!.db.write((tx) => one!.alloc.next(tx));
    two!.db.write((tx) => two!.alloc.next(tx));
  }
  const a = one!.view.inoOf(p("")), b = two!.view.inoOf(p(""));
  assert.notEqual(a, b);
  assert.equal(f.fs.arenaOf(a!)?.arena, "one");
  assert.equal(f.fs.arenaOf(b!)?.arena, "two");
});

Deno.test("local files and directories merge with remote ones; a local file wins", async () => {
  using f = UnrealFixture.setup();
  const datadir = `${f.dir}/data`;
  Deno.mkdirSync(`${datadir}/shared`, { recursive: true });
  Deno.writeTextFileSync(`${datadir}/shared/local.txt`, "local");
  Deno.writeTextFileSync(`${datadir}/both.txt`, "my version");
  const pool = new HashPool({ workers: 1 });
  const real = new RealArena({
    name: "docs",
    db: f.db,
    datadir,
    debounceMs: 0,
    pool,
    hashersMax: 1,
  });
  try {
    await real.start();
    f.apply(A, f.add("shared/remote.txt", "remote"), f.add("both.txt", "their version"));
    const root = f.arena.view.root;
    assert.deepEqual(names(f, root).sort(), ["both.txt", "shared"]);
    const shared = f.fs.lookup(root, "shared")!;
    assert.equal(shared.local, true);
    assert.deepEqual(names(f, shared.ino).sort(), ["local.txt", "remote.txt"]);
    const both = f.fs.lookup(root, "both.txt")!;
    assert.equal(both.local, true);
    assert.equal(both.size, "my version".length);
    assert.equal(f.fs.lookup(shared.ino, "remote.txt")?.local, false);
    // Seen as an arena without a datadir (the FUSE worker's view then): only remote files.
    const remote = new ArenaView(f.db, f.arena.alloc, { local: false });
    const theirs = remote.lookup(remote.root, "both.txt")!;
    assert.equal(theirs.local, false);
    assert.equal(theirs.size, "their version".length);
    assert.ok(remote.versionOf(theirs.ino)?.hash?.equals(h("their version")));
    const mine = Deno.statSync(`${datadir}/both.txt`).mtime!.getTime();
    assert.equal(both.mtime.toMillis(), mine, "a local file shows its own time");
    const sharedRemote = remote.lookup(remote.root, "shared")!;
    assert.ok(shared.mtime.equals(sharedRemote.mtime), "a local directory shows the remote time");
    assert.notEqual(shared.mtime.toMillis(), 0);
    assert.equal(remote.lookup(sharedRemote.ino, "local.txt"), null);
    assert.deepEqual(remote.readdir(sharedRemote.ino, 0, 100)!.map((e) => e.name), [
      "remote.txt",
    ]);
  } finally {
    await real.stop();
    await pool.close();
  }
});

Deno.test("a database from before nodes carried attributes is migrated, and kept in step", () => {
  const dir = Deno.makeTempDirSync({ prefix: "realize_view_migration_" });
  try {
    const arena = parseArenaName("docs");
    const before = ARENA_SCHEMAS.map((s) =>
      s.name === "unreal" ? { ...s, migrations: s.migrations.slice(0, 2) } : s
    );
    const old = openArenaDatabase(`${dir}/work`, arena, { schemas: before });
    const theirs = h("their version").bytes();
    old.write((tx) => {
      const nodes: [number, number | null, string][] = [
        [10, null, ""],
        [11, 10, "shared"],
        [12, 11, "shared/local.txt"],
        [13, 10, "both.txt"],
        [14, 10, "remote.txt"],
      ];
      for (const [ino, parent, path] of nodes) {
        const name = path.split("/").at(-1)!;
        tx.run(
          "INSERT INTO unreal_node (ino, parent, name, path) VALUES (?, ?, ?, ?)",
          ino,
          parent,
          name,
          path,
        );
      }
      const file = "INSERT INTO index_file VALUES (?, ?, ?, ?, 0, 1, ?, ?, NULL)";
      tx.run(file, "shared/local.txt", "shared", 5, 100, 1, h("local").bytes());
      tx.run(file, "both.txt", "", 10, 200, 2, h("my version").bytes());
      tx.run("INSERT INTO index_dir (path, parent) VALUES ('shared', '')");
      const remote = "INSERT INTO unreal_default VALUES (?, '', ?, ?, ?, 0, 'a')";
      tx.run(remote, "both.txt", theirs, 13, 300);
      tx.run(remote, "remote.txt", h("remote").bytes(), 6, 400);
      tx.run("INSERT INTO unreal_dir VALUES ('shared', '', 1, 500, 0)");
    });
    old.close();

    using globalDb = openGlobalDatabase(`${dir}/cache.db`, {
      schemas: [GLOBAL_INODE_SCHEMA, GLOBAL_TREE_SCHEMA],
    });
    using db = openArenaDatabase(`${dir}/work`, arena, { schemas: ARENA_SCHEMAS });
    const alloc = new InodeAllocator({ arenaDb: db, globalDb, arena });
    const view = new ArenaView(db, alloc);
    const remote = new ArenaView(db, alloc, { local: false });
    const secs = (a: Attr | null) => a === null ? null : a.mtime.toMillis() / 1000;
    assert.equal(view.root, 10);
    const shared = view.lookup(10, "shared");
    assert.deepEqual([shared?.kind, shared?.local, secs(shared)], ["dir", true, 500]);
    assert.deepEqual([view.lookup(11, "local.txt")?.size, view.lookup(11, "local.txt")?.local], [
      5,
      true,
    ]);
    const both = view.lookup(10, "both.txt");
    assert.deepEqual([both?.size, both?.local, secs(both)], [10, true, 200]);
    assert.ok(view.versionOf(13)?.hash?.equals(h("my version")));
    assert.deepEqual([remote.lookup(10, "both.txt")?.size, secs(remote.getattr(13))], [13, 300]);
    assert.ok(remote.versionOf(13)?.hash?.equals(h("their version")));
    assert.equal(remote.lookup(11, "local.txt"), null);
    assert.deepEqual([view.lookup(10, "remote.txt")?.size, view.getattr(14)?.local], [6, false]);

    // Every table's changes reach the node rows.
    db.write((tx) => {
      tx.run("DELETE FROM index_file WHERE path = 'both.txt'");
      tx.run("DELETE FROM unreal_default WHERE path = 'remote.txt'");
      tx.run("UPDATE unreal_dir SET mtime_secs = 600 WHERE path = 'shared'");
      tx.run("DELETE FROM index_dir WHERE path = 'shared'");
      tx.run("UPDATE unreal_default SET size = 14 WHERE path = 'both.txt'");
    });
    const after = view.getattr(13);
    assert.deepEqual([after?.size, after?.local], [14, false], "the remote version shows");
    assert.equal(view.getattr(14), null, "nothing is at remote.txt any more");
    const sharedAfter = view.getattr(11);
    assert.deepEqual([sharedAfter?.local, secs(sharedAfter)], [false, 600]);
    db.write((tx) => {
      tx.run(
        "INSERT INTO index_file VALUES ('both.txt', '', 20, 700, 0, 1, 3, NULL, NULL)",
      );
      tx.run("INSERT INTO index_dir (path, parent) VALUES ('shared', '')");
    });
    assert.deepEqual([view.getattr(13)?.size, view.getattr(13)?.local], [20, true]);
    assert.equal(view.versionOf(13)?.hash, null, "a local file not hashed yet");
    assert.equal(view.getattr(11)?.local, true);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("listing a directory reads only its own children, never a whole table", () => {
  using f = UnrealFixture.setup();
  f.apply(A, f.add("d/sub/x", "x"));
  // The queries a listing runs (ArenaView.readdir, listDir): none may scan a table.
  const plans = [
    "SELECT path FROM unreal_dir WHERE parent = ?",
    "SELECT path FROM unreal_default WHERE parent = ?",
    "SELECT path FROM index_file WHERE parent = ?",
    "SELECT path FROM index_dir WHERE parent = ?",
  ].map((sql) =>
    f.db.read((tx) => tx.all<{ detail: string }>(`EXPLAIN QUERY PLAN ${sql}`, "d"))
      .map((r) => r.detail).join("; ")
  );
  for (const plan of plans) assert.doesNotMatch(plan, /SCAN/, plan);
  assert.deepEqual(names(f, f.fs.lookup(f.arena.view.root, "d")!.ino), ["sub"]);
});
