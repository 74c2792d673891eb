import assert from "node:assert/strict";
import { GLOBAL_INODE_SCHEMA, openArenaDatabase, openGlobalDatabase } from "../storage/mod.ts";
import { parseArenaName, UnixTime } from "../types/mod.ts";
import { A, B, h, p } from "./_testing.ts";
import { GLOBAL_TREE_SCHEMA } from "./filesystem.ts";
import { listDir, listPath, statusText } from "./listing.ts";
import { ARENA_SCHEMAS } from "./mod.ts";
import { UnrealArena } from "./unreal_arena.ts";

/** One arena's unreal in a temporary directory. */
class Fixture {
  readonly dir = Deno.makeTempDirSync({ prefix: "realize_unreal_arena_" });
  readonly globalDb = openGlobalDatabase(`${this.dir}/cache.db`, {
    schemas: [GLOBAL_INODE_SCHEMA, GLOBAL_TREE_SCHEMA],
  });
  readonly db = openArenaDatabase(`${this.dir}/work`, parseArenaName("docs"), {
    schemas: ARENA_SCHEMAS,
  });
  readonly unreal = UnrealArena.open({
    name: parseArenaName("docs"),
    db: this.db,
    globalDb: this.globalDb,
    workdir: `${this.dir}/work`,
    diskUsage: null,
  });

  static setup(): Fixture {
    return new Fixture();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.unreal.close();
    this.db.close();
    this.globalDb.close();
    await Deno.remove(this.dir, { recursive: true });
  }
}

const add = (path: string, content: string, secs = 1000) => ({
  kind: "add" as const,
  index: 0,
  path: p(path),
  size: content.length,
  mtime: UnixTime.of(secs),
  hash: h(content),
});

Deno.test("UnrealArena.apply() retires the cached blob of a replaced version", async () => {
  await using f = Fixture.setup();
  f.unreal.apply(A, [add("doc", "v1")], { storeId: "s", lastIndex: 1 });
  const blob = f.unreal.blobs.open(h("v1"), 2);
  assert.equal(blob.write(0, new TextEncoder().encode("v1")), "stored");
  await blob.close();
  assert.equal(f.unreal.blobs.get(h("v1"))?.area, "working");
  f.unreal.apply(A, [{ ...add("doc", "v2"), kind: "replace", oldHash: h("v1") }]);
  assert.equal(f.unreal.blobs.get(h("v1"))?.area, "pending");
});

Deno.test("UnrealArena.apply() keeps a blob another path still shows", async () => {
  await using f = Fixture.setup();
  f.unreal.apply(A, [add("one", "same"), add("two", "same")]);
  const blob = f.unreal.blobs.open(h("same"), 4);
  blob.write(0, new TextEncoder().encode("same"));
  await blob.close();
  f.unreal.apply(A, [{ kind: "remove", index: 0, path: p("one"), oldHash: h("same") }]);
  assert.equal(f.unreal.blobs.get(h("same"))?.area, "working");
  f.unreal.apply(A, [{ kind: "remove", index: 0, path: p("two"), oldHash: h("same") }]);
  assert.equal(f.unreal.blobs.get(h("same"))?.area, "pending");
});

Deno.test("a catch-up that drops a version retires its blob", async () => {
  await using f = Fixture.setup();
  f.unreal.apply(A, [add("old", "old")]);
  const blob = f.unreal.blobs.open(h("old"), 3);
  blob.write(0, new TextEncoder().encode("old"));
  await blob.close();
  f.unreal.catchupStart(A);
  f.unreal.catchupFiles(A, [{ path: p("new"), hash: h("new"), size: 3, mtime: UnixTime.of(9) }]);
  assert.equal(f.unreal.catchupComplete(A, { storeId: "s2", lastIndex: 7 }), 1);
  assert.equal(f.unreal.blobs.get(h("old"))?.area, "pending");
  assert.equal(f.unreal.view.lookup(f.unreal.view.root, "old"), null);
  assert.notEqual(f.unreal.view.lookup(f.unreal.view.root, "new"), null);
});

Deno.test("listDir() shows peers' versions, the cached share and the status text", async () => {
  await using f = Fixture.setup();
  f.unreal.apply(A, [add("dir/file", "0123456789", 2000)]);
  f.unreal.apply(B, [add("dir/file", "older", 1000), add("dir/sub/x", "x")]);
  const blob = f.unreal.blobs.open(h("0123456789"), 10);
  blob.write(0, new TextEncoder().encode("0123"));
  await blob.close();
  const entries = f.db.read((tx) => listDir(tx, p("dir")));
  assert.deepEqual(entries.map((e) => `${e.kind} ${e.name}`), ["file file", "dir sub"]);
  const file = entries[0]!;
  assert.equal(file.remote?.peer, "a");
  assert.deepEqual(file.peers.map((v) => `${v.peer}:${v.size}`), ["a:10", "b:5"]);
  assert.equal(file.cached?.bytes, 4);
  assert.equal(statusText(file), "remote 40%");
  assert.deepEqual(f.db.read((tx) => listPath(tx, p("dir/file"))), file);
  assert.equal(f.db.read((tx) => listPath(tx, p("dir/sub")))?.kind, "dir");
  assert.equal(f.db.read((tx) => listPath(tx, p("nothing"))), null);
});
