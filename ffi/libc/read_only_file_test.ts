// deno-lint-ignore-file no-sync-fn-in-async-fn
import assert from "node:assert/strict";
import { ErrnoError } from "./library.ts";
import { ReadOnlyFile } from "./read_only_file.ts";

Deno.test("ReadOnlyFile reads at offsets, short only at the end, and closes once", async () => {
  const dir = Deno.makeTempDirSync({ prefix: "realize_rof_" });
  try {
    const bytes = Uint8Array.from({ length: 10_000 }, (_, i) => i % 251);
    Deno.writeFileSync(`${dir}/f`, bytes);
    const f = ReadOnlyFile.open(`${dir}/f`);
    const buf = new Uint8Array(4000);
    assert.equal(f.pread(buf, 3000), 4000);
    assert.deepEqual(buf, bytes.subarray(3000, 7000));
    assert.equal(f.pread(buf, 8000), 2000);
    assert.deepEqual(buf.subarray(0, 2000), bytes.subarray(8000));
    assert.equal(f.pread(buf, 20_000), 0);
    Deno.removeSync(`${dir}/f`); // still readable while open
    assert.equal(f.pread(buf, 0), 4000);
    await f.close();
    await f.close();
    assert.throws(() => f.pread(buf, 0), /closed/);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("ReadOnlyFile.open() of a missing file throws ENOENT naming it", () => {
  assert.throws(
    () => ReadOnlyFile.open("/nonexistent/realize/blob"),
    (e) =>
      e instanceof ErrnoError && e.errno === 2 && e.message.includes("/nonexistent/realize/blob"),
  );
});
