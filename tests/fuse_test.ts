// The realize filesystem on a real FUSE mount, with a real peer over TLS serving the
// remote files: listing, on-demand reads into the cache, offline reads, xattrs, EROFS,
// invalidation of changed files, and a clean unmount.
// deno-lint-ignore-file no-sync-fn-in-async-fn
// Files on the mount are read with async calls only: the mount is served by this process,
// and a synchronous read would block the thread that answers the FUSE worker.
import assert from "node:assert/strict";
import { mountedAt } from "../ffi/libc/mod.ts";
import { FuseMount, RemoteReader } from "../src/fs/mod.ts";
import { DOCS, TestPeer, until } from "../src/net/_peer_testing.ts";
import { Hash, paths } from "../src/types/mod.ts";
import { defaultVersion } from "../src/unreal/mod.ts";
import { run, tempDir } from "./helpers.ts";

const HAS_FUSE = Deno.uid() === 0 && (() => {
  try {
    return Deno.statSync("/dev/fuse") !== null;
  } catch {
    return false;
  }
})();

const enc = new TextEncoder();
const h = (s: string) => Hash.of(enc.encode(s));

/** A serves files; B (no datadir of its own... or with one) mounts the FUSE view. */
async function setup(files: Record<string, string>, bFiles: Record<string, string> = {}) {
  const a = await TestPeer.start("a", { files });
  const b = await TestPeer.start("b", { files: bFiles });
  await a.settled();
  await b.settled();
  const ha = await a.join([b.asPeer()]);
  await b.join([a.asPeer({ port: ha.port })], { listen: null });
  for (const [path, content] of Object.entries(files)) {
    await until(() => {
      const d = b.db.read((tx) => defaultVersion(tx, paths.parse(path)));
      return d?.hash?.equals(h(content)) === true;
    }, `b knows ${path}`);
  }
  const mnt = Deno.makeTempDirSync({ prefix: "realize_mnt_" });
  const reader = new RemoteReader(
    new Map([[DOCS, { unreal: b.unreal, mark: "watch" }]]),
    () => b.household,
    { peerWaitMs: 300 },
  );
  const mount = await FuseMount.start({
    mountpoint: mnt,
    globalDb: `${b.dir}/cache.db`,
    arenas: [{ name: DOCS, workdir: `${b.dir}/work`, datadir: b.datadir, mark: "watch" }],
    reader,
  });
  return {
    a,
    b,
    mnt,
    mount,
    reader,
    async [Symbol.asyncDispose]() {
      await mount.unmount();
      await reader.close();
      assert.equal(mountedAt(mnt), null, "nothing left mounted");
      Deno.removeSync(mnt, { recursive: true });
      await b[Symbol.asyncDispose]();
      await a[Symbol.asyncDispose]();
    },
  };
}

Deno.test({
  name: "the mount lists arenas and the union of local and remote files, read on demand",
  ignore: !HAS_FUSE,
  fn: async () => {
    const big = "0123456789abcdef".repeat(256 * 1024); // 4 MiB: several chunks
    await using s = await setup({ "remote.txt": "from a", "dir/big.bin": big }, {
      "local.txt": "mine",
    });
    assert.deepEqual((await run(["ls", s.mnt])).stdout.split("\n").filter((x) => x), ["docs"]);
    const ls = (await run(["ls", `${s.mnt}/docs`])).stdout.split("\n").filter((x) => x);
    assert.deepEqual(ls, ["dir", "local.txt", "remote.txt"]);
    const xattr = async (path: string, name: string) => {
      const r = await run(["getfattr", "--only-values", "-n", name, `${s.mnt}/docs/${path}`]);
      return r.code === 0 ? r.stdout : r.stderr;
    };
    assert.equal(await xattr("dir/big.bin", "user.realize.status"), "remote 0%");
    assert.match(await xattr("dir", "user.realize.status"), /No such attribute/);
    assert.match(await xattr("dir", "user.realize.version"), /No such attribute/);
    assert.equal(await Deno.readTextFile(`${s.mnt}/docs/local.txt`), "mine");
    assert.equal(await Deno.readTextFile(`${s.mnt}/docs/remote.txt`), "from a");
    const got = await Deno.readTextFile(`${s.mnt}/docs/dir/big.bin`);
    assert.equal(got.length, big.length);
    assert.ok(got === big, "every byte of a 4 MiB remote file");
    const st = await Deno.stat(`${s.mnt}/docs/dir/big.bin`);
    assert.equal(st.size, big.length);
    assert.equal(st.mode! & 0o777, 0o644);
    assert.match(await xattr("dir/big.bin", "user.realize.status"), /^remote 100%/);
    assert.equal(await xattr("remote.txt", "user.realize.version"), h("from a").toString());
    assert.equal(await xattr("local.txt", "user.realize.status"), "local");
  },
});

Deno.test({
  name: "cached ranges are served offline; uncached reads fail with EIO, never hang",
  ignore: !HAS_FUSE,
  fn: async () => {
    const second = "second file, never read";
    await using s = await setup({ "read.txt": "read me once", "unread.txt": second });
    assert.equal(await Deno.readTextFile(`${s.mnt}/docs/read.txt`), "read me once");
    await s.a.leave(); // the only peer goes away
    await until(() => !s.b.household!.peers()[0]!.connected, "b sees a leave");
    // Drop the kernel's page cache for the file: the read must come from our blob cache.
    await Deno.writeTextFile("/proc/sys/vm/drop_caches", "1").catch(() => {});
    assert.equal(await Deno.readTextFile(`${s.mnt}/docs/read.txt`), "read me once");
    const started = Date.now();
    const r = await run(["cat", `${s.mnt}/docs/unread.txt`]);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /Input\/output error/);
    assert.ok(Date.now() - started < 10_000, "a bounded wait");
  },
});

Deno.test({
  name: "marks are read and set through user.realize.mark; writes are refused with EROFS",
  ignore: !HAS_FUSE,
  fn: async () => {
    await using s = await setup({ "d/f.txt": "f" });
    const file = `${s.mnt}/docs/d/f.txt`;
    const get = async (p: string) =>
      (await run(["getfattr", "--only-values", "-n", "user.realize.mark", p])).stdout;
    assert.equal(await get(file), "watch (inherited)");
    assert.equal(
      (await run(["setfattr", "-n", "user.realize.mark", "-v", "own", `${s.mnt}/docs/d`])).code,
      0,
    );
    assert.equal(await get(`${s.mnt}/docs/d`), "own");
    assert.equal(await get(file), "own (inherited)");
    assert.equal((await run(["setfattr", "-n", "user.realize.mark", "-v", "keep", file])).code, 0);
    assert.equal(await get(file), "keep");
    const bad = await run(["setfattr", "-n", "user.realize.mark", "-v", "mine", file]);
    assert.match(bad.stderr, /Invalid argument/);
    assert.equal((await run(["setfattr", "-x", "user.realize.mark", file])).code, 0);
    assert.equal(await get(file), "own (inherited)");
    const names = (await run(["getfattr", "-d", "-m", "user.realize", file])).stdout;
    assert.match(names, /user.realize.mark/);
    assert.match(names, /user.realize.status/);
    const write = await run(["sh", "-c", `echo x >> ${file}`]);
    assert.match(write.stderr, /Read-only file system/);
    assert.match((await run(["rm", file])).stderr, /Read-only file system/);
  },
});

Deno.test({
  name: "a remote change is visible through the mount (caches invalidated or expired)",
  ignore: !HAS_FUSE,
  fn: async () => {
    await using s = await setup({ "doc.txt": "version 1" });
    assert.equal(await Deno.readTextFile(`${s.mnt}/docs/doc.txt`), "version 1");
    s.a.write("doc.txt", "version 2, longer");
    s.a.write("new.txt", "brand new");
    const reads = async (p: string, want: string) => {
      const deadline = Date.now() + 15_000;
      while (await Deno.readTextFile(`${s.mnt}/docs/${p}`).catch(() => "") !== want) {
        if (Date.now() > deadline) throw new Error(`Timed out waiting for ${p} = ${want}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    };
    await reads("doc.txt", "version 2, longer");
    await reads("new.txt", "brand new");
  },
});

Deno.test({
  name: "a stale mount left by a killed daemon is cleared at start-up",
  ignore: !HAS_FUSE,
  fn: async () => {
    using tmp = tempDir();
    const mnt = `${tmp.path}/mnt`;
    Deno.mkdirSync(mnt);
    // A FUSE daemon killed by SIGKILL leaves its mount "not connected": make one.
    const script = `
      const w = new Worker(${
      JSON.stringify(new URL("../ffi/fuse3/testdata/memfs_worker.ts", import.meta.url).href)
    }, { type: "module" });
      w.onmessage = () => console.log("mounted");
      w.postMessage({ mount: ${JSON.stringify(mnt)} });
      setInterval(() => {}, 1000);`;
    const holder = new Deno.Command(Deno.execPath(), { args: ["eval", script], stdout: "piped" })
      .spawn();
    const reader = holder.stdout.getReader();
    await reader.read();
    holder.kill("SIGKILL");
    await holder.status;
    reader.releaseLock();
    assert.equal(mountedAt(mnt), "fuse.realize", "the dead mount is still there");
    await using s2 = await setup({ "x": "x" });
    const reader2 = new RemoteReader(new Map(), () => null);
    const m = await FuseMount.start({
      mountpoint: mnt,
      globalDb: `${s2.b.dir}/cache.db`,
      arenas: [{ name: DOCS, workdir: `${s2.b.dir}/work`, datadir: s2.b.datadir, mark: "watch" }],
      reader: reader2,
    });
    assert.deepEqual((await run(["ls", mnt])).stdout.trim(), "docs");
    await m.unmount();
    assert.equal(mountedAt(mnt), null);
  },
});

// Behaviours of the upstream filesystem's tests (operations.rs: root_dir, arena_dir,
// file_attrs, file_not_found, large_dir), on the real mount.
Deno.test({
  name:
    "attributes: root 0555, directories 0755, files with the peer's size and mtime; missing names ENOENT",
  ignore: !HAS_FUSE,
  fn: async () => {
    await using s = await setup({ "d/e/f.txt": "twelve bytes" });
    const onA = await Deno.stat(`${s.a.datadir}/d/e/f.txt`);
    // The root lists the arenas and nothing can be made there: read-only.
    assert.equal((await Deno.stat(s.mnt)).mode! & 0o777, 0o555, "root mode");
    for (const dir of [`${s.mnt}/docs`, `${s.mnt}/docs/d`, `${s.mnt}/docs/d/e`]) {
      const st = await Deno.stat(dir);
      assert.ok(st.isDirectory, `${dir} is a directory`);
      assert.equal(st.mode! & 0o777, 0o755, `${dir} mode`);
    }
    const st = await Deno.stat(`${s.mnt}/docs/d/e/f.txt`);
    assert.ok(st.isFile);
    assert.equal(st.size, 12);
    assert.equal(st.mtime?.getTime(), onA.mtime?.getTime(), "the peer's mtime");
    assert.equal(st.nlink, 1);
    for (const missing of ["docs/nope", "nope", "docs/d/nope/f"]) {
      await assert.rejects(Deno.stat(`${s.mnt}/${missing}`), Deno.errors.NotFound, missing);
    }
    await assert.rejects(Deno.stat(`${s.mnt}/docs/d/e/f.txt/x`), Deno.errors.NotADirectory);
    // Inodes are stable: the same file answers with the same inode on every lookup.
    assert.equal((await Deno.stat(`${s.mnt}/docs/d/e/f.txt`)).ino, st.ino);
  },
});

Deno.test({
  name: "a directory of 2,000 remote entries lists every name once, through ls and find",
  ignore: !HAS_FUSE,
  fn: async () => {
    const files: Record<string, string> = {};
    for (let i = 0; i < 2000; i++) files[`many/f${String(i).padStart(4, "0")}`] = `${i}`;
    await using s = await setup({ "many/last": "x" });
    for (const [p, c] of Object.entries(files)) s.a.write(p, c);
    await until(() => {
      const d = s.b.db.read((tx) => defaultVersion(tx, paths.parse("many/f1999")));
      return d?.hash?.equals(h("1999")) === true;
    }, "b knows 2,000 files");
    await until(
      () =>
        s.b.db.read((tx) => tx.get<{ n: number }>("SELECT count(*) AS n FROM unreal_default"))!
          .n === 2001,
      "b knows every file",
    );
    const names = (await run(["ls", "-f", `${s.mnt}/docs/many`])).stdout.split("\n")
      .filter((x) => x !== "" && x !== "." && x !== "..");
    assert.equal(names.length, 2001);
    assert.equal(new Set(names).size, 2001, "no name twice");
    assert.deepEqual(names.sort(), [...Object.keys(files).map((p) => p.slice(5)), "last"].sort());
    const found = (await run(["find", `${s.mnt}/docs/many`, "-type", "f"])).stdout.trim().split(
      "\n",
    );
    assert.equal(found.length, 2001);
    assert.equal(await Deno.readTextFile(`${s.mnt}/docs/many/f1234`), "1234");
  },
});
