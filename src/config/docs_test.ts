import assert from "node:assert/strict";
import { TEST_ENV } from "./_testing.ts";
import { parseConfig } from "./parse.ts";

const DOC = new URL("../../docs/config.md", import.meta.url);
const DOC_PATH = DOC.pathname;
const DOC_DIR = new URL(".", DOC).pathname.replace(/\/$/, "");

/** The ```toml blocks of docs/config.md, in order. */
function tomlBlocks(): string[] {
  const text = Deno.readTextFileSync(DOC);
  return [...text.matchAll(/^```toml\n([\s\S]*?)^```$/gm)].map((m) => m[1]!);
}

Deno.test("docs/config.md: every TOML example parses", () => {
  const blocks = tomlBlocks();
  assert.equal(blocks.length, 2);
  for (const block of blocks) parseConfig(block, DOC_PATH, { env: TEST_ENV });
});

Deno.test("docs/config.md: the full example means what the text says", () => {
  const config = parseConfig(tomlBlocks()[0]!, DOC_PATH, { env: TEST_ENV });
  assert.deepEqual(config.network.address, { host: "::", port: 9771 });
  assert.equal(config.control.socket, "/run/realize/control.sock");
  const [docs, photos] = config.arenas;
  assert.equal(docs!.mark, "watch");
  assert.deepEqual(docs!.diskUsage, {
    max: { kind: "bytes", bytes: 10 * 1024 ** 3 },
    leave: { kind: "percent", percent: 10 },
  });
  assert.equal(docs!.debounceMs, 3000);
  assert.equal(photos!.name, "photos/2024");
  assert.equal(photos!.workdir, `${DOC_DIR}/photos-2024.realize`);
  assert.deepEqual(photos!.diskUsage, { max: { kind: "percent", percent: 25 }, leave: null });
  const [laptop, phone] = config.peers;
  assert.equal(laptop!.batchRateLimitBytesPerSec, 2 * 1024 * 1024);
  assert.equal(phone!.address, null);
  assert.equal(phone!.pubkey.raw.length, 32);
});

Deno.test("docs/config.md: the full example uses every documented key", () => {
  const text = Deno.readTextFileSync(DOC);
  const keys = [...text.matchAll(/^\| `([a-z_]+)` +\|/gm)].map((m) => m[1]!);
  assert.ok(keys.length >= 20, `found ${keys.length} keys`);
  const example = tomlBlocks()[0]!;
  for (const key of keys) assert.match(example, new RegExp(`\\b${key} =`), key);
});
