// deno-lint-ignore-file no-sync-fn-in-async-fn
import assert from "node:assert/strict";
import { Pipe } from "./pipe.ts";
import { ReadOnlyFile } from "./read_only_file.ts";

Deno.test("Pipe.fill() splices file bytes in, stops when full or at the end; drain() empties", async () => {
  const dir = Deno.makeTempDirSync({ prefix: "realize_pipe_" });
  const pipe = Pipe.open(256 * 1024);
  const file = (() => {
    const bytes = Uint8Array.from({ length: 600_000 }, (_, i) => (i * 7) % 253);
    Deno.writeFileSync(`${dir}/f`, bytes);
    return { f: ReadOnlyFile.open(`${dir}/f`), bytes };
  })();
  try {
    assert.ok(pipe.capacity >= 256 * 1024);
    assert.equal(pipe.fill(file.f, 4096, 100_000), 100_000);
    // What went in comes out, in order (read through the descriptor as a FUSE reply would).
    const out = new Uint8Array(100_000);
    const reader = await Deno.open(`/proc/self/fd/${pipe.readDescriptor}`, { read: true });
    let got = 0;
    while (got < out.length) got += (await reader.read(out.subarray(got)))!;
    reader.close();
    assert.deepEqual(out, file.bytes.subarray(4096, 104_096));
    assert.equal(pipe.drain(), 0, "empty after reading");
    // More than it holds: a short fill, never a wait.
    const n = pipe.fill(file.f, 0, 600_000);
    assert.ok(n >= 256 * 1024 && n < 600_000, `filled ${n}`);
    assert.equal(pipe.drain(), n);
    assert.equal(pipe.fill(file.f, 590_000, 50_000), 10_000, "the file ends");
    assert.equal(pipe.drain(), 10_000);
  } finally {
    pipe.close();
    pipe.close();
    await file.f.close();
    Deno.removeSync(dir, { recursive: true });
  }
});
