import assert from "node:assert/strict";
import { ConfigError } from "./error.ts";

Deno.test("ConfigError() names file, line and key in its message", () => {
  const e = new ConfigError(
    { file: "config.toml", line: 7, key: "arena[2].colour" },
    "unknown key",
  );
  assert.equal(e.message, "config.toml:7: arena[2].colour: unknown key");
  assert.equal(e.name, "ConfigError");
  assert.equal(e.file, "config.toml");
  assert.equal(e.line, 7);
  assert.equal(e.key, "arena[2].colour");
  assert.equal(e.problem, "unknown key");
});

Deno.test("ConfigError() prefers `where` for the key in its message", () => {
  const e = new ConfigError(
    { file: "c.toml", line: 3, key: "peer[0].pubkey", where: 'peer "laptop": pubkey' },
    "not an ED25519 public key (PEM SPKI)",
  );
  assert.equal(e.message, 'c.toml:3: peer "laptop": pubkey: not an ED25519 public key (PEM SPKI)');
  assert.equal(e.key, "peer[0].pubkey");
});

Deno.test("ConfigError() leaves out what it does not know", () => {
  const cause = new Error("boom");
  const e = new ConfigError({ file: "c.toml" }, "cannot read: boom", { cause });
  assert.equal(e.message, "c.toml: cannot read: boom");
  assert.equal(e.line, null);
  assert.equal(e.key, null);
  assert.equal(e.cause, cause);
  assert.equal(
    new ConfigError({ file: "c.toml", line: 2 }, "invalid value").message,
    "c.toml:2: invalid value",
  );
});
