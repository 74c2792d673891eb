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
  fn: (dir: string, worker: Worker) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "realize_fuse_" });
  const worker = new Worker(new URL("./testdata/memfs_worker.ts", import.meta.url), {
    type: "module",
  });
  try {
    assert.equal(await ask(worker, { mount: dir, delayMs }), "mounted");
    assert.equal(mountedAt(dir), "fuse.realize");
    await fn(dir, worker);
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
      assert.deepEqual((await run(["ls", dir])).out.split("\n").filter((x) => x), ["big", "hello"]);
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
        ["-rw-r--r-- 8388608 1700000000 big", "-rw-r--r-- 6 1700000000 hello"],
      );
      const counts = await ask(worker, { counts: true }) as { lookup: number; readdirplus: number };
      assert.ok(counts.readdirplus > 0, "the kernel listed with readdirplus");
      assert.equal(counts.lookup, 0, "no lookups: the listing carried the attributes");
    }),
});
