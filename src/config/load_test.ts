import assert from "node:assert/strict";
import { join } from "node:path";
import { assertConfigErrorAsync, newPublicKeyPem, TEST_ENV } from "./_testing.ts";
import { ConfigError } from "./error.ts";
import { loadConfig } from "./load.ts";

/** Runs `fn` in a new temporary directory, removed afterwards. */
async function withTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.realPath(await Deno.makeTempDir());
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("loadConfig() loads a Rust-format file, paths relative to its directory", async () => {
  const { pem, raw } = await newPublicKeyPem();
  await withTempDir(async (dir) => {
    // Keys as in upstream.md §2.9 (manual_tests/a.toml), with a fresh key.
    const text = `[[arena]]
name = "one"
workdir = "one-a"
datadir = "one-a/data"
disk_usage.max = "16M"
disk_usage.leave = "10%"

[[peer]]
name = "b"
address = "127.0.0.1:8001"
pubkey = """
${pem}"""

[cache]
db = "a.db"
`;
    await Deno.mkdir(join(dir, "conf/one-a/data"), { recursive: true });
    await Deno.writeTextFile(join(dir, "conf/a.toml"), text);
    // Run from elsewhere: paths follow the file, not the working directory.
    const config = await loadConfig("conf/a.toml", { env: TEST_ENV, cwd: dir });
    assert.equal(config.file, join(dir, "conf/a.toml"));
    assert.equal(config.cache.db, join(dir, "conf/a.db"));
    assert.equal(config.arenas[0]!.workdir, join(dir, "conf/one-a"));
    assert.equal(config.arenas[0]!.datadir, join(dir, "conf/one-a/data"));
    assert.deepEqual(config.peers[0]!.pubkey.raw, raw);
  });
});

Deno.test("loadConfig() checks the arenas' directories", async () => {
  await withTempDir(async (dir) => {
    const file = join(dir, "config.toml");
    const text = ["[[arena]]", 'name = "docs"', 'workdir = "w"', 'datadir = "d"'].join("\n");
    await Deno.writeTextFile(file, text);
    await assertConfigErrorAsync(
      () => loadConfig(file, { env: TEST_ENV }),
      `${file}:4: arena "docs": datadir not found: ${dir}/d`,
      "arena[0].datadir",
    );
    await Deno.mkdir(join(dir, "d"));
    const config = await loadConfig(file, { env: TEST_ENV });
    assert.equal(config.arenas[0]!.datadir, join(dir, "d"));
  });
});

Deno.test("loadConfig() reports syntax errors with file and line", async () => {
  await withTempDir(async (dir) => {
    const file = join(dir, "config.toml");
    await Deno.writeTextFile(file, '[network]\naddress = "a:1"\nprivkey = \n');
    await assertConfigErrorAsync(
      () => loadConfig(file, { env: TEST_ENV }),
      `${file}:3: invalid value`,
    );
  });
});

Deno.test("loadConfig() reports a file it cannot read", async () => {
  await withTempDir(async (dir) => {
    const file = join(dir, "missing.toml");
    const error = await loadConfig(file).then(() => null, (e) => e);
    assert.ok(error instanceof ConfigError);
    assert.match(error.message, new RegExp(`^${file}: cannot read: No such file or directory`));
    assert.equal(error.line, null);
    assert.ok(error.cause instanceof Deno.errors.NotFound);
  });
});
