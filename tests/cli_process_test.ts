// The CLI as users run it: a separate process, real exit codes and streams.
import assert from "node:assert/strict";
import { realize, tempDir } from "./helpers.ts";

Deno.test("realize --version exits 0 and prints the version", async () => {
  const r = await realize(["--version"]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^realize \d+\.\d+\.\d+ \(deno /);
});

Deno.test("realize with an unknown command exits 2 with one line on stderr", async () => {
  const r = await realize(["frobnicate"]);
  assert.equal(r.code, 2);
  assert.equal(r.stdout, "");
  assert.equal(r.stderr, 'realize: unknown command "frobnicate" (see realize --help)\n');
});

Deno.test({
  name: "realize demo narrates two peers and leaves nothing mounted or on disk",
  ignore: Deno.uid() !== 0,
  fn: async () => {
    const r = await realize(["demo"]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(
      r.stdout,
      /bob reads it through his mount, fetched on demand: "Hello from alice\.\\n"/,
    );
    assert.match(r.stdout, /bob sees the new version: "Hello from alice, edited\.\\n"/);
    assert.match(r.stdout, /bob still reads it, offline: "Hello from alice, edited\.\\n"/);
    const root = /Cleaned up: nothing mounted, (\S+) removed\./.exec(r.stdout)?.[1];
    assert.ok(root !== undefined, r.stdout);
    await assert.rejects(Deno.stat(root));
    const mounts = await Deno.readTextFile("/proc/self/mountinfo");
    assert.ok(!mounts.includes(root), "nothing left mounted");
  },
});

Deno.test("realize keygen prints a public key; a second run refuses to overwrite", async () => {
  using dir = tempDir();
  const key = `${dir.path}/peer.key`;
  const first = await realize(["keygen", "--out", key]);
  assert.equal(first.code, 0, first.stderr);
  assert.match(first.stdout, /^-----BEGIN PUBLIC KEY-----\n.+\n-----END PUBLIC KEY-----\n$/s);
  assert.equal((await Deno.stat(key)).mode! & 0o777, 0o600);
  const before = await Deno.readTextFile(key);
  const second = await realize(["keygen", "--out", key]);
  assert.equal(second.code, 1);
  assert.match(second.stderr, /^realize: error: Cannot create ".*": file exists/);
  assert.equal(await Deno.readTextFile(key), before);
});

Deno.test("realize with a bad REALIZE_LOG exits 2 naming the level", async () => {
  const r = await realize(["--version"], { env: { REALIZE_LOG: "loud" } });
  assert.equal(r.code, 2);
  assert.match(r.stderr, /unknown level "loud"/);
});
