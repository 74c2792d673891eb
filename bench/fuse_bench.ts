/**
 * The realize filesystem on a real FUSE mount. Peer `a` (`fuse_child.ts serve`, its own
 * process) has a 1 GiB file (`REALIZE_BENCH_FUSE_BYTES`) and a tree of 100,000 small files
 * (`REALIZE_BENCH_FILES`); peer `b` is this process, dialling `a` over TLS on loopback and
 * mounting the filesystem. All I/O on the mount is done by other processes (`dd`, `ls`,
 * `find`, `fuse_child.ts meta`): this process serves the mount. Four measures, each
 * against a reference in the same run, round-robin, best of {@linkcode RUNS}:
 *
 * 1. a sequential cold read of the big file through the mount (fresh blob, page cache of
 *    the file dropped) against raw TLS between two processes (`rawBulk` of the net
 *    benchmark), and against sshfs reading the same file over loopback when `sshfs` and
 *    `sshd` are installed (a fresh sshfs mount per run); and the bytes moved per second of
 *    the whole machine's processor time, cold read against raw TLS (on few cores the bound
 *    on the rate), with each run's split between the processes and `b`'s threads on stderr;
 * 2. a warm re-read (the whole file in the blob, the mount's page cache of the file dropped)
 *    against `dd` of the blob file itself, and the re-read from the kernel's page cache;
 * 3. `ls -lR` and `find` over the tree through the mount against the same tree in `a`'s
 *    datadir on local disk, and against a null FUSE filesystem serving the same tree
 *    (`null_fuse.c`, built with `cc` when libfuse3's headers are installed: the floor for
 *    any FUSE daemon on this kernel and machine);
 * 4. `lstat` and `getxattr(user.realize.status)` per second through the mount against the
 *    same calls on a local copy of the files, which carry that xattr, and on the null FUSE
 *    filesystem;
 * 5. the arena's overlay (`realize mountall`: an empty upper layer over the mount): a warm
 *    re-read of the big file and `ls -lR` of the tree through it, against the same through
 *    the mount itself (what the overlay costs on top).
 *
 * @module
 */

import { cpuBusySeconds, processCpuSeconds, threadCpuSeconds } from "./_cpu.ts";
import { exists, firstLine, reap, spawnChild } from "./_child.ts";
import type { Result } from "./_report.ts";
import { DIRS, treePath, writeTree } from "./fuse_child.ts";
import { rawBulk } from "./net_bench.ts";
import { mountedAt, setXattr, umount } from "../ffi/libc/mod.ts";
import type { PeerConfig } from "../src/config/mod.ts";
import { FuseMount, RemoteReader, XATTR } from "../src/fs/mod.ts";
import { defaultOverlayMode, OverlayMounts } from "../src/overlay/mod.ts";
import { decodePublicKeyPem, generateKeyPair } from "../src/keys/mod.ts";
import { DOCS, TestPeer } from "../src/net/_peer_testing.ts";
import { type Hash, parsePeerName, paths } from "../src/types/mod.ts";
import { blobFileName, defaultVersion } from "../src/unreal/mod.ts";
import { configure } from "../src/util/mod.ts";

const MiB = 1 << 20;
const BYTES = Number(Deno.env.get("REALIZE_BENCH_FUSE_BYTES") ?? 2 ** 30);
const FILES = Number(Deno.env.get("REALIZE_BENCH_FILES") ?? 100_000);
/** Files whose metadata is read per run (goal 4). */
const META_FILES = Math.min(FILES, 20_000);
const RUNS = 3;
/** Longer than the mount's 1 s entry and attribute timeout: runs start with nothing cached. */
const EXPIRE_MS = 1200;
const WAIT_MS = 900_000;
/** Peer `a` removes a datadir of 100,000 files and 1 GiB when it stops. */
const SERVE_EXIT_MS = 300_000;
const CHILD = new URL("./fuse_child.ts", import.meta.url).pathname;
const HAS_FUSE = Deno.uid() === 0 && exists("/dev/fuse");
/** Entries in the tree (files and directories): what `ls -lR` and `find` go through. */
const TREE_ENTRIES = FILES + Math.min(DIRS, FILES);
/** `1.23 s`. */
const seconds = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
/** The metadata rows' second reference (`null_fuse.c`). */
const NULL_FUSE = "a null FUSE filesystem in C";

function which(program: string): string | null {
  for (const dir of (Deno.env.get("PATH") ?? "").split(":").concat("/usr/sbin")) {
    if (exists(`${dir}/${program}`)) return `${dir}/${program}`;
  }
  return null;
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Runs a program to completion; wall-clock ms, spawning included. */
async function timed(cmd: readonly string[]): Promise<number> {
  const [program, ...args] = cmd;
  const t = performance.now();
  const out = await new Deno.Command(program!, { args, stdout: "null", stderr: "piped" })
    .output();
  const ms = performance.now() - t;
  if (!out.success) {
    throw new Error(`${cmd.join(" ")} failed: ${new TextDecoder().decode(out.stderr).trim()}`);
  }
  return ms;
}

/** `dd` of a whole file in 1 MiB reads; MB/s. */
async function dd(path: string): Promise<number> {
  const ms = await timed(["dd", `if=${path}`, "of=/dev/null", "bs=1M"]);
  return BYTES / 1e3 / ms;
}

/** Peer `a` in its own process. */
class ServeChild {
  readonly ready: { port: number; pem: string; dir: string };
  readonly #child: Deno.ChildProcess;

  /** Its process id. */
  get pid(): number {
    return this.#child.pid;
  }

  private constructor(child: Deno.ChildProcess, ready: ServeChild["ready"]) {
    this.#child = child;
    this.ready = ready;
  }

  static async start(settings: object): Promise<ServeChild> {
    const child = spawnChild(CHILD, "REALIZE_BENCH_FUSE", "serve", settings, "piped");
    try {
      return new ServeChild(child, JSON.parse(await firstLine(child.stdout, "fuse_child")));
    } catch (error) {
      child.kill("SIGKILL");
      await reap(child);
      throw error;
    }
  }

  asPeer(): PeerConfig {
    return {
      name: parsePeerName("a"),
      address: { host: "127.0.0.1", port: this.ready.port },
      pubkey: decodePublicKeyPem(this.ready.pem),
      batchRateLimitBytesPerSec: null,
    };
  }

  async close(): Promise<void> {
    await this.#child.stdin.close().catch(() => {});
    const status = await reap(this.#child, true, SERVE_EXIT_MS);
    await Deno.remove(this.ready.dir, { recursive: true }).catch(() => {});
    if (!status.success) throw new Error(`fuse_child serve exited with ${status.code}`);
  }
}

/** Peer `b` with the realize filesystem mounted. */
interface Mounted {
  readonly b: TestPeer;
  readonly mnt: string;
  readonly mount: FuseMount;
  readonly reader: RemoteReader;
}

async function mountB(b: TestPeer): Promise<Mounted> {
  const mnt = await Deno.makeTempDir({ prefix: "realize-bench-fuse-mnt-" });
  const reader = new RemoteReader(
    new Map([[DOCS, { unreal: b.unreal, mark: "watch" }]]),
    () => b.household,
  );
  try {
    const mount = await FuseMount.start({
      mountpoint: mnt,
      globalDb: `${b.dir}/cache.db`,
      arenas: [{ name: DOCS, workdir: `${b.dir}/work`, datadir: b.datadir, mark: "watch" }],
      reader,
    });
    return { b, mnt, mount, reader };
  } catch (error) {
    await Deno.remove(mnt);
    throw error;
  }
}

async function unmountB(m: Mounted): Promise<void> {
  await m.mount.unmount();
  await m.reader.close();
  if (mountedAt(m.mnt) !== null) throw new Error(`${m.mnt} is still mounted`);
  await Deno.remove(m.mnt);
}

/** Waits until `b` knows `big` with its hash and every file of the tree. */
async function caughtUp(b: TestPeer): Promise<Hash> {
  const deadline = Date.now() + WAIT_MS;
  for (;;) {
    const big = b.db.read((tx) => defaultVersion(tx, paths.parse("big")));
    const files = b.db.read((tx) =>
      tx.get<{ n: number }>("SELECT count(*) AS n FROM unreal_peer_file WHERE peer = 'a'")?.n ?? 0
    );
    const hash = big?.hash ?? null;
    if (hash !== null && files === FILES + 1) return hash;
    if (Date.now() > deadline) throw new Error(`b has ${files} of ${FILES + 1} files of a`);
    await sleep(50);
  }
}

/** Drops the mount's page cache of a file (the kernel keeps it across opens). */
async function dropPages(m: Mounted, path: string): Promise<void> {
  const ino = (await Deno.stat(path)).ino!;
  m.mount.invalidate([ino], []);
  await sleep(50); // the worker sends the notification
}

/** Waits until the blob is complete and verified (verification reads it all once). */
async function verified(m: Mounted, hash: Hash): Promise<void> {
  const deadline = Date.now() + WAIT_MS;
  while (m.b.unreal.blobs.get(hash)?.verified !== true) {
    if (Date.now() > deadline) throw new Error("the blob was not verified");
    await sleep(20);
  }
}

/** sshd on loopback with throw-away keys, and sshfs mounts through it. */
class Sshfs {
  readonly #dir: string;
  readonly #sshd: Deno.ChildProcess;
  readonly #port: number;
  readonly #madeRunDir: boolean;

  private constructor(dir: string, sshd: Deno.ChildProcess, port: number, madeRunDir: boolean) {
    this.#dir = dir;
    this.#sshd = sshd;
    this.#port = port;
    this.#madeRunDir = madeRunDir;
  }

  /** Starts sshd, or returns `null` when sshfs, sshd or ssh-keygen is missing. */
  static async start(): Promise<Sshfs | null> {
    const sshd = which("sshd");
    if (which("sshfs") === null || sshd === null || which("ssh-keygen") === null) return null;
    const dir = await Deno.makeTempDir({ prefix: "realize-bench-sshd-" });
    for (const key of ["host", "id"]) {
      await timed(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", `${dir}/${key}`]);
    }
    await Deno.copyFile(`${dir}/id.pub`, `${dir}/authorized_keys`);
    const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const port = (l.addr as Deno.NetAddr).port;
    l.close();
    await Deno.writeTextFile(
      `${dir}/sshd_config`,
      [
        `Port ${port}`,
        "ListenAddress 127.0.0.1",
        `HostKey ${dir}/host`,
        `AuthorizedKeysFile ${dir}/authorized_keys`,
        `PidFile ${dir}/sshd.pid`,
        "PermitRootLogin prohibit-password",
        "PasswordAuthentication no",
        "StrictModes no",
        "UsePAM no",
        "Subsystem sftp internal-sftp",
        "",
      ].join("\n"),
    );
    const madeRunDir = !exists("/run/sshd");
    if (madeRunDir) await Deno.mkdir("/run/sshd", { mode: 0o755 });
    const child = new Deno.Command(sshd, {
      args: ["-D", "-e", "-f", `${dir}/sshd_config`],
      stdout: "null",
      stderr: "null",
    }).spawn();
    const s = new Sshfs(dir, child, port, madeRunDir);
    for (let i = 0;; i++) {
      try {
        (await Deno.connect({ hostname: "127.0.0.1", port })).close();
        return s;
      } catch (error) {
        if (i > 100) {
          await s.close();
          throw new Error("sshd did not start", { cause: error });
        }
        await sleep(50);
      }
    }
  }

  /** A fresh sshfs mount of `remote` (nothing cached): read `file` in it with `dd`; MB/s. */
  async read(remote: string, file: string): Promise<number> {
    const mnt = await Deno.makeTempDir({ prefix: "realize-bench-sshfs-" });
    const child = new Deno.Command("sshfs", {
      args: [
        "-f",
        "-o",
        [
          "ro",
          `port=${this.#port}`,
          `IdentityFile=${this.#dir}/id`,
          "StrictHostKeyChecking=no",
          "UserKnownHostsFile=/dev/null",
          "LogLevel=ERROR",
        ].join(","),
        `root@127.0.0.1:${remote}`,
        mnt,
      ],
      stdout: "null",
      stderr: "inherit",
    }).spawn();
    try {
      const deadline = Date.now() + 10_000;
      while (mountedAt(mnt) === null) {
        if (Date.now() > deadline) throw new Error("sshfs did not mount");
        await sleep(20);
      }
      return await dd(`${mnt}/${file}`);
    } finally {
      if (mountedAt(mnt) !== null) umount(mnt);
      await reap(child, false);
      await Deno.remove(mnt);
    }
  }

  async close(): Promise<void> {
    try {
      this.#sshd.kill("SIGTERM");
    } catch { /* already gone */ }
    await reap(this.#sshd, false);
    if (this.#madeRunDir) await Deno.remove("/run/sshd").catch(() => {});
    await Deno.remove(this.#dir, { recursive: true });
  }
}

/**
 * `null_fuse.c` (this directory) compiled and mounted: the same tree as `a`'s, served by a
 * FUSE daemon in C that does nothing else — the floor for metadata through FUSE here.
 */
class NullFuse {
  readonly root: string;
  readonly #dir: string;
  readonly #child: Deno.ChildProcess;

  private constructor(dir: string, child: Deno.ChildProcess) {
    this.#dir = dir;
    this.#child = child;
    this.root = `${dir}/mnt`;
  }

  /** Builds and mounts it, or returns `null` when `cc`, `pkg-config` or fuse3's headers are missing. */
  static async start(files: number): Promise<NullFuse | null> {
    if (which("cc") === null || which("pkg-config") === null) return null;
    const flags = await new Deno.Command("pkg-config", { args: ["--cflags", "--libs", "fuse3"] })
      .output();
    if (!flags.success) return null;
    const dir = await Deno.makeTempDir({ prefix: "realize-bench-nullfuse-" });
    try {
      const source = new URL("./null_fuse.c", import.meta.url).pathname;
      const args = new TextDecoder().decode(flags.stdout).trim().split(/\s+/);
      await timed(["cc", "-O2", source, ...args, "-o", `${dir}/null_fuse`]);
      await Deno.mkdir(`${dir}/mnt`);
      const child = new Deno.Command(`${dir}/null_fuse`, {
        args: [`${dir}/mnt`, String(files)],
        stdout: "piped",
        stderr: "inherit",
      }).spawn();
      const n = new NullFuse(dir, child);
      try {
        if (await firstLine(child.stdout, "null_fuse") !== "mounted") {
          throw new Error("not mounted");
        }
      } catch (error) {
        await n.close();
        throw error;
      }
      return n;
    } catch (error) {
      await Deno.remove(dir, { recursive: true }).catch(() => {});
      throw error;
    }
  }

  async close(): Promise<void> {
    try {
      this.#child.kill("SIGTERM"); // its loop exits and unmounts
    } catch { /* already gone */ }
    await reap(this.#child);
    if (mountedAt(this.root) !== null) umount(this.root);
    await Deno.remove(this.#dir, { recursive: true });
  }
}

function best(xs: number[]): number {
  return Math.max(...xs);
}

/** Goals 1 and 2: the big file, cold and warm, against raw TLS, sshfs and the blob file. */
async function readResults(m: Mounted, a: ServeChild, hash: Hash): Promise<Result[]> {
  const keys = { server: await generateKeyPair(), client: await generateKeyPair() };
  const sshfs = await Sshfs.start();
  const file = `${m.mnt}/docs/big`;
  const blob = `${m.b.dir}/work/blobs/${blobFileName(hash)}`;
  const r = { tls: [] as number[], cold: [] as number[], ssh: [] as number[] };
  // Bytes moved per second of processor time, every process and the kernel included.
  const perCpu = { tls: [] as number[], cold: [] as number[] };
  // Bytes moved per second of the busiest thread's processor time: the bound with a core
  // for every thread (this machine may have too few to show it).
  const perThread = { tls: [] as number[], cold: [] as number[] };
  const w = { blob: [] as number[], warm: [] as number[], pages: [] as number[] };
  try {
    for (let run = 0; run < RUNS; run++) {
      // Processor time from the accepted connection on: a Deno process's start-up (about
      // 0.15 s here) is no part of a transfer, and the cold read has none.
      r.tls.push(
        await rawBulk("tls-send", keys, (busiest, machine) => {
          perThread.tls.push(BYTES / 1e6 / busiest);
          perCpu.tls.push(BYTES / 1e6 / machine);
        }, BYTES),
      );
      await m.reader.close(); // a fresh blob: nothing cached, on disk or in the page cache
      m.b.unreal.blobs.remove(hash);
      await dropPages(m, file);
      const pids = [a.pid, Deno.pid];
      const parts = pids.map(processCpuSeconds);
      const threads = pids.map(threadCpuSeconds);
      const machine = cpuBusySeconds();
      r.cold.push(await dd(file));
      const busy = cpuBusySeconds() - machine;
      perCpu.cold.push(BYTES / 1e6 / busy);
      const [pa, pb] = pids.map((pid, i) => processCpuSeconds(pid) - parts[i]!);
      const rest = busy - pa! - pb!;
      const split = pids.map((pid, i) =>
        [...threadCpuSeconds(pid)].map(([n, t]) => [n, t - (threads[i]!.get(n) ?? 0)] as const)
          .filter(([, t]) => t > 0)
      );
      perThread.cold.push(BYTES / 1e6 / Math.max(...split.flat().map(([, t]) => t)));
      const perMB = (s: number) => `${(s * 1e3 / (BYTES / 1e6)).toFixed(2)} ms`;
      await Deno.stderr.write(new TextEncoder().encode(
        `cold read, processor time per MB: peer a ${perMB(pa!)}, peer b (this process) ` +
          `${perMB(pb!)}, the rest (dd, kernel threads) ${perMB(rest)}; ` +
          split.map((ts, i) =>
            `${"ab"[i]}'s threads: ${ts.map(([n, t]) => `${n} ${perMB(t)}`).join(", ")}`
          ).join("; ") + "\n",
      ));
      await verified(m, hash);
      if (sshfs !== null) r.ssh.push(await sshfs.read(`${a.ready.dir}/data`, "big"));
      w.blob.push(await dd(blob));
      await dropPages(m, file);
      w.warm.push(await dd(file));
      w.pages.push(await dd(file));
    }
  } finally {
    await sshfs?.close();
  }
  const size = BYTES >= 2 ** 30 ? `${BYTES / 2 ** 30} GiB` : `${BYTES / MiB} MiB`;
  const row = (name: string, xs: number[], reference: string, ys: number[]): Result => ({
    name,
    value: best(xs),
    unit: "MB/s",
    reference,
    referenceValue: best(ys),
  });
  return [
    row(`cold read of ${size} through the mount`, r.cold, "raw TLS", r.tls),
    ...(sshfs === null
      ? []
      : [row(`cold read of ${size} through the mount`, r.cold, "sshfs, fresh mount", r.ssh)]),
    {
      ...row(
        `cold read: MB per second of CPU, ${navigator.hardwareConcurrency} cores`,
        perCpu.cold,
        "raw TLS",
        perCpu.tls,
      ),
      unit: "MB/CPU-s",
    },
    {
      ...row(
        "cold read: MB per second of its busiest thread",
        perThread.cold,
        "raw TLS",
        perThread.tls,
      ),
      unit: "MB/thread-s",
    },
    row(`warm re-read of ${size} (blob in page cache)`, w.warm, "dd of the blob file", w.blob),
    row(`re-read of ${size} from the mount's page cache`, w.pages, "dd of the blob file", w.blob),
  ];
}

/**
 * Goal 3: `ls -lR` and `find` over the tree, through the mount, on local disk, and through
 * the null FUSE filesystem when it could be built.
 */
async function treeResults(m: Mounted, a: ServeChild, nf: NullFuse | null): Promise<Result[]> {
  const remote = `${m.mnt}/docs/tree`;
  const local = `${a.ready.dir}/data/tree`;
  const cases = [["ls -lR", ["ls", "-lR"]], ["find", ["find"]]] as const;
  const ms = cases.map(() => ({ remote: Infinity, local: Infinity, nf: Infinity }));
  for (let run = 0; run < RUNS; run++) {
    for (const [i, [, cmd]] of cases.entries()) {
      await sleep(EXPIRE_MS);
      ms[i]!.remote = Math.min(ms[i]!.remote, await timed([...cmd, remote]));
      ms[i]!.local = Math.min(ms[i]!.local, await timed([...cmd, local]));
      if (nf === null) continue;
      await sleep(EXPIRE_MS);
      ms[i]!.nf = Math.min(ms[i]!.nf, await timed([...cmd, nf.root]));
    }
  }
  return cases.flatMap(([name], i) => {
    const t = ms[i]!;
    const row = (reference: string, referenceMs: number): Result => ({
      name: `${name} of ${FILES} files (${seconds(t.remote)})`,
      value: TREE_ENTRIES / (t.remote / 1000),
      unit: "entries/s",
      reference: `${reference} (${seconds(referenceMs)})`,
      referenceValue: TREE_ENTRIES / (referenceMs / 1000),
    });
    return [row("on local disk", t.local), ...(nf === null ? [] : [row(NULL_FUSE, t.nf)])];
  });
}

async function meta(root: string): Promise<{ statMs: number; xattrMs: number }> {
  const child = spawnChild(CHILD, "REALIZE_BENCH_FUSE", "meta", {
    root,
    files: META_FILES,
    xattr: XATTR.status,
  }, "null");
  const out = await child.output();
  if (!out.success) throw new Error(`fuse_child meta exited with ${out.code}`);
  return JSON.parse(new TextDecoder().decode(out.stdout));
}

/**
 * Goal 4: lstat and getxattr through the mount, against a local copy with the xattr and the
 * null FUSE filesystem when it could be built.
 */
async function metaResults(m: Mounted, tmp: string, nf: NullFuse | null): Promise<Result[]> {
  const local = `${tmp}/local`;
  writeTree(local, META_FILES);
  for (let i = 0; i < META_FILES; i++) {
    setXattr(`${local}/${treePath(i)}`, XATTR.status, "remote 0%");
  }
  const best = () => ({ statMs: Infinity, xattrMs: Infinity });
  const [remote, ref, floor] = [best(), best(), best()];
  const keep = (to: typeof remote, r: { statMs: number; xattrMs: number }) => {
    to.statMs = Math.min(to.statMs, r.statMs);
    to.xattrMs = Math.min(to.xattrMs, r.xattrMs);
  };
  for (let run = 0; run < RUNS; run++) {
    await sleep(EXPIRE_MS);
    keep(remote, await meta(`${m.mnt}/docs/tree`));
    keep(ref, await meta(local));
    if (nf === null) continue;
    await sleep(EXPIRE_MS);
    keep(floor, await meta(nf.root));
  }
  const perSec = (ms: number) => META_FILES / (ms / 1000);
  const rows = (reference: string, r: typeof remote): Result[] => [{
    name: `lstat of ${META_FILES} files through the mount (lookup)`,
    value: perSec(remote.statMs),
    unit: "ops/s",
    reference: `lstat ${reference}`,
    referenceValue: perSec(r.statMs),
  }, {
    name: `getxattr ${XATTR.status}, entries cached`,
    value: perSec(remote.xattrMs),
    unit: "ops/s",
    reference: `getxattr ${reference}`,
    referenceValue: perSec(r.xattrMs),
  }];
  return [...rows("on local disk", ref), ...(nf === null ? [] : rows(`on ${NULL_FUSE}`, floor))];
}

/** Goal 5: the overlay over the mount against the mount itself (warm re-read, `ls -lR`). */
async function overlayResults(m: Mounted, tmp: string): Promise<Result[]> {
  const spec = {
    arena: DOCS,
    lower: `${m.mnt}/docs`,
    upper: `${tmp}/upper`,
    work: `${tmp}/overlay-work`,
    mountpoint: `${tmp}/folder`,
  };
  await Deno.mkdir(spec.upper);
  using _mounted = OverlayMounts.mount([spec], defaultOverlayMode());
  const warm = { mount: [] as number[], overlay: [] as number[] };
  const ls = { mount: Infinity, overlay: Infinity };
  for (let run = 0; run < RUNS; run++) {
    await dropPages(m, `${m.mnt}/docs/big`);
    warm.mount.push(await dd(`${m.mnt}/docs/big`));
    await dropPages(m, `${m.mnt}/docs/big`);
    warm.overlay.push(await dd(`${spec.mountpoint}/big`));
    await sleep(EXPIRE_MS);
    ls.mount = Math.min(ls.mount, await timed(["ls", "-lR", `${m.mnt}/docs/tree`]));
    await sleep(EXPIRE_MS);
    ls.overlay = Math.min(ls.overlay, await timed(["ls", "-lR", `${spec.mountpoint}/tree`]));
  }
  return [{
    name: "warm re-read through the overlay",
    value: best(warm.overlay),
    unit: "MB/s",
    reference: "warm re-read through the mount",
    referenceValue: best(warm.mount),
  }, {
    name: `ls -lR of ${FILES} files through the overlay (${seconds(ls.overlay)})`,
    value: TREE_ENTRIES / (ls.overlay / 1000),
    unit: "entries/s",
    reference: `through the mount (${seconds(ls.mount)})`,
    referenceValue: TREE_ENTRIES / (ls.mount / 1000),
  }];
}

/**
 * Runs the benchmark (as root, with `/dev/fuse`; otherwise it returns no results).
 *
 * @returns the results
 */
export async function run(): Promise<Result[]> {
  if (!HAS_FUSE) return [];
  const previous = configure({ write: () => {} }); // no connection lines in the report
  const tmp = await Deno.makeTempDir({ prefix: "realize-bench-fuse-" });
  try {
    await using b = await TestPeer.start("b", { local: false });
    const a = await ServeChild.start({
      peerPem: b.keys.publicKey.pem,
      bigBytes: BYTES,
      files: FILES,
    });
    try {
      await b.join([a.asPeer()], { listen: null });
      const hash = await caughtUp(b);
      const m = await mountB(b);
      try {
        const reads = await readResults(m, a, hash);
        const nf = await NullFuse.start(FILES);
        try {
          const tree = await treeResults(m, a, nf);
          const metadata = await metaResults(m, tmp, nf);
          const overlay = await overlayResults(m, tmp);
          return [...reads, ...tree, ...metadata, ...overlay];
        } finally {
          await nf?.close();
        }
      } finally {
        await unmountB(m);
      }
    } finally {
      await b.leave();
      await a.close();
    }
  } finally {
    configure(previous);
    await Deno.remove(tmp, { recursive: true });
  }
}

if (import.meta.main) {
  const { table } = await import("./_report.ts");
  Deno.stdout.writeSync(new TextEncoder().encode(`${table(await run())}\n`));
}
