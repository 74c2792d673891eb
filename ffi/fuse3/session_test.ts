// The libfuse3 binding on a real kernel mount, served from a Worker.
import assert from "node:assert/strict";
import { mountedAt } from "../libc/mod.ts";

const HAS_FUSE = (() => {
  try {
    return Deno.statSync("/dev/fuse") !== null && Deno.uid() === 0;
  } catch {
    return false;
  }
})();

async function run(cmd: string[]): Promise<{ code: number; out: string; err: string }> {
  const r = await new Deno.Command(cmd[0]!, {
    args: cmd.slice(1),
    stdout: "piped",
    stderr: "piped",
  }).output();
  const d = new TextDecoder();
  return { code: r.code, out: d.decode(r.stdout), err: d.decode(r.stderr) };
}

function ask(worker: Worker, message: unknown): Promise<unknown> {
  return new Promise((resolve) => {
    worker.onmessage = (e) => resolve(e.data);
    worker.postMessage(message);
  });
}

async function withMount(
  delayMs: number,
  fn: (dir: string, worker: Worker, passthrough: boolean) => Promise<void>,
  backing: string | null = null,
  notifyInRequests = false,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "realize_fuse_" });
  const worker = new Worker(new URL("./testdata/memfs_worker.ts", import.meta.url), {
    type: "module",
  });
  try {
    const mounted = await ask(worker, { mount: dir, delayMs, backing, notifyInRequests });
    assert.match(String(mounted), /^mounted/);
    assert.equal(mountedAt(dir), "fuse.realize");
    await fn(dir, worker, mounted === "mounted, passthrough");
  } finally {
    assert.equal(await ask(worker, { unmount: true }), "unmounted");
    worker.terminate();
    assert.equal(mountedAt(dir), null, "nothing left mounted");
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test({
  name: "FuseSession serves lookup, getattr, readdir, read, xattrs; writes get EROFS",
  ignore: !HAS_FUSE,
  fn: () =>
    withMount(0, async (dir) => {
      assert.deepEqual((await run(["ls", dir])).out.split("\n").filter((x) => x), [
        "big",
        "hello",
        "pt",
      ]);
      assert.equal((await run(["cat", `${dir}/hello`])).out, "world\n");
      const st = await run(["stat", "-c", "%s %a %Y %i", `${dir}/hello`]);
      assert.equal(st.out.trim(), "6 644 1700000000 2");
      const big = await Deno.readFile(`${dir}/big`);
      assert.equal(big.length, 8 << 20);
      assert.ok(big.every((b, i) => b === (i & 0xff)), "every byte of 8 MiB");
      assert.equal(
        (await run(["setfattr", "-n", "user.mark", "-v", "own", `${dir}/hello`])).code,
        0,
      );
      assert.match(
        (await run(["getfattr", "-n", "user.mark", `${dir}/hello`])).out,
        /user.mark="own"/,
      );
      const write = await run(["sh", "-c", `echo x > ${dir}/hello`]);
      assert.notEqual(write.code, 0);
      assert.match(write.err, /Read-only file system/);
      assert.match((await run(["mkdir", `${dir}/new`])).err, /Read-only file system/);
      assert.match((await run(["cat", `${dir}/missing`])).err, /No such file or directory/);
      assert.match((await run(["cat", `${dir}/été`])).err, /No such file or directory/);
      // A name that is not UTF-8 cannot be a realize path: EINVAL, not a lookup.
      const latin1 = await run(["sh", "-c", `stat "$(printf '${dir}/\\351t\\351')"`]);
      assert.match(latin1.err, /Invalid argument/);
      assert.match((await run(["df", dir])).out, /memfs/);
    }),
});

Deno.test({
  name: "FuseSession answers asynchronously: slow replies overlap, unmount leaves no hung client",
  ignore: !HAS_FUSE,
  fn: () =>
    withMount(300, async (dir) => {
      const started = performance.now();
      const cats = await Promise.all([1, 2, 3].map(() => run(["cat", `${dir}/hello`])));
      for (const c of cats) assert.equal(c.out, "world\n");
      // Three lookups+opens+reads of 300 ms each, answered concurrently.
      assert.ok(performance.now() - started < 3 * 4 * 300, "replies overlapped");
    }),
});

Deno.test({
  name: "FuseSession serves readdirplus: ls -l needs no lookup per entry",
  ignore: !HAS_FUSE,
  fn: () =>
    withMount(0, async (dir, worker) => {
      const ls = await run(["ls", "-ln", "--time-style=+%s", dir]);
      const rows = ls.out.split("\n").filter((l) => !l.startsWith("total") && l !== "");
      assert.deepEqual(
        rows.map((l) => l.split(/\s+/).filter((_, i) => i === 0 || i >= 4).join(" ")),
        [
          "-rw-r--r-- 8388608 1700000000 big",
          "-rw-r--r-- 6 1700000000 hello",
          "-rw-r--r-- 3145728 1700000000 pt",
        ],
      );
      const counts = await ask(worker, { counts: true }) as { lookup: number; readdirplus: number };
      assert.ok(counts.readdirplus > 0, "the kernel listed with readdirplus");
      assert.equal(counts.lookup, 0, "no lookups: the listing carried the attributes");
    }),
});

Deno.test({
  name: "invalidations sent while the kernel waits for the same inode's request do not deadlock",
  ignore: !HAS_FUSE,
  fn: () =>
    withMount(
      50,
      async (dir, worker) => {
        // Each read of `big` and lookup of `hello` sends an invalidation of what the kernel
        // holds locked for that very request; the loop must answer it meanwhile. (Sent
        // from the loop's own thread, these hung the reader and the daemon for good.)
        const big = `${dir}/big`;
        const kill = ["timeout", "-s", "KILL", "20"];
        const read = await run([...kill, "dd", `if=${big}`, "of=/dev/null", "bs=128k", "count=8"]);
        assert.equal(read.code, 0, `read without a deadlock: ${read.err}`);
        const stat = await run([...kill, "stat", `${dir}/hello`]);
        assert.equal(stat.code, 0, stat.err);
        const counts = await ask(worker, { counts: true }) as { notified: number };
        assert.ok(counts.notified >= 2, `notifications returned (${counts.notified})`);
      },
      null,
      true,
    ),
});

Deno.test({
  name: "FuseSession opens with passthrough when the kernel offers it: reads skip the daemon",
  ignore: !HAS_FUSE,
  fn: async () => {
    const backing = await Deno.makeTempFile({ prefix: "realize_backing_" });
    try {
      const bytes = Uint8Array.from({ length: 3 << 20 }, (_, i) => i & 0xff);
      await Deno.writeFile(backing, bytes);
      await withMount(0, async (dir, worker, passthrough) => {
        const got = await Deno.readFile(`${dir}/pt`);
        assert.deepEqual(got, bytes);
        const counts = await ask(worker, { counts: true }) as { ptReads: number; ptOpens: number };
        if (passthrough) {
          assert.ok(counts.ptOpens > 0, "opened with passthrough");
          assert.equal(counts.ptReads, 0, "the kernel read the backing file itself");
        } else {
          assert.ok(counts.ptReads > 0, "without passthrough the daemon serves the reads");
        }
        assert.equal((await run(["cat", `${dir}/hello`])).out, "world\n", "others unchanged");
        // Negotiating passthrough swaps the device descriptor; it must stay close-on-exec, or
        // a child process would keep the connection (and a dead daemon's mount) alive.
        const devices: string[] = [];
        for await (const e of Deno.readDir("/proc/self/fd")) {
          const target = await Deno.readLink(`/proc/self/fd/${e.name}`).catch(() => null);
          if (target === "/dev/fuse") devices.push(e.name);
        }
        assert.ok(devices.length > 0, "the device is open");
        for (const fd of devices) {
          const info = await Deno.readTextFile(`/proc/self/fdinfo/${fd}`);
          const flags = parseInt(/^flags:\s+([0-7]+)/m.exec(info)![1]!, 8);
          assert.ok((flags & 0o2000000) !== 0, `descriptor ${fd} of /dev/fuse is close-on-exec`);
        }
      }, backing);
    } finally {
      await Deno.remove(backing);
    }
  },
});

Deno.test({
  name: "an overlay mounts on top of a passthrough mount, and reads through it skip the daemon",
  ignore: !HAS_FUSE,
  fn: async () => {
    const backing = await Deno.makeTempFile({ prefix: "realize_backing_" });
    const base = await Deno.makeTempDir({ prefix: "realize_overlay_" });
    try {
      const bytes = Uint8Array.from({ length: 3 << 20 }, (_, i) => i & 0xff); // as memfs serves it
      await Deno.writeFile(backing, bytes);
      for (const d of ["upper", "work", "merged"]) await Deno.mkdir(`${base}/${d}`);
      await withMount(0, async (dir, worker, passthrough) => {
        const merged = `${base}/merged`;
        const mount = await run([
          "mount",
          "-t",
          "overlay",
          "overlay",
          "-o",
          `lowerdir=${dir},upperdir=${base}/upper,workdir=${base}/work`,
          merged,
        ]);
        assert.equal(mount.code, 0, `overlay over the FUSE mount: ${mount.err}`);
        try {
          assert.deepEqual(await Deno.readFile(`${merged}/pt`), bytes);
          const counts = await ask(worker, { counts: true }) as { ptReads: number };
          if (passthrough) assert.equal(counts.ptReads, 0, "read by the kernel, not the daemon");
        } finally {
          assert.equal((await run(["umount", merged])).code, 0);
        }
      }, backing);
    } finally {
      await Deno.remove(backing);
      await Deno.remove(base, { recursive: true });
    }
  },
});
