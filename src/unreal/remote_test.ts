import assert from "node:assert/strict";
import { type Path, type PeerName, UnixTime } from "../types/mod.ts";
import { A, B, h, p, UnrealFixture } from "./_testing.ts";
import {
  applyNotification,
  catchupComplete,
  catchupStart,
  defaultVersion,
  peerAdded,
  peerAddedMany,
  peerFiles,
  peerProgress,
  remoteDir,
  type RemoteVersion,
  setPeerProgress,
} from "./remote.ts";
import { ensureNode } from "./tree.ts";

function shown(f: UnrealFixture, path: string): string | null {
  const d = f.db.read((tx) => defaultVersion(tx, p(path)));
  return d === null ? null : `${d.peer}:${d.hash?.toString().slice(0, 6) ?? "pending"}`;
}

const short = (s: string) => h(s).toString().slice(0, 6);

Deno.test("add: the first version reported becomes the default; others are recorded", () => {
  using f = UnrealFixture.setup();
  f.apply(A, f.add("doc", "v1"));
  f.apply(B, f.add("doc", "v1"));
  assert.equal(shown(f, "doc"), `a:${short("v1")}`);
  const entries = f.db.read((tx) => peerFiles(tx, p("doc")));
  assert.deepEqual(entries.map((e) => e.peer), ["a", "b"]);
  assert.deepEqual(f.dirty(), ["doc"]);
});

Deno.test("replace: the default follows one version chain, not a parallel one", () => {
  using f = UnrealFixture.setup();
  f.apply(A, f.add("doc", "v1"));
  f.apply(B, f.add("doc", "v1"));
  const replace = (content: string, old: string) => ({
    ...f.add("doc", content, 2000),
    kind: "replace" as const,
    oldHash: h(old),
  });
  f.apply(A, replace("v2 by a", "v1"));
  assert.equal(shown(f, "doc"), `a:${short("v2 by a")}`);
  f.apply(B, replace("v2 by b", "v1")); // B edited the old version: a parallel chain
  assert.equal(shown(f, "doc"), `a:${short("v2 by a")}`);
  const b = f.db.read((tx) => peerFiles(tx, p("doc"))).find((e) => e.peer === "b");
  assert.ok(b?.hash?.equals(h("v2 by b")), "B's own version is recorded");
  f.apply(B, replace("v3 by b", "v2 by a")); // B caught up and edited the current one
  assert.equal(shown(f, "doc"), `b:${short("v3 by b")}`);
});

Deno.test("remove: the default falls back to the newest version another peer has", () => {
  using f = UnrealFixture.setup();
  f.apply(A, f.add("doc", "mine", 3000));
  f.apply(B, f.add("doc", "theirs", 2000));
  f.apply(A, { kind: "remove", index: 0, path: p("doc"), oldHash: h("mine") });
  assert.equal(shown(f, "doc"), `b:${short("theirs")}`);
  f.apply(B, { kind: "remove", index: 0, path: p("doc"), oldHash: h("theirs") });
  assert.equal(shown(f, "doc"), null);
});

Deno.test("a remove of a version that is not the default changes only that peer's entry", () => {
  using f = UnrealFixture.setup();
  f.apply(A, f.add("doc", "v1"));
  f.apply(B, f.add("doc", "old"));
  f.apply(B, { kind: "remove", index: 0, path: p("doc"), oldHash: h("old") });
  assert.equal(shown(f, "doc"), `a:${short("v1")}`);
  assert.deepEqual(f.db.read((tx) => peerFiles(tx, p("doc"))).map((e) => e.peer), ["a"]);
});

Deno.test("a pending version is shown at once and gets its hash later (#musthash)", () => {
  using f = UnrealFixture.setup();
  f.apply(A, f.add("big.iso", null));
  assert.equal(shown(f, "big.iso"), "a:pending");
  f.apply(A, f.add("big.iso", "the content"));
  assert.equal(shown(f, "big.iso"), `a:${short("the content")}`);
  f.apply(B, f.add("other", null));
  f.apply(B, { kind: "remove", index: 0, path: p("other"), oldHash: null });
  assert.equal(shown(f, "other"), null, "a pending file removed before its hash");
});

Deno.test("drop: the default stays while another peer has that version", () => {
  using f = UnrealFixture.setup();
  f.apply(A, f.add("doc", "v1"));
  f.apply(B, f.add("doc", "v1"));
  f.apply(A, { kind: "drop", index: 0, path: p("doc"), oldHash: h("v1") });
  assert.equal(shown(f, "doc"), `b:${short("v1")}`);
  f.apply(B, { kind: "drop", index: 0, path: p("doc"), oldHash: h("v1") });
  assert.equal(shown(f, "doc"), null);
});

Deno.test("rename and branch move or copy a peer's version to the new path", () => {
  using f = UnrealFixture.setup();
  f.apply(A, f.add("from", "content"));
  f.apply(A, { kind: "rename", index: 0, path: p("from"), dest: p("to/here"), hash: h("content") });
  assert.equal(shown(f, "from"), null);
  assert.equal(shown(f, "to/here"), `a:${short("content")}`);
  const e = f.db.read((tx) => defaultVersion(tx, p("to/here")));
  assert.equal(e?.size, "content".length, "size and mtime come from the moved entry");
  f.apply(A, { kind: "branch", index: 0, path: p("to/here"), dest: p("copy"), hash: h("content") });
  assert.equal(shown(f, "copy"), `a:${short("content")}`);
  assert.equal(shown(f, "to/here"), `a:${short("content")}`);
});

Deno.test("directories exist while something is inside", () => {
  using f = UnrealFixture.setup();
  f.apply(A, f.add("a/b/one", "1", 10), f.add("a/b/two", "2", 20), f.add("a/x", "x", 5));
  const dir = (s: string) => f.db.read((tx) => remoteDir(tx, p(s)));
  assert.ok(dir("a/b")?.equals(UnixTime.of(20)), "mtime of the newest child");
  f.apply(A, { kind: "remove", index: 0, path: p("a/b/one"), oldHash: h("1") });
  assert.notEqual(dir("a/b"), null);
  f.apply(A, { kind: "remove", index: 0, path: p("a/b/two"), oldHash: h("2") });
  assert.equal(dir("a/b"), null);
  assert.notEqual(dir("a"), null, "a/x is still there");
  f.apply(A, { kind: "remove", index: 0, path: p("a/x"), oldHash: h("x") });
  assert.equal(dir("a"), null);
});

Deno.test("a catch-up removes what the peer no longer reports", () => {
  using f = UnrealFixture.setup();
  f.apply(A, f.add("kept", "k"), f.add("gone", "g"));
  f.db.write((tx) => {
    catchupStart(tx, A);
    peerAdded(tx, A, { path: p("kept"), hash: h("k"), size: 1, mtime: UnixTime.of(1000) });
    peerAdded(tx, A, { path: p("new"), hash: h("n"), size: 1, mtime: UnixTime.of(1000) });
    assert.equal(catchupComplete(tx, A), 1);
  });
  assert.equal(shown(f, "kept"), `a:${short("k")}`);
  assert.equal(shown(f, "new"), `a:${short("n")}`);
  assert.equal(shown(f, "gone"), null);
});

Deno.test("a peer's progress is kept per peer", () => {
  using f = UnrealFixture.setup();
  assert.equal(f.db.read((tx) => peerProgress(tx, A)), null);
  f.db.write((tx) => setPeerProgress(tx, A, "store1", 42));
  assert.deepEqual(f.db.read((tx) => peerProgress(tx, A)), { storeId: "store1", lastIndex: 42 });
  assert.equal(f.db.read((tx) => peerProgress(tx, B)), null);
});

/** Every table a batch of reports touches, in a stable order. */
function dump(f: UnrealFixture): Record<string, unknown[]> {
  const tables = {
    unreal_default: "path",
    unreal_peer_file: "path, peer",
    unreal_dir: "path",
    unreal_node: "ino",
    dirty_log: "counter",
    dirty_counter: "id",
    inode_current: "id",
  };
  return f.db.read((tx) =>
    Object.fromEntries(
      Object.entries(tables).map((
        [t, order],
      ) => [t, tx.all(`SELECT * FROM ${t} ORDER BY ${order}`)]),
    )
  );
}

Deno.test("peerAddedMany() leaves the state peerAdded() leaves file by file", () => {
  const file = (path: string, content: string | null, secs = 1000) => ({
    path: p(path),
    hash: content === null ? null : h(content),
    size: content?.length ?? 7,
    mtime: UnixTime.of(secs, secs % 7),
  });
  const before: [PeerName, ReturnType<typeof file>][] = [
    [B, file("d/x", "x")], // another peer's default
    [A, file("d/y", null)], // pending: gets its hash below
    [A, file("e/z", "z", 900)], // the same version, reported with a new mtime
    [A, file("same", "s")], // reported again unchanged
  ];
  const batch: ({ path: Path } & RemoteVersion)[] = [
    file("a/b/c/new", "1", 3000),
    file("a/b/new", "2", 1000),
    file("a/b/new2", "3", 5000),
    file("a/x", "4", 2000),
    file("d/x", "x"),
    file("d/y", "y"),
    file("dup", "first"),
    file("dup", "second"),
    file("e/z", "z", 950),
    file("local/f", "l"),
    file("n/m/first", "5", 1000), // "n" gets the mtime of the entry that made "n/m"
    file("n/m/newer", "6", 4000),
    file("root", "r"),
    file("same", "s"),
  ];
  const replaced: unknown[] = [];
  const states = [false, true].map((batched) => {
    const f = UnrealFixture.setup();
    const alloc = f.arena.alloc;
    f.db.write((tx) => {
      for (const [peer, v] of before) {
        applyNotification(tx, peer, { kind: "add", index: 0, ...v }, alloc);
      }
      ensureNode(tx, p("local/f"), alloc); // a local file's node: no remote default yet
    });
    f.db.write((tx) => {
      if (batched) replaced.push(...peerAddedMany(tx, A, batch, alloc));
      else for (const v of batch) peerAdded(tx, A, v, alloc);
    });
    const state = dump(f);
    f[Symbol.dispose]();
    return state;
  });
  assert.deepEqual(states[1], states[0]);
  assert.deepEqual(replaced, [{ path: p("e/z"), before: h("z") }]);
  assert.ok((states[0]!.dirty_log?.length ?? 0) > batch.length - 4, "the batch marked paths dirty");
});
