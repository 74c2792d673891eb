// The CLI as users run it: a separate process, real exit codes and streams.
import assert from "node:assert/strict";
import { MNT, umount } from "../ffi/libc/mod.ts";
import { realize, spawnRealize, tempDir, waitFor } from "./helpers.ts";

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
    assert.match(
      r.stdout,
      /4\. bob works in his folder, \S+\/bob\/folder: .*\n {3}it holds notes\.txt;/,
    );
    assert.match(
      r.stdout,
      /it is a normal file of his datadir \("Thanks, alice\.\\n"\); alice's daemon lists it, from bob\./,
    );
    assert.match(r.stdout, /bob still reads it, offline: "Hello from alice, edited\.\\n"/);
    const root = /Cleaned up: nothing mounted, (\S+) removed\./.exec(r.stdout)?.[1];
    assert.ok(root !== undefined, r.stdout);
    await assert.rejects(Deno.stat(root));
    const mounts = await Deno.readTextFile("/proc/self/mountinfo");
    assert.ok(!mounts.includes(root), "nothing left mounted");
  },
});

Deno.test({
  name: "realize demo interrupted while bob's mount comes up still cleans up everything",
  ignore: Deno.uid() !== 0,
  fn: async () => {
    const p = spawnRealize(["demo"]);
    const output = p.output();
    const demoMount = () =>
      Deno.readTextFileSync("/proc/self/mountinfo").split("\n")
        .map((line) => line.split(" ")[4] ?? "").find((m) => m.includes("/realize-demo-"));
    let mnt: string | undefined;
    try {
      // Interrupted the moment the mount appears: bob's daemon is still starting.
      await waitFor(() => (mnt = demoMount()) !== undefined, "bob's mount", {
        timeoutMs: 30_000,
        intervalMs: 1,
      });
      p.kill("SIGINT");
      const r = await output;
      const stdout = new TextDecoder().decode(r.stdout);
      assert.equal(r.code, 20, `${stdout}${new TextDecoder().decode(r.stderr)}`);
      assert.match(stdout, /Interrupted: cleaning up\./);
      assert.match(stdout, /Cleaned up: nothing mounted/);
      assert.equal(demoMount(), undefined, `${mnt} left mounted`);
      await assert.rejects(
        Deno.stat(mnt!.slice(0, mnt!.indexOf("/bob/"))),
        "the demo's directory is removed",
      );
    } finally {
      // A failure must not leave the demo, or its mount, behind for the next test.
      try {
        p.kill("SIGKILL");
      } catch { /* it has exited */ }
      await output;
      if (mnt !== undefined && demoMount() === mnt) umount(mnt, MNT.DETACH);
      if (mnt !== undefined) {
        await Deno.remove(mnt.slice(0, mnt.indexOf("/bob/")), { recursive: true }).catch(() => {});
      }
    }
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
