import assert from "node:assert/strict";
import { ErrnoError } from "./library.ts";
import { statvfs } from "./statvfs.ts";

/** `stat -f` of coreutils, for comparison: fundamental block size, total, free, available. */
function statF(path: string): [number, number, number, number] {
  const out = new Deno.Command("stat", { args: ["-f", "-c", "%S %b %f %a", path] }).outputSync();
  assert.ok(out.success, new TextDecoder().decode(out.stderr));
  const [size, blocks, free, avail] = new TextDecoder().decode(out.stdout).trim().split(" ")
    .map(Number);
  return [size!, blocks!, free!, avail!];
}

Deno.test("statvfs() agrees with stat -f on the size of the filesystem", () => {
  const space = statvfs("/tmp");
  const [blockSize, blocks] = statF("/tmp");
  assert.equal(space.blockSize, blockSize);
  assert.equal(space.totalBytes, blocks * blockSize);
  assert.ok(space.availableBytes <= space.freeBytes);
  assert.ok(space.freeBytes <= space.totalBytes);
});

Deno.test({
  name: "statvfs() reports exact free space on a tmpfs",
  ignore: Deno.uid() !== 0,
  fn() {
    const dir = Deno.makeTempDirSync({ prefix: "realize-statvfs-" });
    const mount = new Deno.Command("mount", { args: ["-t", "tmpfs", "-o", "size=8m", "x", dir] });
    assert.ok(mount.outputSync().success);
    try {
      const empty = statvfs(dir);
      assert.equal(empty.totalBytes, 8 << 20);
      assert.equal(empty.availableBytes, 8 << 20);
      Deno.writeFileSync(`${dir}/f`, new Uint8Array(1 << 20).fill(1));
      const used = statvfs(`${dir}/f`);
      assert.equal(used.availableBytes, 7 << 20);
      assert.equal(used.freeBytes, 7 << 20);
      assert.deepEqual(statF(dir).slice(1).map((n) => n * used.blockSize), [
        used.totalBytes,
        used.freeBytes,
        used.availableBytes,
      ]);
    } finally {
      new Deno.Command("umount", { args: [dir] }).outputSync();
      Deno.removeSync(dir, { recursive: true });
    }
  },
});

Deno.test("statvfs() throws ErrnoError ENOENT for a missing path", () => {
  assert.throws(() => statvfs("/nonexistent/realize"), (e) => {
    assert.ok(e instanceof ErrnoError);
    assert.equal(e.errno, 2);
    return true;
  });
});
