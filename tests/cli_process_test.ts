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

Deno.test("realize demo says it is not implemented yet and exits 2", async () => {
  const r = await realize(["demo"]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /^realize: demo: not implemented yet/);
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
