import assert from "node:assert/strict";
import { ErrnoError } from "./library.ts";
import { dataExtents, punchHole } from "./sparse.ts";

const MIB = 1 << 20;

/** Runs `fn` with a fresh temp dir, then removes it. */
function withTempDir(fn: (dir: string) => void): void {
  const dir = Deno.makeTempDirSync({ prefix: "realize-sparse-" });
  try {
    fn(dir);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
}

/** A sparse file of `size` bytes with 1 MiB of 0xab at each offset of `at`. */
function sparseFile(path: string, size: number, at: readonly number[]): void {
  using file = Deno.openSync(path, { read: true, write: true, create: true });
  file.truncateSync(size);
  const data = new Uint8Array(MIB).fill(0xab);
  for (const offset of at) {
    file.seekSync(offset, Deno.SeekMode.Start);
    assert.equal(file.writeSync(data), MIB);
  }
}

Deno.test("dataExtents() reports the written parts of a sparse file", () => {
  withTempDir((dir) => {
    const path = `${dir}/f`;
    sparseFile(path, 64 * MIB, [0, 10 * MIB, 63 * MIB]);
    assert.deepEqual(dataExtents(path), [
      [0, MIB],
      [10 * MIB, 11 * MIB],
      [63 * MIB, 64 * MIB],
    ]);
  });
});

Deno.test("dataExtents() returns [] for a file of holes and null for a missing file", () => {
  withTempDir((dir) => {
    sparseFile(`${dir}/holes`, 8 * MIB, []);
    assert.deepEqual(dataExtents(`${dir}/holes`), []);
    Deno.writeFileSync(`${dir}/empty`, new Uint8Array());
    assert.deepEqual(dataExtents(`${dir}/empty`), []);
    assert.equal(dataExtents(`${dir}/missing`), null);
  });
});

Deno.test("punchHole() frees blocks, keeps the size and reads back zeros", () => {
  withTempDir((dir) => {
    const path = `${dir}/f`;
    sparseFile(path, 8 * MIB, [0, MIB, 2 * MIB]);
    const before = Deno.statSync(path);
    punchHole(path, MIB, MIB);
    const after = Deno.statSync(path);
    assert.equal(after.size, 8 * MIB);
    assert.equal(before.blocks! - after.blocks!, MIB / 512);
    assert.deepEqual(dataExtents(path), [[0, MIB], [2 * MIB, 3 * MIB]]);
    const bytes = Deno.readFileSync(path);
    assert.ok(bytes.subarray(MIB, 2 * MIB).every((b) => b === 0));
    assert.ok(bytes.subarray(0, MIB).every((b) => b === 0xab));
  });
});

Deno.test("punchHole() zeroes partial blocks at the ends of the range", () => {
  withTempDir((dir) => {
    const path = `${dir}/f`;
    sparseFile(path, MIB, [0]);
    punchHole(path, 100, 8000);
    const bytes = Deno.readFileSync(path);
    assert.equal(bytes[99], 0xab);
    assert.ok(bytes.subarray(100, 8100).every((b) => b === 0));
    assert.equal(bytes[8100], 0xab);
    punchHole(path, 0, 0); // nothing to do
  });
});

Deno.test("punchHole() throws ErrnoError for a missing file and RangeError for bad offsets", () => {
  withTempDir((dir) => {
    assert.throws(() => punchHole(`${dir}/missing`, 0, 4096), (e) => {
      assert.ok(e instanceof ErrnoError);
      assert.equal(e.errno, 2);
      return true;
    });
    Deno.writeFileSync(`${dir}/f`, new Uint8Array(10));
    assert.throws(() => punchHole(`${dir}/f`, -1, 4096), RangeError);
    assert.throws(() => punchHole(`${dir}/f`, 0, 1.5), RangeError);
  });
});
