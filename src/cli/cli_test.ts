import assert from "node:assert/strict";
import { parsePrivateKey, parsePublicKey } from "../keys/mod.ts";
import { captureIo, EXIT, runCli } from "./mod.ts";
import { COMMANDS } from "./commands.ts";

async function run(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  const io = captureIo();
  const code = await runCli(args, io);
  return { code, out: io.stdout.join(""), err: io.stderr.join("") };
}

Deno.test("runCli() --version prints the version", async () => {
  const r = await run("--version");
  assert.equal(r.code, EXIT.ok);
  assert.match(r.out, /^realize \d+\.\d+\.\d+ \(deno \d+\.\d+\.\d+\)\n$/);
});

Deno.test("runCli() --help lists every command", async () => {
  const r = await run("--help");
  assert.equal(r.code, EXIT.ok);
  for (const c of COMMANDS) assert.ok(r.out.includes(`realize ${c.usage}`), c.name);
  assert.ok(r.out.includes("--config FILE"));
});

Deno.test("runCli() help COMMAND and COMMAND --help print its usage", async () => {
  for (const args of [["help", "keygen"], ["keygen", "--help"], ["help", "peer", "connect"]]) {
    const r = await run(...args);
    assert.equal(r.code, EXIT.ok);
    assert.match(r.out, /^Usage: realize (keygen --out FILE|peer connect NAME)\n/);
  }
});

Deno.test("runCli() usage errors exit 2 with one line", async () => {
  const cases: [string[], RegExp][] = [
    [[], /^realize: no command given/],
    [["frobnicate"], /^realize: unknown command "frobnicate"/],
    [["peer", "dance"], /^realize: unknown command "peer dance"/],
    [["keygen"], /^realize: missing --out\n$/],
    [["keygen", "--bogus"], /^realize: unknown option --bogus\n$/],
    [["--config"], /^realize: .*--config/],
    [["--fuse", "/x"], /^realize: missing --config/],
    [["--config", "a.toml", "extra"], /^realize: unexpected argument "extra"/],
    [["help", "nope"], /^realize: unknown command "nope"/],
  ];
  for (const [args, pattern] of cases) {
    const r = await run(...args);
    assert.equal(r.code, EXIT.usage, args.join(" "));
    assert.equal(r.out, "");
    assert.match(r.err, pattern, args.join(" "));
    assert.equal(r.err.trimEnd().split("\n").length, 1, `one line for ${args.join(" ")}`);
  }
});

Deno.test("runCli() unimplemented commands say so and exit 2", async () => {
  const implemented = [
    "demo",
    "keygen",
    "check",
    "ls",
    "status",
    "peers",
    "peer connect",
    "peer disconnect",
    "mark get",
    "mark set",
    "mark clear",
    "mountall",
    "unmountall",
  ];
  for (const c of COMMANDS.filter((c) => !implemented.includes(c.name))) {
    const r = await run(...c.name.split(" "));
    assert.equal(r.code, EXIT.usage, c.name);
    assert.match(
      r.err,
      new RegExp(`^realize: ${c.name}: not implemented yet \\(arrives with .+\\)\\n$`),
    );
  }
});

Deno.test("runCli() keygen writes a 0600 PKCS#8 key and prints its SPKI public key", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const out = `${dir}/peer.key`;
    const r = await run("keygen", "--out", out);
    assert.equal(r.code, EXIT.ok, r.err);
    assert.equal((await Deno.stat(out)).mode! & 0o777, 0o600);
    const pair = await parsePrivateKey(await Deno.readTextFile(out));
    const pub = await parsePublicKey(r.out);
    assert.deepEqual(pub.raw, pair.publicKey.raw);
    assert.match(r.out, /^-----BEGIN PUBLIC KEY-----\n/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("runCli() keygen refuses to overwrite an existing file", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const out = `${dir}/peer.key`;
    await Deno.writeTextFile(out, "precious");
    const r = await run("keygen", "--out", out);
    assert.equal(r.code, EXIT.error);
    assert.match(
      r.err,
      /^realize: error: Cannot create ".*peer\.key": file exists; refusing to overwrite a key: /,
    );
    assert.equal(await Deno.readTextFile(out), "precious");
    const missing = await run("keygen", "--out", `${dir}/no/such/dir/k`);
    assert.equal(missing.code, EXIT.error);
    assert.match(missing.err, /cannot write the key: .*No such file or directory/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
