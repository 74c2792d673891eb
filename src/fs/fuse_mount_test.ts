// The FUSE mount's read path on a real mount (root only): the read-ahead it sets, and
// cached bytes served by the worker itself, with the main thread told the file is in use.
// Files on the mount are read by other processes (`dd`, `cat`): this process serves it.
import assert from "node:assert/strict";
import { mountDevice, mountedAt } from "../../ffi/libc/mod.ts";
import type { Household } from "../net/mod.ts";
import { DOCS, TestPeer, until } from "../net/_peer_testing.ts";
import { Hash, paths } from "../types/mod.ts";
import { blobFileName, defaultVersion } from "../unreal/mod.ts";
import { FuseMount, READ_AHEAD_KIB } from "./fuse_mount.ts";
import { RemoteReader } from "./remote_reader.ts";

const HAS_FUSE = Deno.uid() === 0 && (() => {
  try {
    return Deno.statSync("/dev/fuse") !== null;
  } catch {
    return false;
  }
})();

/** 3 MiB of text that never repeats with a short period (a different one per seed). */
function noisy(seed: number): string {
  return Array.from({ length: 3 << 18 }, (_, i) => (i * seed).toString(36).slice(-4)).join("");
}

async function sh(args: string[]): Promise<string> {
  const out = await new Deno.Command(args[0]!, { args: args.slice(1), stderr: "piped" }).output();
  assert.ok(out.success, new TextDecoder().decode(out.stderr));
  return new TextDecoder().decode(out.stdout);
}

/** A household whose reads deliver each piece `ms` after the one before (a slow link). */
function delayed(h: Household, ms: number): Household {
  return new Proxy(h, {
    get(target, key) {
      if (key === "read") {
        return async (...[what, range, onChunk, options]: Parameters<Household["read"]>) => {
          let chain = Promise.resolve();
          await target.read(what, range, (at, bytes) => {
            const copy = bytes.slice(); // lent only for the call
            chain = chain.then(() => new Promise((r) => setTimeout(r, ms)))
              .then(() => onChunk(at, copy));
          }, options);
          await chain;
        };
      }
      const value = Reflect.get(target, key);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}

/** Peer `b` knowing `a`'s `big.bin`, with the filesystem mounted; closes it all. */
class Mounted {
  readonly mnt = Deno.makeTempDirSync({ prefix: "realize_mnt_" });
  a!: TestPeer;
  b!: TestPeer;
  hash!: Hash;
  reader!: RemoteReader;
  mount!: FuseMount;

  /**
   * @param big the content of `a`'s `big.bin`
   * @param options `fetchDelayMs`: each piece fetched from `a` comes that much later
   */
  static async start(big: string, options: { fetchDelayMs?: number } = {}): Promise<Mounted> {
    const m = new Mounted();
    try {
      m.a = await TestPeer.start("a", { files: { "big.bin": big } });
      m.b = await TestPeer.start("b", { local: false });
      await m.a.settled();
      const ha = await m.a.join([m.b.asPeer()]);
      await m.b.join([m.a.asPeer({ port: ha.port })], { listen: null });
      m.hash = Hash.of(new TextEncoder().encode(big));
      await until(() => {
        const d = m.b.db.read((tx) => defaultVersion(tx, paths.parse("big.bin")));
        return d?.hash?.equals(m.hash) === true;
      }, "b knows big.bin");
      m.reader = new RemoteReader(
        new Map([[DOCS, { unreal: m.b.unreal, mark: "watch" }]]),
        () => {
          const h = m.b.household;
          return h === null || options.fetchDelayMs === undefined
            ? h
            : delayed(h, options.fetchDelayMs);
        },
      );
      m.mount = await FuseMount.start({
        mountpoint: m.mnt,
        globalDb: `${m.b.dir}/cache.db`,
        arenas: [{ name: DOCS, workdir: `${m.b.dir}/work`, datadir: null, mark: "watch" }],
        reader: m.reader,
      });
    } catch (error) {
      await m[Symbol.asyncDispose]().catch(() => {});
      throw error;
    }
    return m;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.mount?.unmount();
    await this.reader?.close();
    assert.equal(mountedAt(this.mnt), null, "nothing left mounted");
    await Deno.remove(this.mnt);
    await this.b?.[Symbol.asyncDispose]();
    await this.a?.[Symbol.asyncDispose]();
  }
}

Deno.test({
  name: "the mount reads ahead in 1 MiB; cached bytes are read in the worker",
  ignore: !HAS_FUSE,
  fn: async () => {
    const big = "0123456789abcdef".repeat(256 * 1024); // 4 MiB
    await using m = await Mounted.start(big);
    const { b, hash, reader, mnt } = m;
    const device = mountDevice(mnt)!;
    const ra = await Deno.readTextFile(`/sys/class/bdi/${device}/read_ahead_kb`);
    assert.equal(ra.trim(), `${READ_AHEAD_KIB}`);
    const file = `${mnt}/docs/big.bin`;
    // Cache the file without the kernel seeing it: its page cache stays empty.
    const req = { arena: DOCS, path: paths.parse("big.bin"), hash: hash.toString() };
    for (let offset = 0; offset < big.length; offset += 1 << 20) {
      await reader.read({ ...req, size: big.length, offset, length: 1 << 20 });
    }
    await until(() => b.unreal.blobs.get(hash)?.verified === true, "the blob is verified");
    const before = { ...reader.stats };
    let mainReads = 0;
    const read = reader.read.bind(reader);
    const ensure = reader.ensure.bind(reader);
    reader.read = (req) => (mainReads++, read(req));
    reader.ensure = (req) => (mainReads++, ensure(req));
    assert.equal(await sh(["cat", file]), big, "read from the blob");
    // The worker tells the main thread by message: wait for the first word of it.
    await until(() => reader.stats.fromCache > before.fromCache, "the worker's note");
    assert.equal(mainReads, 0, "no read reached the main thread");
    assert.equal(reader.stats.fromNetwork, before.fromNetwork);
    assert.ok(reader.stats.fromCache > before.fromCache, "the worker's hits are counted");
    assert.equal(b.unreal.blobs.get(hash)?.open, true, "touched: the main thread holds it");
    if (m.mount.passthrough) {
      assert.equal(reader.stats.passthroughOpens, 1, "the kernel reads the verified blob itself");
    }
  },
});

Deno.test({
  name: "a cold read is written into the blob by the worker and read from it there",
  ignore: !HAS_FUSE,
  fn: async () => {
    const big = noisy(7919);
    await using m = await Mounted.start(big);
    const { reader, mount, mnt } = m;
    let stored = 0;
    let copied = 0;
    const ensure = reader.ensure.bind(reader);
    const read = reader.read.bind(reader);
    reader.ensure = async (req) => {
      const got = await ensure(req);
      if (got === null) stored++;
      return got;
    };
    reader.read = (req) => (copied++, read(req));
    // Large writes on this thread: the blob's (log lines are short).
    let writtenHere = 0;
    const writeSync = Deno.FsFile.prototype.writeSync;
    Deno.FsFile.prototype.writeSync = function (p: Uint8Array) {
      if (p.length >= 64 * 1024) writtenHere += p.length;
      return writeSync.call(this, p);
    };
    try {
      assert.equal(await sh(["cat", `${mnt}/docs/big.bin`]), big);
    } finally {
      Deno.FsFile.prototype.writeSync = writeSync;
    }
    assert.ok(reader.stats.fromNetwork > 0, "fetched from a");
    assert.ok(stored > 0, 'answered with "stored", not with the bytes');
    assert.equal(copied, 0, "no bytes handed to the worker");
    assert.equal(writtenHere, 0, "the worker wrote the blob");
    await until(() => m.b.unreal.blobs.get(m.hash)?.verified === true, "the blob is verified");
    assert.equal(mount.readsInFlight, 0, "every counted read was given back");
  },
});

Deno.test({
  name: "reads of bytes on their way wait for them in the worker, not on the main thread",
  ignore: !HAS_FUSE,
  fn: async () => {
    const big = noisy(104729);
    // Slow fetches: the kernel's reads of the later chunks come while those are on their way.
    await using m = await Mounted.start(big, { fetchDelayMs: 200 });
    const { reader, mnt } = m;
    let reads = 0;
    const ensure = reader.ensure.bind(reader);
    reader.ensure = (req) => (reads++, ensure(req));
    assert.equal(await sh(["cat", `${mnt}/docs/big.bin`]), big);
    // The first read starts the fetch ahead; the others (six reads of 512 KiB in all) wait in
    // the worker for its own writes.
    assert.ok(reads <= 2, `${reads} reads reached the main thread`);
    assert.equal(m.mount.readsInFlight, 0);
  },
});

Deno.test({
  name: "with the disk full a cold read is still whole, and only bytes in the blob count",
  ignore: !HAS_FUSE,
  fn: async () => {
    const big = noisy(7907);
    await using m = await Mounted.start(big);
    // The blobs on a 2 MiB file system with 1.5 MiB taken: the worker's writes fail.
    const blobs = `${m.b.dir}/work/blobs`;
    await sh(["mount", "-t", "tmpfs", "-o", "size=2m", "realize-test", blobs]);
    try {
      await Deno.writeFile(`${blobs}/filler`, new Uint8Array(1536 * 1024).fill(1));
      assert.equal(await sh(["cat", `${m.mnt}/docs/big.bin`]), big, "served from memory");
      const info = m.b.unreal.blobs.get(m.hash)!;
      assert.ok(info.present.byteCount() < big.length, "not all of it fitted");
      // What the store says is present is really in the file.
      using file = await Deno.open(`${blobs}/${blobFileName(m.hash)}`);
      const bytes = new TextEncoder().encode(big);
      for (const r of info.present.ranges()) {
        const got = new Uint8Array(r.byteCount());
        await file.seek(r.start, Deno.SeekMode.Start);
        for (let n = 0; n < got.length;) n += (await file.read(got.subarray(n)))!;
        assert.deepEqual(got, bytes.subarray(r.start, r.end), `present ${r}`);
      }
      assert.equal(m.mount.readsInFlight, 0);
    } finally {
      await m.mount.unmount();
      await m.reader.close();
      await sh(["umount", "-l", blobs]);
    }
  },
});

Deno.test({
  name: "an inode open without passthrough keeps later opens so until it is closed",
  ignore: !HAS_FUSE,
  fn: async () => {
    const big = "fedcba9876543210".repeat(256 * 1024); // 4 MiB
    await using m = await Mounted.start(big);
    const { b, hash, reader, mnt } = m;
    const file = `${mnt}/docs/big.bin`;
    // Opened while nothing is cached: served by the worker (the kernel's cached mode).
    const held = await Deno.open(file, { read: true });
    try {
      const head = new Uint8Array(4096);
      assert.equal(await held.read(head), 4096);
      const req = { arena: DOCS, path: paths.parse("big.bin"), hash: hash.toString() };
      for (let offset = 0; offset < big.length; offset += 1 << 20) {
        await reader.read({ ...req, size: big.length, offset, length: 1 << 20 });
      }
      await until(() => b.unreal.blobs.get(hash)?.verified === true, "the blob is verified");
      // The kernel refuses passthrough next to a cached-mode open of the same inode.
      assert.equal(await sh(["cat", file]), big, "a second open while the first is held");
      assert.equal(reader.stats.passthroughOpens, 0);
    } finally {
      held.close();
    }
    assert.equal(await sh(["cat", file]), big, "an open after it was closed");
    if (m.mount.passthrough) {
      await until(() => reader.stats.passthroughOpens > 0, "the passthrough open noted");
      assert.equal(reader.stats.passthroughOpens, 1);
    }
  },
});

Deno.test({
  name: "a file open with passthrough stays readable after its blob is removed from the cache",
  ignore: !HAS_FUSE,
  fn: async () => {
    const big = "0a1b2c3d4e5f6g7h".repeat(128 * 1024); // 2 MiB
    await using m = await Mounted.start(big);
    const req = { arena: DOCS, path: paths.parse("big.bin"), hash: m.hash.toString() };
    await m.reader.read({ ...req, size: big.length, offset: 0, length: big.length });
    await until(() => m.b.unreal.blobs.get(m.hash)?.verified === true, "verified");
    const held = await Deno.open(`${m.mnt}/docs/big.bin`, { read: true });
    try {
      if (m.mount.passthrough) {
        await until(() => m.reader.stats.passthroughOpens === 1, "opened with passthrough");
      }
      m.b.unreal.blobs.remove(m.hash); // evicted while open
      assert.equal(m.b.unreal.blobs.get(m.hash), null);
      const got = new Uint8Array(big.length);
      for (let n = 0; n < got.length;) {
        const r = await held.read(got.subarray(n));
        if (r === null) break;
        n += r;
      }
      assert.equal(new TextDecoder().decode(got), big);
      // Another open joins the first one's backing file: the blob is gone from the cache.
      assert.equal(await sh(["cat", `${m.mnt}/docs/big.bin`]), big, "a second open");
    } finally {
      held.close();
    }
  },
});

Deno.test({
  name: "REALIZE_FUSE_PASSTHROUGH=0 keeps every read in the daemon",
  ignore: !HAS_FUSE,
  fn: async () => {
    Deno.env.set("REALIZE_FUSE_PASSTHROUGH", "0");
    try {
      const big = "passthrough off!".repeat(64 * 1024); // 1 MiB
      await using m = await Mounted.start(big);
      assert.equal(m.mount.passthrough, false);
      const req = { arena: DOCS, path: paths.parse("big.bin"), hash: m.hash.toString() };
      await m.reader.read({ ...req, size: big.length, offset: 0, length: big.length });
      await until(() => m.b.unreal.blobs.get(m.hash)?.verified === true, "verified");
      assert.equal(await sh(["cat", `${m.mnt}/docs/big.bin`]), big);
      assert.equal(m.reader.stats.passthroughOpens, 0);
    } finally {
      Deno.env.delete("REALIZE_FUSE_PASSTHROUGH");
    }
  },
});

Deno.test({
  name: "a FUSE worker that dies mid-read leaves no program hanging and the daemon running",
  ignore: !HAS_FUSE,
  fn: async () => {
    // A slow link: a cold read is still waiting for its bytes when the worker dies. (Its
    // splice pipe once made the worker's exit segfault the process: `holdFuse3`.)
    await using m = await Mounted.start(noisy(11), { fetchDelayMs: 200 });
    const killedAfter = (p: Deno.ChildProcess) => setTimeout(() => p.kill("SIGKILL"), 10_000);
    const cat = new Deno.Command("cat", {
      args: [`${m.mnt}/docs/big.bin`],
      stdout: "null",
      stderr: "piped",
    }).spawn();
    await until(() => m.reader.stats.bytesFetched > 0, "the read under way");
    m.mount.failWorkerForTest();
    // With nothing serving the mount, its programs would wait for good: killed after 10 s,
    // the test fails.
    let timer = killedAfter(cat);
    const read = await cat.output().finally(() => clearTimeout(timer));
    assert.equal(read.signal, null, "cat was not left waiting");
    assert.equal(read.success, false);
    assert.match(new TextDecoder().decode(read.stderr), /Transport endpoint is not connected/);
    await until(() => !m.mount.mounted, "the worker's failure noticed");
    const stat = new Deno.Command("stat", {
      args: [`${m.mnt}/docs/big.bin`],
      stdout: "null",
      stderr: "piped",
    }).spawn();
    timer = killedAfter(stat);
    const after = await stat.output().finally(() => clearTimeout(timer));
    assert.equal(after.signal, null, "stat was not left waiting");
    assert.match(new TextDecoder().decode(after.stderr), /No such file or directory/);
    assert.equal(mountedAt(m.mnt), null, "the mount detached");
    assert.deepEqual(await Array.fromAsync(Deno.readDir(m.mnt)), [], "the empty directory beneath");
  },
});
