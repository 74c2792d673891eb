// Two real daemons as separate processes (the `realize` CLI): keys from `realize keygen`,
// configs on disk, a FUSE mount on the second, the control endpoint, clean and unclean
// shutdowns.
import assert from "node:assert/strict";
import { getXattr, MNT, mountedAt, umount } from "../ffi/libc/mod.ts";
import { Hash } from "../src/types/mod.ts";
import { realize, REPO, run, spawnRealize, tempDir, waitFor } from "./helpers.ts";

const HAS_FUSE = Deno.uid() === 0 && (() => {
  try {
    return Deno.statSync("/dev/fuse") !== null;
  } catch {
    return false;
  }
})();

function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

interface Node {
  readonly dir: string;
  readonly config: string;
  readonly pub: string;
}

async function node(root: string, name: string): Promise<Node> {
  const dir = `${root}/${name}`;
  await Deno.mkdir(`${dir}/data`, { recursive: true });
  const key = await realize(["keygen", "--out", `${dir}/peer.key`]);
  assert.equal(key.code, 0, key.stderr);
  return { dir, config: `${dir}/config.toml`, pub: key.stdout };
}

function writeConfig(n: Node, body: string): void {
  Deno.writeTextFileSync(
    n.config,
    `[network]\nprivkey = "peer.key"\n[control]\nsocket = "control.sock"\n[cache]\ndb = "cache.db"\n` +
      `[[arena]]\nname = "docs"\nworkdir = "work"\ndatadir = "data"\ndebounce = 0\n${body}`,
  );
}

function daemon(n: Node, args: string[] = []): Deno.ChildProcess {
  return spawnRealize(["--config", n.config, ...args]);
}

/** Detaches what a failed test left mounted on `mnt`, before its directory is removed. */
function unmountAtEnd(mnt: string): Disposable {
  return {
    [Symbol.dispose]: () => {
      for (let i = 0; i < 4 && mountedAt(mnt) !== null; i++) umount(mnt, MNT.DETACH);
    },
  };
}

/**
 * Nodes `a` (listening, on the returned port when started with `--address`) and `b`
 * (dialling a), each knowing the other.
 *
 * @param root where their directories go
 * @param bArena more keys of b's arena (e.g. its mountpoint)
 */
async function twoNodes(root: string, bArena = ""): Promise<{ a: Node; b: Node; port: number }> {
  const a = await node(root, "a");
  const b = await node(root, "b");
  const port = freePort();
  writeConfig(a, `[[peer]]\nname = "b"\npubkey = """${b.pub}"""\n`);
  writeConfig(
    b,
    `${bArena}[[peer]]\nname = "a"\naddress = "127.0.0.1:${port}"\npubkey = """${a.pub}"""\n`,
  );
  return { a, b, port };
}

async function stopped(p: Deno.ChildProcess): Promise<{ code: number; stderr: string }> {
  const out = await p.output();
  return { code: out.code, stderr: new TextDecoder().decode(out.stderr) };
}

Deno.test({
  name: "two daemons: A's files, edits and deletes through B's mount; cached reads after A stops",
  ignore: !HAS_FUSE,
  fn: async () => {
    using tmp = tempDir();
    const { a, b, port } = await twoNodes(tmp.path);
    await Deno.writeTextFile(`${a.dir}/data/hello.txt`, "hello from a");
    await Deno.mkdir(`${a.dir}/data/sub`);
    const blob = crypto.getRandomValues(new Uint8Array(65536));
    const big = new Uint8Array(3 * 1024 * 1024 + 12345).map((_, i) => blob[i % 65536]! ^ (i >> 16));
    await Deno.writeFile(`${a.dir}/data/sub/big.bin`, big);
    await Deno.writeTextFile(`${a.dir}/data/gone.txt`, "to be deleted");
    await Deno.writeTextFile(`${a.dir}/data/unread.txt`, "never read on b");
    const mnt = `${b.dir}/mnt`;
    await Deno.mkdir(mnt);
    const pa = daemon(a, ["--address", `127.0.0.1:${port}`]);
    const pb = daemon(b, ["--fuse", mnt]);
    let aEnd: { code: number; stderr: string } | null = null;
    try {
      const file = `${mnt}/docs/hello.txt`;
      await waitFor(
        async () => await Deno.readTextFile(file).catch(() => "") === "hello from a",
        "A's file through B's mount",
        { timeoutMs: 30_000 },
      );
      const status = await realize(["status", "--config", b.config, "--json"]);
      assert.equal(status.code, 0, status.stderr);
      const s = JSON.parse(status.stdout);
      assert.equal(s.fuse.mounted, true);
      assert.equal(s.peers[0].connected, true);
      const peers = await realize(["peers", "--config", a.config]);
      assert.match(peers.stdout, /b: connected/);
      const ls = await realize(["ls", "--config", b.config, "docs"]);
      assert.match(ls.stdout, /remote 100%.*hello\.txt/);
      await Deno.writeTextFile(`${a.dir}/data/hello.txt`, "edited on a");
      await waitFor(
        async () => await Deno.readTextFile(file).catch(() => "") === "edited on a",
        "the edit through B's mount",
        { timeoutMs: 30_000 },
      );
      // Content through the mount is byte for byte A's: sha256 on both sides.
      const sum = async (path: string) => (await run(["sha256sum", path])).stdout.split(" ")[0];
      await waitFor(
        async () =>
          (await Deno.stat(`${mnt}/docs/sub/big.bin`).catch(() => null))?.size === big.length,
        "the big file listed on B",
        { timeoutMs: 30_000 },
      );
      assert.equal(await sum(`${mnt}/docs/sub/big.bin`), await sum(`${a.dir}/data/sub/big.bin`));
      // B's metrics count what it fetched; A's count what it indexed and sent.
      const metrics = async (n: Node) =>
        (await run([
          "curl",
          "-sf",
          "--unix-socket",
          `${n.dir}/control.sock`,
          "http://realize/metrics",
        ]))
          .stdout;
      const value = (text: string, series: string) => {
        const line = text.split("\n").find((l) => l.startsWith(`${series} `));
        assert.ok(line !== undefined, `${series} in\n${text}`);
        return Number(line.split(" ")[1]);
      };
      // Once verified, the blob is read by the kernel itself where passthrough is on.
      await waitFor(
        async () =>
          (await realize(["ls", "--config", b.config, "docs", "sub"])).stdout.includes(
            "verified",
          ),
        "the big file's blob verified",
        { timeoutMs: 30_000 },
      );
      assert.equal(await sum(`${mnt}/docs/sub/big.bin`), await sum(`${a.dir}/data/sub/big.bin`));
      const mb = await metrics(b);
      if (s.fuse.passthrough === true) {
        assert.ok(value(mb, "realize_passthrough_opens_total") >= 1, "opened with passthrough");
      } else assert.equal(value(mb, "realize_passthrough_opens_total"), 0);
      assert.ok(value(mb, 'realize_reads_total{source="network"}') >= 1);
      assert.ok(value(mb, "realize_read_bytes_fetched_total") >= big.length);
      assert.ok(value(mb, 'realize_peer_bytes_received_total{peer="a"}') >= big.length);
      assert.equal(value(mb, 'realize_peer_connected{peer="a"}'), 1);
      const ma = await metrics(a);
      assert.equal(value(ma, 'realize_files_indexed{arena="docs"}'), 4);
      assert.ok(value(ma, 'realize_peer_bytes_sent_total{peer="b"}') >= big.length);
      // A delete on A disappears from B's mount without remounting.
      assert.equal(await Deno.readTextFile(`${mnt}/docs/gone.txt`), "to be deleted");
      await Deno.remove(`${a.dir}/data/gone.txt`);
      await waitFor(
        async () => await Deno.stat(`${mnt}/docs/gone.txt`).then(() => false, () => true),
        "the delete through B's mount",
        { timeoutMs: 30_000 },
      );
      // A stops: what B read is still served from its cache; the rest fails with EIO.
      pa.kill("SIGTERM");
      aEnd = await stopped(pa);
      await waitFor(
        async () => {
          const peers = await realize(["peers", "--config", b.config]);
          return /a: (disconnected|not connected)/.test(peers.stdout);
        },
        "B sees A gone",
        { timeoutMs: 30_000 },
      );
      await Deno.writeTextFile("/proc/sys/vm/drop_caches", "1").catch(() => {});
      assert.equal(await sum(`${mnt}/docs/sub/big.bin`), await sum(`${a.dir}/data/sub/big.bin`));
      assert.equal(await Deno.readTextFile(file), "edited on a");
      const started = Date.now();
      const unread = await run(["cat", `${mnt}/docs/unread.txt`]);
      assert.notEqual(unread.code, 0);
      assert.match(unread.stderr, /Input\/output error/);
      assert.ok(Date.now() - started < 15_000, "EIO after a bounded wait, not a hang");
    } finally {
      if (aEnd === null) pa.kill("SIGTERM");
      pb.kill("SIGTERM");
      const [ra, rb] = await Promise.all([aEnd ?? stopped(pa), stopped(pb)]);
      assert.equal(ra.code, 0, ra.stderr);
      assert.equal(rb.code, 0, rb.stderr);
      assert.match(rb.stderr, /unmounted/);
    }
    assert.equal(mountedAt(mnt), null, "B left nothing mounted");
    await assert.rejects(Deno.stat(`${b.dir}/control.sock`), "the control socket is removed");
  },
});

Deno.test({
  name: "a daemon killed with SIGKILL leaves a stale mount that the next start clears",
  ignore: !HAS_FUSE,
  fn: async () => {
    using tmp = tempDir();
    const b = await node(tmp.path, "b");
    writeConfig(b, "");
    await Deno.writeTextFile(`${b.dir}/data/local.txt`, "local");
    const mnt = `${b.dir}/mnt`;
    await Deno.mkdir(mnt);
    using _left = unmountAtEnd(mnt);
    const first = daemon(b, ["--fuse", mnt]);
    await waitFor(() => mountedAt(mnt) !== null, "mounted", { timeoutMs: 30_000 });
    first.kill("SIGKILL");
    await first.output();
    assert.equal(mountedAt(mnt), "fuse.realize", "a stale mount stays behind");
    const second = daemon(b, ["--fuse", mnt]);
    let log = "";
    try {
      await waitFor(
        async () => await Deno.readTextFile(`${mnt}/docs/local.txt`).catch(() => "") === "local",
        "served again",
        { timeoutMs: 30_000 },
      );
    } finally {
      second.kill("SIGTERM");
      const r = await stopped(second);
      log = r.stderr;
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stderr, /clearing a stale FUSE mount/);
    }
    assert.equal(
      mountedAt(mnt),
      null,
      `still mounted after the second daemon stopped; its log:\n${log}`,
    );
  },
});

Deno.test({
  name: "SIGTERM while the mount comes up stops the daemon cleanly: exit 0, nothing mounted",
  ignore: !HAS_FUSE,
  fn: async () => {
    using tmp = tempDir();
    const { b, mnt } = await loneNode(tmp.path);
    using _left = unmountAtEnd(mnt);
    const p = daemon(b, ["--fuse", mnt]);
    // Signalled the moment the mount appears: the daemon is still starting.
    await waitFor(() => mountedAt(mnt) !== null, "mounted", { timeoutMs: 30_000, intervalMs: 1 });
    p.kill("SIGTERM");
    const r = await stopped(p);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /stopped/);
    assert.equal(mountedAt(mnt), null, `left mounted; the log:\n${r.stderr}`);
    await assert.rejects(Deno.stat(`${b.dir}/control.sock`), "the control socket is removed");
  },
});

Deno.test("SIGTERM during the catch-up scan ends the scan and stops cleanly: exit 0", async () => {
  using tmp = tempDir();
  const b = await node(tmp.path, "b");
  writeConfig(b, "");
  // Enough directories that the scan is still running when the control socket is up.
  for (let i = 0; i < 3000; i++) await Deno.mkdir(`${b.dir}/data/d${i}`);
  const p = daemon(b);
  await waitFor(
    async () => await Deno.stat(`${b.dir}/control.sock`).then(() => true, () => false),
    "the control socket",
    { timeoutMs: 30_000, intervalMs: 1 },
  );
  p.kill("SIGTERM");
  const r = await stopped(p);
  assert.equal(r.code, 0, r.stderr);
  assert.doesNotMatch(r.stderr, /running:/, "stopped before it finished starting");
  assert.match(r.stderr, /stopped/);
});

/** `/health` of a node's daemon: the HTTP status and the body. */
async function healthOf(n: Node): Promise<{ code: number; body: string }> {
  const r = await run([
    "curl",
    "-s",
    "-w",
    "\n%{http_code}",
    "--unix-socket",
    `${n.dir}/control.sock`,
    "http://realize/health",
  ]);
  const lines = r.stdout.trimEnd().split("\n");
  return { code: Number(lines.pop()), body: lines.join("\n") };
}

/** Node `b` alone (no peers), with an empty directory to mount on. */
async function loneNode(dir: string): Promise<{ b: Node; mnt: string }> {
  const b = await node(dir, "b");
  writeConfig(b, "");
  const mnt = `${b.dir}/mnt`;
  await Deno.mkdir(mnt);
  return { b, mnt };
}

Deno.test({
  name: "/health turns 503 with the reason when the mount is taken away; SIGTERM still exits 0",
  ignore: !HAS_FUSE,
  fn: async () => {
    using tmp = tempDir();
    const { b, mnt } = await loneNode(tmp.path);
    const p = daemon(b, ["--fuse", mnt]);
    const health = () => healthOf(b);
    try {
      await waitFor(async () => (await health()).code === 200, "healthy", { timeoutMs: 30_000 });
      assert.equal((await run(["umount", "-l", mnt])).code, 0);
      const sick = await health();
      assert.equal(sick.code, 503);
      assert.match(sick.body, /not mounted/);
    } finally {
      p.kill("SIGTERM");
      const r = await stopped(p);
      assert.equal(r.code, 0, r.stderr);
    }
    assert.equal(mountedAt(mnt), null);
  },
});

Deno.test("the daemon fails with one clear line for a missing mountpoint or key", async () => {
  using tmp = tempDir();
  const b = await node(tmp.path, "b");
  writeConfig(b, "");
  const noMount = await run([
    Deno.execPath(),
    "run",
    "-A",
    `${REPO}/main.ts`,
    "--config",
    b.config,
    "--fuse",
    `${b.dir}/nope`,
  ]);
  assert.equal(noMount.code, 1);
  assert.match(noMount.stderr, /realize: error: .*the directory does not exist/);
  const noStack = (stderr: string) => assert.doesNotMatch(stderr, /^\s+at /m, "no stack trace");
  noStack(noMount.stderr);
  await Deno.remove(`${b.dir}/peer.key`);
  const noKey = await run([Deno.execPath(), "run", "-A", `${REPO}/main.ts`, "--config", b.config]);
  assert.equal(noKey.code, 1);
  assert.match(noKey.stderr, /realize: error: Cannot read the private key ".*peer\.key"/);
  noStack(noKey.stderr);
});

Deno.test({
  name: "the daemon fails with one clear line for a busy mountpoint, no libfuse, no /dev/fuse",
  ignore: !HAS_FUSE,
  fn: async () => {
    using tmp = tempDir();
    const { b, mnt } = await loneNode(tmp.path);
    const main = [Deno.execPath(), "run", "-A", `${REPO}/main.ts`, "--config", b.config];
    const expect = (r: { code: number; stderr: string }, line: RegExp, mounted: string | null) => {
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stderr, line);
      assert.doesNotMatch(r.stderr, /^\s+at /m, "no stack trace");
      assert.equal(mountedAt(mnt), mounted, "the mountpoint as it was");
    };
    // Something else is mounted there: not ours to clear.
    assert.equal((await run(["mount", "-t", "tmpfs", "busy", mnt])).code, 0);
    try {
      expect(
        await run([...main, "--fuse", mnt]),
        /realize: error: .*Cannot mount on ".*mnt": tmpfs is mounted there \(busy\)/,
        "tmpfs",
      );
    } finally {
      await run(["umount", mnt]);
    }
    expect(
      await run([...main, "--fuse", mnt], {
        env: { REALIZE_LIBFUSE_PATH: "/nonexistent/libfuse3.so" },
      }),
      /realize: error: .*Cannot load libfuse3 from "\/nonexistent\/libfuse3.so" \(install the Debian package libfuse3-3\)/,
      null,
    );
    // No /dev/fuse: a private mount namespace whose /dev has only what Deno needs.
    const dev = `${tmp.path}/realdev`;
    await Deno.mkdir(dev);
    const hide = [
      `mount --bind /dev ${dev}`,
      "mount -t tmpfs tmpfs /dev",
      `for d in null zero urandom random; do touch /dev/$d; mount --bind ${dev}/$d /dev/$d; done`,
      `exec ${main.map((a) => `'${a}'`).join(" ")} --fuse '${mnt}'`,
    ].join(" && ");
    expect(
      await run(["unshare", "-m", "--propagation", "private", "sh", "-c", hide]),
      /realize: error: .*Cannot mount FUSE: \/dev\/fuse is missing/,
      null,
    );
  },
});

Deno.test({
  name:
    "mountall merges B's datadir over its FUSE view: A's files read, writes land in B's datadir and reach A; unmountall",
  ignore: !HAS_FUSE,
  fn: async () => {
    using tmp = tempDir();
    const { a, b, port } = await twoNodes(tmp.path, `mountpoint = "merged"\n`);
    await Deno.writeTextFile(`${a.dir}/data/remote.txt`, "from a");
    await Deno.writeTextFile(`${b.dir}/data/local.txt`, "from b");
    const fuse = `${b.dir}/fuse`;
    const merged = `${b.dir}/merged`;
    await Deno.mkdir(fuse);
    using _fuse = unmountAtEnd(fuse);
    using _merged = unmountAtEnd(merged); // disposed first: the overlay sits on the FUSE view
    const read = (path: string) => Deno.readTextFile(path).catch(() => "");
    const pa = daemon(a, ["--address", `127.0.0.1:${port}`]);
    const pb = daemon(b, ["--fuse", fuse]);
    try {
      await waitFor(async () => await read(`${fuse}/docs/remote.txt`) === "from a", "A's file", {
        timeoutMs: 30_000,
      });
      await waitFor(async () => (await healthOf(b)).code === 503, "B's /health answers", {
        timeoutMs: 30_000,
      });
      assert.match(
        (await healthOf(b)).body,
        /"overlay docs":\{"ok":false,"detail":"not mounted on \S+\/merged \(realize mountall\)"\}/,
      );
      const statusOfB = () => realize(["status", "--config", b.config]).then((r) => r.stdout);
      assert.match(await statusOfB(), /folder \S+\/merged \(not mounted: realize mountall\)\n/);
      const mountall = ["mountall", "--config", b.config, "--fuse", fuse];
      const m = await realize(mountall);
      assert.equal(m.code, 0, m.stderr);
      assert.match(
        m.stdout,
        /^docs: mounted on \S+\/b\/merged \(made the directory\): \S+\/b\/data over \S+\/b\/fuse\/docs \(privileged\)\n$/,
      );
      assert.equal(mountedAt(merged), "overlay");
      assert.equal((await healthOf(b)).code, 200, (await healthOf(b)).body);
      assert.match(await statusOfB(), /mark watch, folder \S+\/merged\n/);
      assert.equal(await Deno.readTextFile(`${merged}/remote.txt`), "from a", "A's, on demand");
      const status = getXattr(`${merged}/remote.txt`, "user.realize.status");
      assert.match(new TextDecoder().decode(status!), /^remote /, "the FUSE view's xattrs show");
      assert.equal(await Deno.readTextFile(`${merged}/local.txt`), "from b");
      await Deno.writeTextFile(`${merged}/new.txt`, "written through the overlay");
      assert.equal(await Deno.readTextFile(`${b.dir}/data/new.txt`), "written through the overlay");
      await waitFor(
        async () =>
          (await realize(["ls", "--config", a.config, "docs"])).stdout.includes("new.txt"),
        "B's new file listed by A",
        { timeoutMs: 30_000 },
      );
      // Again (a restarted daemon): the overlay is replaced, not stacked.
      const again = await realize(mountall);
      assert.equal(again.code, 0, again.stderr);
      assert.match(again.stdout, /replaced the previous one/);
      const u = await realize(["unmountall", "--config", b.config]);
      assert.equal(u.code, 0, u.stderr);
      assert.equal(u.stdout, `docs: unmounted ${merged}\n`);
      assert.equal(mountedAt(merged), null);
      const none = await realize(["unmountall", "--config", b.config]);
      assert.equal(none.stdout, `docs: nothing mounted on ${merged}\n`);
    } finally {
      pa.kill("SIGTERM");
      pb.kill("SIGTERM");
      const [ra, rb] = await Promise.all([stopped(pa), stopped(pb)]);
      assert.equal(ra.code, 0, ra.stderr);
      assert.equal(rb.code, 0, rb.stderr);
    }
  },
});

Deno.test({
  name: "three daemons: A's file edited through B's overlay is B's edit of it, on A and C",
  ignore: !HAS_FUSE,
  fn: async () => {
    using tmp = tempDir();
    const [a, b, c] = [
      await node(tmp.path, "a"),
      await node(tmp.path, "b"),
      await node(tmp.path, "c"),
    ];
    const [portA, portB] = [freePort(), freePort()];
    const peer = (n: Node, name: string, port?: number) =>
      `[[peer]]\nname = "${name}"\n${port === undefined ? "" : `address = "127.0.0.1:${port}"\n`}` +
      `pubkey = """${n.pub}"""\n`;
    writeConfig(a, peer(b, "b") + peer(c, "c"));
    writeConfig(b, `mountpoint = "merged"\n` + peer(a, "a", portA) + peer(c, "c"));
    writeConfig(c, peer(a, "a", portA) + peer(b, "b", portB));
    await Deno.writeTextFile(`${a.dir}/data/notes.txt`, "from a");
    const fuse = `${b.dir}/fuse`;
    const merged = `${b.dir}/merged`;
    await Deno.mkdir(fuse);
    using _fuse = unmountAtEnd(fuse);
    using _merged = unmountAtEnd(merged);
    /** The version `n` shows of notes.txt from the other peers: `<peer> <hash>`. */
    const shownOn = async (n: Node) => {
      const r = await realize(["ls", "--config", n.config, "--json", "docs", "notes.txt"]);
      const [entry] = r.code === 0 ? JSON.parse(r.stdout) : [];
      return (entry?.remote ?? null) === null ? null : `${entry.remote.peer} ${entry.remote.hash}`;
    };
    const hashOf = (text: string) => Hash.of(new TextEncoder().encode(text)).toString();
    const until = (what: string, check: () => Promise<boolean>) =>
      waitFor(check, what, { timeoutMs: 30_000 });
    const ps = [
      daemon(a, ["--address", `127.0.0.1:${portA}`]),
      daemon(b, ["--address", `127.0.0.1:${portB}`, "--fuse", fuse]),
      daemon(c),
    ];
    try {
      await until("C shows A's file", async () => await shownOn(c) === `a ${hashOf("from a")}`);
      await until(
        "B's view",
        () => Deno.stat(`${fuse}/docs/notes.txt`).then(() => true, () => false),
      );
      const m = await realize(["mountall", "--config", b.config, "--fuse", fuse]);
      assert.equal(m.code, 0, m.stderr);
      await Deno.writeTextFile(`${merged}/notes.txt`, "edited through b's folder");
      const edit = `b ${hashOf("edited through b's folder")}`;
      await until("C shows B's edit, not A's version", async () => await shownOn(c) === edit);
      // A's copy of the version B replaced is outdated: with the mark watch it is dropped
      // (docs/unreal.md), and A too shows B's edit.
      await until("A shows B's edit", async () => await shownOn(a) === edit);
      await until(
        "A's outdated copy dropped",
        () => Deno.stat(`${a.dir}/data/notes.txt`).then(() => false, () => true),
      );
      assert.equal((await realize(["unmountall", "--config", b.config])).code, 0);
    } finally {
      for (const p of ps) p.kill("SIGTERM");
      for (const r of await Promise.all(ps.map(stopped))) assert.equal(r.code, 0, r.stderr);
    }
  },
});
