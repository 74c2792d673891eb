// `realize ls` as users run it: a real arena database with local and remote files.
import assert from "node:assert/strict";
import { HashPool, RealArena } from "../src/real/mod.ts";
import { GLOBAL_INODE_SCHEMA, openArenaDatabase, openGlobalDatabase } from "../src/storage/mod.ts";
import { Hash, parseArenaName, parsePeerName, paths, UnixTime } from "../src/types/mod.ts";
import { ARENA_SCHEMAS, GLOBAL_TREE_SCHEMA, UnrealArena } from "../src/unreal/mod.ts";
import { realize, tempDir, waitFor } from "./helpers.ts";

const enc = new TextEncoder();

async function arenaWithFiles(dir: string): Promise<string> {
  await Deno.mkdir(`${dir}/data/docs`, { recursive: true });
  await Deno.writeTextFile(`${dir}/data/docs/mine.txt`, "local content");
  const config = `${dir}/config.toml`;
  await Deno.writeTextFile(
    config,
    `[cache]\ndb = "cache.db"\n[[arena]]\nname = "docs"\nworkdir = "work"\ndatadir = "data"\n`,
  );
  const name = parseArenaName("docs");
  const globalDb = openGlobalDatabase(`${dir}/cache.db`, {
    schemas: [GLOBAL_INODE_SCHEMA, GLOBAL_TREE_SCHEMA],
  });
  const db = openArenaDatabase(`${dir}/work`, name, { schemas: ARENA_SCHEMAS });
  const pool = new HashPool({ workers: 1 });
  const real = new RealArena({
    name,
    db,
    datadir: `${dir}/data`,
    debounceMs: 0,
    pool,
    hashersMax: 1,
  });
  const unreal = UnrealArena.open({ name, db, globalDb, workdir: `${dir}/work`, diskUsage: null });
  try {
    await real.start();
    await waitFor(() => real.idle(), "the local file hashed");
    const add = (path: string, content: string) => ({
      kind: "add" as const,
      index: 1,
      path: paths.parse(path),
      size: content.length,
      mtime: UnixTime.of(1_700_000_000),
      hash: Hash.of(enc.encode(content)),
    });
    unreal.apply(parsePeerName("laptop"), [
      add("docs/report.pdf", "0123456789"),
      add("docs/sub/x", "x"),
    ]);
    unreal.apply(parsePeerName("desk"), [add("docs/report.pdf", "0123456789")]);
    const blob = unreal.blobs.open(Hash.of(enc.encode("0123456789")), 10);
    blob.write(0, enc.encode("01234"));
    await blob.close();
  } finally {
    await real.stop();
    await unreal.close();
    await pool.close();
    db.close();
    globalDb.close();
  }
  return config;
}

Deno.test("realize ls lists local and remote files with versions and cache state", async () => {
  using tmp = tempDir();
  const config = await arenaWithFiles(tmp.path);
  const r = await realize(["ls", "--config", config, "docs", "docs"]);
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stdout.trimEnd().split("\n");
  assert.equal(lines.length, 3, r.stdout);
  assert.match(lines[0]!, /^local\s+13 B .* mine\.txt {2}local:\S{8}$/);
  assert.match(lines[1]!, /^remote 50%\s+10 B .* report\.pdf {2}desk:\S{8} \*laptop:\S{8}$/);
  assert.match(lines[2]!, /^dir\s+sub\/$/);
  const json = await realize(["ls", "--config", config, "--json", "docs", "docs/report.pdf"]);
  assert.equal(json.code, 0, json.stderr);
  const [entry] = JSON.parse(json.stdout);
  assert.equal(entry.status, "remote 50%");
  assert.equal(entry.remote.peer, "laptop");
  assert.deepEqual(entry.peers.map((p: { peer: string }) => p.peer), ["desk", "laptop"]);
  assert.equal(entry.cached.bytes, 5);
});

Deno.test("realize ls gives clear errors: unknown arena, missing path, arena in use", async () => {
  using tmp = tempDir();
  const config = await arenaWithFiles(tmp.path);
  const unknown = await realize(["ls", "--config", config, "photos"]);
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /^realize: unknown arena "photos" \(configured: docs\)\n$/);
  const missing = await realize(["ls", "--config", config, "docs", "nope"]);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /Cannot list "docs\/nope": no such file or directory/);
  const held = openArenaDatabase(`${tmp.path}/work`, parseArenaName("docs"), {
    schemas: ARENA_SCHEMAS,
  });
  try {
    const busy = await realize(["ls", "--config", config, "docs"]);
    assert.equal(busy.code, 1);
    assert.match(busy.stderr, new RegExp(`arena in use by pid ${Deno.pid}`));
  } finally {
    held.close();
  }
});
