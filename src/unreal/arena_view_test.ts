// The filesystem-shaped view: lookup, getattr, readdir over local and remote entries.
// deno-lint-ignore-file no-sync-fn-in-async-fn
import assert from "node:assert/strict";
import { HashPool, RealArena } from "../real/mod.ts";
import { ROOT_INODE } from "../storage/mod.ts";
import { parseArenaName, UnixTime } from "../types/mod.ts";
import { A, B, h, p, UnrealFixture } from "./_testing.ts";
import { ArenaView } from "./arena_view.ts";

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
  assert.ok(report?.hash?.equals(h("pdf bytes")));
  assert.equal(report?.local, false);
  assert.deepEqual(f.fs.getattr(report!.ino), report);
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
    const sharedRemote = remote.lookup(remote.root, "shared")!;
    assert.equal(remote.lookup(sharedRemote.ino, "local.txt"), null);
    assert.deepEqual(remote.readdir(sharedRemote.ino, 0, 100)!.map((e) => e.name), [
      "remote.txt",
    ]);
  } finally {
    await real.stop();
    await pool.close();
  }
});
