import assert from "node:assert/strict";
import { check, checkImport } from "./check_layers.ts";

Deno.test("checkImport() allows lower layers through mod.ts only", () => {
  assert.equal(checkImport("src/storage/marks.ts", "src/types/mod.ts"), null);
  assert.equal(checkImport("src/storage/marks.ts", "src/storage/database.ts"), null);
  assert.equal(checkImport("src/storage/marks.ts", "src/version.ts"), null);
  assert.match(checkImport("src/storage/marks.ts", "src/types/path.ts")!, /mod\.ts/);
  assert.match(checkImport("src/types/path.ts", "src/storage/mod.ts")!, /layer 1.*layer 3/);
  assert.match(checkImport("ffi/libc/flock.ts", "src/util/mod.ts")!, /ffi/);
  assert.match(checkImport("src/nowhere/x.ts", "src/types/mod.ts")!, /no layer rank/);
});

Deno.test("the repository passes its own layer gate", () => {
  const problems = ["main.ts", "src/cli/mod.ts", "src/storage/mod.ts", "ffi/libc/flock.ts"]
    .flatMap((f) => {
      try {
        return check(f);
      } catch {
        return [];
      }
    });
  assert.deepEqual(problems, []);
});
