// The real, end to end on a real datadir: catch-up scan, inotify, hashing in workers,
// history. Ports the upstream watcher table (upstream.md §3.7).
// Sync filesystem calls on purpose: each change must be complete before the next step.
// deno-lint-ignore-file no-sync-fn-in-async-fn
import assert from "node:assert/strict";
import {
  IN,
  type InotifyEvent,
  MNT,
  mount,
  setXattr,
  umount,
  WatchLimitReached,
} from "../../ffi/libc/mod.ts";
import { paths } from "../types/mod.ts";
import { hashOf, RealFixture, waitUntil } from "./_testing.ts";

const encoder = new TextEncoder();

async function started(options: Parameters<typeof RealFixture.setup>[0] = {}) {
  const f = RealFixture.setup(options);
  await f.arena.start();
  return f;
}

Deno.test("start() indexes every file with its hash; history says add, then add with the hash", async () => {
  await using f = await started({
    files: { "a.txt": "alpha", "d/b.txt": "beta", "d/e/c:colon": "" },
  });
  await f.hashed("a.txt", "alpha");
  await f.hashed("d/b.txt", "beta");
  await f.hashed("d/e/c:colon", "");
  assert.deepEqual(f.changes().sort(), [
    "add a.txt",
    "add a.txt",
    "add d/b.txt",
    "add d/b.txt",
    "add d/e/c:colon",
    "add d/e/c:colon",
  ]);
  const adds = f.notifications().filter((n) => n.path === "a.txt");
  assert.equal(adds.length, 2);
  for (const n of adds) {
    assert.equal(n.kind, "add");
    if (n.kind === "add") assert.ok(n.hash?.equals(hashOf("alpha")));
  }
});

Deno.test("a new file is announced before it is hashed (#musthash)", async () => {
  const gate = Promise.withResolvers<void>();
  const pool = {
    async hashFile(path: string) {
      await gate.promise;
      const data = await Deno.readFile(path);
      const { Hash } = await import("../types/mod.ts");
      return { hash: Hash.of(data), size: data.length, bytesRead: data.length };
    },
  };
  await using f = await started({ pool });
  f.write("new.txt", "soon");
  await waitUntil(() => f.entry("new.txt") !== null, "new.txt seen");
  const pending = f.notifications();
  assert.equal(pending.length, 1);
  assert.equal(pending[0]?.kind, "add");
  assert.equal(pending[0]?.kind === "add" && pending[0].hash, null);
  assert.equal(pending[0]?.kind === "add" && pending[0].size, 4);
  gate.resolve();
  await f.hashed("new.txt", "soon");
  assert.deepEqual(f.changes(), ["add new.txt", "add new.txt"]);
});

Deno.test("a restart with nothing changed rehashes nothing and records nothing", async () => {
  await using f = await started({ files: { "a": "1", "b/c": "2" } });
  await f.hashed("a", "1");
  await f.hashed("b/c", "2");
  await f.settled();
  const before = f.changes();
  await f.close();
  const calls: string[] = [];
  f.open({
    hashFile: (p, o) => {
      calls.push(p);
      return f.pool.hashFile(p, o);
    },
  });
  await f.arena.start();
  await f.settled();
  assert.deepEqual(f.changes(), before);
  assert.deepEqual(calls, []);
});

Deno.test("start() finds what changed while the daemon was down", async () => {
  await using f = await started({
    files: { keep: "same", grow: "v1", samesize: "aaaa", gone: "x" },
  });
  await f.hashed("grow", "v1");
  await f.hashed("samesize", "aaaa");
  await f.settled();
  const mark = f.history().length;
  await f.close();
  f.write("grow", "version 2");
  const st = Deno.statSync(f.abs("samesize"));
  f.write("samesize", "bbbb");
  Deno.utimeSync(f.abs("samesize"), st.atime!, new Date(st.mtime!.getTime() + 1000));
  Deno.removeSync(f.abs("gone"));
  f.write("added", "new");
  f.open();
  await f.arena.start();
  await f.hashed("grow", "version 2");
  await f.hashed("samesize", "bbbb");
  await f.hashed("added", "new");
  assert.equal(f.entry("gone"), null);
  assert.deepEqual(f.changes(mark).sort(), [
    "add added",
    "add added",
    "remove gone",
    "replace grow",
    "replace samesize",
  ]);
});

Deno.test("live: create, modify, touch and delete", async () => {
  await using f = await started();
  f.write("f", "one");
  await f.hashed("f", "one");
  f.write("f", "two, longer");
  await f.hashed("f", "two, longer");
  const mark = f.history().length;
  const st = Deno.statSync(f.abs("f"));
  Deno.utimeSync(f.abs("f"), st.atime!, new Date(st.mtime!.getTime() + 5000));
  await waitUntil(() => f.entry("f")?.mtime.toMillis() === st.mtime!.getTime() + 5000, "touch");
  await f.hashed("f", "two, longer");
  await f.settled();
  assert.deepEqual(f.changes(mark), [], "touch without a content change records nothing");
  Deno.removeSync(f.abs("f"));
  await waitUntil(() => f.entry("f") === null, "f removed");
  assert.deepEqual(f.changes(), ["add f", "add f", "replace f", "remove f"]);
  const replace = f.history()[2];
  assert.ok(replace?.kind === "replace" && replace.oldHash?.equals(hashOf("one")));
  const remove = f.history()[3];
  assert.ok(remove?.kind === "remove" && remove.oldHash?.equals(hashOf("two, longer")));
});

Deno.test("live: renames within and across directories keep the hash (no rehash)", async () => {
  await using f = await started({ files: { "a/one": "1", "b/.keep": "" } });
  await f.hashed("a/one", "1");
  await f.settled();
  const mark = f.history().length;
  Deno.renameSync(f.abs("a/one"), f.abs("a/two"));
  await waitUntil(() => f.entry("a/two")?.hash?.equals(hashOf("1")) === true, "rename in dir");
  Deno.renameSync(f.abs("a/two"), f.abs("b/three"));
  await waitUntil(() => f.entry("b/three")?.hash?.equals(hashOf("1")) === true, "rename across");
  await f.settled();
  assert.equal(f.entry("a/one"), null);
  assert.equal(f.entry("a/two"), null);
  assert.deepEqual(f.changes(mark), ["rename a/one -> a/two", "rename a/two -> b/three"]);
});

Deno.test("live: a directory rename renames every file under it", async () => {
  await using f = await started({ files: { "d/x": "x", "d/sub/y": "y" } });
  await f.hashed("d/x", "x");
  await f.hashed("d/sub/y", "y");
  await f.settled();
  const mark = f.history().length;
  Deno.renameSync(f.abs("d"), f.abs("moved"));
  await waitUntil(() => f.entry("moved/sub/y") !== null && f.entry("d/x") === null, "dir rename");
  await f.settled();
  assert.deepEqual(f.changes(mark).sort(), [
    "rename d/sub/y -> moved/sub/y",
    "rename d/x -> moved/x",
  ]);
});

Deno.test("live: trees moved into and out of the datadir", async () => {
  await using f = await started();
  const outside = `${f.dir}/outside`;
  Deno.mkdirSync(`${outside}/t/u`, { recursive: true });
  Deno.writeTextFileSync(`${outside}/t/one`, "1");
  Deno.writeTextFileSync(`${outside}/t/u/two`, "2");
  Deno.renameSync(`${outside}/t`, f.abs("t"));
  await f.hashed("t/one", "1");
  await f.hashed("t/u/two", "2");
  Deno.renameSync(f.abs("t"), `${outside}/back`);
  await waitUntil(() => f.entry("t/one") === null && f.entry("t/u/two") === null, "moved out");
  const tail = f.changes().slice(-2).sort();
  assert.deepEqual(tail, ["remove t/one", "remove t/u/two"]);
});

Deno.test("live: mkdir -p then rm -r", async () => {
  await using f = await started();
  Deno.mkdirSync(f.abs("a/b/c"), { recursive: true });
  f.write("a/b/c/deep", "deep");
  f.write("a/top", "top");
  await f.hashed("a/b/c/deep", "deep");
  await f.hashed("a/top", "top");
  Deno.removeSync(f.abs("a"), { recursive: true });
  await waitUntil(() => f.entry("a/b/c/deep") === null && f.entry("a/top") === null, "rm -r");
  await f.settled();
  assert.deepEqual(f.notifications().map((n) => n.kind), ["remove", "remove"]);
});

Deno.test("symlinks, fifos and paths through symlinked directories are never indexed", async () => {
  await using f = await started({ files: { "real/f": "f" } });
  await f.hashed("real/f", "f");
  Deno.symlinkSync(f.abs("real/f"), f.abs("link"));
  Deno.symlinkSync(f.abs("real"), f.abs("dirlink"));
  await new Deno.Command("mkfifo", { args: [f.abs("fifo")] }).output();
  f.write("after", "sentinel");
  await f.hashed("after", "sentinel");
  await f.settled();
  for (const p of ["link", "dirlink", "dirlink/f", "fifo"]) assert.equal(f.entry(p), null, p);
  // A file replaced by a symlink is removed.
  Deno.removeSync(f.abs("after"));
  Deno.symlinkSync(f.abs("real/f"), f.abs("after"));
  await waitUntil(() => f.entry("after") === null, "file replaced by a symlink");
});

Deno.test("a hard link is recorded as a branch of the same content", async () => {
  await using f = await started({ files: { orig: "shared content" } });
  await f.hashed("orig", "shared content");
  await f.settled();
  const mark = f.history().length;
  Deno.linkSync(f.abs("orig"), f.abs("copy"));
  await waitUntil(() => f.entry("copy")?.hash?.equals(hashOf("shared content")) === true, "link");
  await f.settled();
  assert.deepEqual(f.changes(mark), ["branch orig -> copy"]);
  assert.notEqual(f.entry("orig"), null);
});

Deno.test("excluded paths (the global database inside the datadir) are never indexed", async () => {
  await using f = await started({
    files: { "cache.db": "db", "cache.db-wal": "w", "ok": "ok" },
    arena: (f) => ({ excluded: [f.abs("cache.db"), f.abs("cache.db-wal")] }),
  });
  await f.hashed("ok", "ok");
  f.write("cache.db", "changed");
  f.write("after", "a");
  await f.hashed("after", "a");
  await f.settled();
  assert.equal(f.entry("cache.db"), null);
  assert.equal(f.entry("cache.db-wal"), null);
});

Deno.test("marks from user.realize.mark xattrs: catch-up, live set, change and removal", async () => {
  const { setXattr, removeXattr } = await import("../../ffi/libc/mod.ts");
  await using f = RealFixture.setup({ files: { "docs/a": "a", "b": "b", "bad": "x" } });
  setXattr(f.abs("docs"), "user.realize.mark", "own");
  setXattr(f.abs("bad"), "user.realize.mark", "mine");
  await f.arena.start();
  assert.equal(f.mark("docs"), "own");
  assert.equal(f.mark("docs/a"), "own", "inherited from the directory");
  assert.equal(f.mark("bad"), "watch", "an invalid value is ignored");
  setXattr(f.abs("b"), "user.realize.mark", "keep");
  await waitUntil(() => f.mark("b") === "keep", "live set");
  setXattr(f.abs("b"), "user.realize.mark", "own");
  await waitUntil(() => f.mark("b") === "own", "live change");
  removeXattr(f.abs("b"), "user.realize.mark");
  await waitUntil(() => f.mark("b") === "watch", "live removal");
  removeXattr(f.abs("docs"), "user.realize.mark");
  await waitUntil(() => f.mark("docs/a") === "watch", "directory mark removed");
});

/** An inotify twin: every addWatch succeeds (or fails), events are injected. */
function fakeInotify(options: { limit?: boolean } = {}) {
  const queue: InotifyEvent[] = [];
  let wake: ((ready: boolean) => void) | null = null;
  let next = 1;
  return {
    inject(e: InotifyEvent) {
      queue.push(e);
      wake?.(true);
    },
    make: () => ({
      addWatch(path: string) {
        if (options.limit) throw new WatchLimitReached(`inotify_add_watch("${path}")`, 28);
        return next++;
      },
      removeWatch() {},
      read: () => queue.splice(0),
      wait: (ms: number) =>
        new Promise<boolean>((resolve) => {
          const timer = setTimeout(() => resolve(false), ms);
          wake = (ready) => {
            clearTimeout(timer);
            resolve(ready);
          };
        }),
      close: () => Promise.resolve(wake?.(false)),
    }),
  };
}

Deno.test("a rescan event (inotify queue overflow) catches up with everything", async () => {
  const fake = fakeInotify();
  await using f = await started({ arena: { watch: fake.make } });
  f.write("unseen/a", "a");
  f.write("unseen/b", "b");
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(f.entry("unseen/a"), null, "no event, not seen yet");
  fake.inject({ wd: -1, mask: IN.Q_OVERFLOW, cookie: 0, name: "" });
  await f.hashed("unseen/a", "a");
  await f.hashed("unseen/b", "b");
});

Deno.test("the inotify watch limit falls back to periodic scans", async () => {
  const fake = fakeInotify({ limit: true });
  await using f = await started({ arena: { watch: fake.make, pollIntervalMs: 50 } });
  assert.equal(f.arena.status().state, "polling");
  f.write("polled", "p");
  await f.hashed("polled", "p");
});

Deno.test("a file that changes while it is hashed is hashed again, never recorded stale", async () => {
  const { Hash } = await import("../types/mod.ts");
  let first = true;
  const pool = {
    async hashFile(path: string) {
      const data = await Deno.readFile(path);
      if (first) {
        first = false; // a write lands while "hashing"
        await Deno.writeTextFile(path, "changed!");
      }
      return { hash: Hash.of(data), size: data.length, bytesRead: data.length };
    },
  };
  await using f = await started({ pool });
  f.write("racy", "original");
  await f.hashed("racy", "changed!");
  const hashes = f.notifications().flatMap((n) => n.kind === "add" && n.hash ? [n.hash] : []);
  assert.ok(hashes.every((h) => h.equals(hashOf("changed!"))), "no stale hash announced");
  assert.equal(encoder.encode("original").length, encoder.encode("changed!").length);
});

Deno.test("a missing datadir stops start() with an error instead of removing everything", async () => {
  await using f = await started({ files: { keep: "k" } });
  await f.hashed("keep", "k");
  await f.close();
  Deno.renameSync(f.datadir, `${f.datadir}.away`);
  f.open();
  await assert.rejects(f.arena.start(), /Cannot scan datadir ".*": it is gone/);
  assert.notEqual(f.entry("keep"), null);
  Deno.renameSync(`${f.datadir}.away`, f.datadir);
});

Deno.test("stop() during the catch-up scan ends it: start() rejects and nothing runs on", async () => {
  // 64 directories: the scan yields every 16, where it sees the stop.
  const files = Object.fromEntries(Array.from({ length: 64 }, (_, i) => [`d${i}/f`, `${i}`]));
  await using f = RealFixture.setup({ files });
  const starting = f.arena.start();
  const stopping = f.arena.stop();
  await assert.rejects(starting, (e: Error) => e.name === "AbortError");
  assert.equal(f.arena.stop(), stopping, "every stop() waits for the same one");
  await stopping;
  const s = f.arena.status();
  assert.equal(s.state, "stopped");
  assert.ok(s.files > 0 && s.files < 64, `the scan ended part way: ${s.files} of 64 files`);
});

Deno.test("a directory that cannot be read keeps what is indexed under it", async () => {
  await using f = await started({ files: { "locked/a": "a", "open/b": "b" } });
  await f.hashed("locked/a", "a");
  await f.hashed("open/b", "b");
  await f.close();
  f.open();
  // As root every directory is readable: make the datadir answer as a locked one does.
  const list = f.arena.datadir.list.bind(f.arena.datadir);
  f.arena.datadir.list = (dir) => dir === "locked" ? "unreadable" : list(dir);
  Deno.removeSync(f.abs("open/b"));
  await f.arena.start();
  await waitUntil(() => f.entry("open/b") === null, "open/b removed");
  assert.notEqual(f.entry("locked/a"), null);
});

Deno.test("a name that is not valid UTF-8 is skipped; the rest is indexed", async () => {
  await using f = RealFixture.setup({ files: { "fine": "ok" } });
  const made = await new Deno.Command("sh", {
    args: ["-c", `printf x > "$1/$(printf 'bad\\377name')"`, "sh", f.datadir],
  }).output();
  assert.equal(made.code, 0);
  await f.arena.start();
  await f.hashed("fine", "ok");
  await f.settled();
  assert.equal(f.arena.status().files, 1);
});

Deno.test("a burst of 3,000 files written at once is indexed completely", async () => {
  await using f = await started({ files: { "burst/.keep": "" } });
  await f.settled();
  for (let i = 0; i < 3000; i++) Deno.writeTextFileSync(f.abs(`burst/f${i}`), `content ${i}`);
  await waitUntil(() => f.arena.status().files === 3001 && f.arena.idle(), "3,000 files indexed");
  for (const i of [0, 1499, 2999]) await f.hashed(`burst/f${i}`, `content ${i}`);
  assert.equal(f.arena.status().pending, 0);
});

Deno.test("deleteLocal() deletes an unmodified file and records drop, nothing else", async () => {
  await using f = await started({
    files: { "old.txt": "v1", "edited.txt": "v1" },
    arena: (f) => ({ trashDir: `${f.workdir}/trash` }),
  });
  await f.hashed("old.txt", "v1");
  await f.hashed("edited.txt", "v1");
  await f.settled();
  const mark = f.history().length;
  assert.equal(await f.arena.deleteLocal(paths.parse("old.txt"), hashOf("v1"), "drop"), true);
  assert.equal(await exists(f.abs("old.txt")), false);
  f.write("edited.txt", "v2 by the user");
  assert.equal(await f.arena.deleteLocal(paths.parse("edited.txt"), hashOf("v1"), "drop"), false);
  assert.equal(Deno.readTextFileSync(f.abs("edited.txt")), "v2 by the user");
  await f.hashed("edited.txt", "v2 by the user");
  await f.settled();
  assert.deepEqual(f.changes(mark), ["drop old.txt", "replace edited.txt"]);
  assert.deepEqual([...Deno.readDirSync(`${f.workdir}/trash`)], [], "the trash is emptied");
});

async function exists(path: string): Promise<boolean> {
  return await Deno.stat(path).then(() => true, () => false);
}

Deno.test({
  name: "an overlay's metadata-only copy-up is not indexed, but its mark is; written, it is",
  ignore: Deno.uid() !== 0,
  fn: async () => {
    await using f = RealFixture.setup({
      files: { "local.txt": "mine" },
      arena: { overlayUpper: true },
    });
    // The datadir as the upper layer of a privileged overlay over a "remote" lower layer.
    const lower = `${f.dir}/lower`;
    const merged = `${f.dir}/merged`;
    for (const d of [lower, merged, `${f.dir}/ovl-work`]) Deno.mkdirSync(d);
    Deno.writeTextFileSync(`${lower}/remote.txt`, "from a peer");
    mount(
      "overlay",
      merged,
      "overlay",
      `lowerdir=${lower},upperdir=${f.datadir},workdir=${f.dir}/ovl-work,redirect_dir=on,metacopy=on`,
    );
    using _mounted = { [Symbol.dispose]: () => umount(merged, MNT.DETACH) };
    await f.arena.start();
    await f.hashed("local.txt", "mine");
    Deno.chmodSync(`${merged}/remote.txt`, 0o600); // metadata only: the datadir gets a metacopy
    assert.equal(Deno.statSync(f.abs("remote.txt")).size, 11, "a metacopy file is there");
    Deno.writeTextFileSync(`${merged}/marker.txt`, "after the chmod");
    await f.hashed("marker.txt", "after the chmod");
    await f.settled();
    assert.equal(f.entry("remote.txt"), null, "its zeros are not local content");
    // A mark set through the overlay lands on that metadata-only file, and counts.
    setXattr(`${merged}/remote.txt`, "user.realize.mark", "own");
    await waitUntil(() => f.mark("remote.txt") === "own", "the mark set through the overlay");
    assert.equal(f.entry("remote.txt"), null);
    Deno.writeTextFileSync(`${merged}/remote.txt`, "from a peer, edited");
    await f.hashed("remote.txt", "from a peer, edited");
  },
});

Deno.test("a new file over a version shown from a peer (baseOf) is announced as its replacement", async () => {
  const shown = hashOf("from a peer");
  await using f = RealFixture.setup({
    files: { "mine.txt": "mine" },
    arena: {
      baseOf: (_tx, path) => ["edited.txt", "same.txt", "saved.txt"].includes(path) ? shown : null,
    },
  });
  await f.arena.start();
  await f.hashed("mine.txt", "mine");
  f.write("edited.txt", "from a peer, edited");
  f.write("same.txt", "from a peer"); // copied up unchanged (a chmod in the userxattr mode)
  await f.hashed("edited.txt", "from a peer, edited");
  await f.hashed("same.txt", "from a peer");
  await f.settled();
  const told = f.notifications().filter((n) => n.path !== "mine.txt");
  const replaced = (path: string) => told.filter((n) => n.path === path && n.kind === "replace");
  for (
    const [path, content] of [["edited.txt", "from a peer, edited"], ["same.txt", "from a peer"]]
  ) {
    const r = replaced(path!);
    assert.equal(r.length, 1, `${path}: ${JSON.stringify(told.map((n) => `${n.kind} ${n.path}`))}`);
    if (r[0]!.kind === "replace") {
      assert.ok(r[0]!.oldHash?.equals(shown), "of the version shown");
      assert.ok(r[0]!.hash?.equals(hashOf(content!)));
    }
  }
  assert.deepEqual(f.changes().filter((c) => c.endsWith("mine.txt")), [
    "add mine.txt",
    "add mine.txt",
  ]);
  // An editor saving through a new file renamed over the remote one: new in the datadir.
  f.write(".saving.tmp", "saved by an editor");
  await f.hashed(".saving.tmp", "saved by an editor"); // the slow case: hashed before the rename
  Deno.renameSync(f.abs(".saving.tmp"), f.abs("saved.txt"));
  await f.hashed("saved.txt", "saved by an editor");
  await f.settled();
  const saved = f.notifications().filter((n) => n.path === "saved.txt" || n.path === ".saving.tmp")
    .map((n) => `${n.kind} ${n.path}`);
  assert.ok(saved.includes("replace saved.txt"), JSON.stringify(saved));
});
