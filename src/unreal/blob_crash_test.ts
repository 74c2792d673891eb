// SIGKILL a process that writes blobs (and one that evicts under a tight quota) at points
// chosen by watching its database. After each kill, every range the database records reads
// back the bytes written (before any repair: the write and removal orders guarantee it), and
// after reconcile() the files match the rows and the usage totals are the sum over the rows.
// The parent checks files with sync APIs between awaits.
// deno-lint-ignore-file no-sync-fn-in-async-fn
import assert from "node:assert/strict";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { fileURLToPath } from "node:url";
import { Database } from "../storage/mod.ts";
import { parseBlobFileName } from "./blob_file.ts";
import { allBlobRows, BLOB_SCHEMA } from "./blob_schema.ts";
import { BlobStore } from "./blob_store.ts";
import { checkInvariant, DEADLINE_MS } from "./blob_testing.ts";
import { EVICT_CHUNK, EVICT_QUOTA } from "./testdata/blob_child.ts";

const CHILD = fileURLToPath(new URL("./testdata/blob_child.ts", import.meta.url));

/** What the child has committed, read beside it (a WAL reader does not block it). */
interface Progress {
  /** Rows. */
  readonly rows: number;
  /** Highest LRU position: grows with every new blob and every batch of accesses. */
  readonly lru: number;
  /** Sum of the rows' usage: changes with every flush, trim and eviction. */
  readonly usage: number;
  /** Total length of the recorded ranges' JSON: changes with every recorded range. */
  readonly ranges: number;
}

function progress(dbPath: string): Progress | null {
  try {
    const db = new DatabaseSync(dbPath, { readOnly: true });
    try {
      const sql = "SELECT count(*) AS rows, coalesce(max(lru), 0) AS lru, " +
        "coalesce(sum(usage), 0) AS usage, coalesce(sum(length(ranges)), 0) AS ranges " +
        "FROM blob_entry";
      return db.prepare(sql).get() as unknown as Progress;
    } finally {
      db.close();
    }
  } catch {
    return null; // not created yet, or mid-checkpoint
  }
}

/** Reads `stream` until a line equal to `text` arrives; the rest is drained in the background. */
async function waitForLine(stream: ReadableStream<Uint8Array>, text: string): Promise<void> {
  const reader = stream.pipeThrough(new TextDecoderStream()).getReader();
  let seen = "";
  const deadline = setTimeout(() => reader.cancel(), DEADLINE_MS);
  try {
    while (!seen.split("\n").includes(text)) {
      const { value, done } = await reader.read();
      if (done) throw new Error(`child exited before printing "${text}"`);
      seen += value;
    }
  } finally {
    clearTimeout(deadline);
  }
  void (async () => {
    while (!(await reader.read()).done);
  })();
}

/**
 * Runs the child until it has committed `changes` changes (as seen by polling its database:
 * new blobs, flushes, trims, evictions), then SIGKILLs it.
 */
async function killAfter(
  args: { db: string; dir: string; mode: "write" | "evict"; seed: number },
  changes: number,
): Promise<void> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--quiet", CHILD, args.db, args.dir, args.mode, String(args.seed)],
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const stderr = new Response(child.stderr).text();
  try {
    await waitForLine(child.stdout, "ready");
    let last = JSON.stringify(progress(args.db));
    const deadline = Date.now() + DEADLINE_MS;
    for (let seen = 0; seen < changes;) {
      const now = JSON.stringify(progress(args.db));
      if (now !== last && now !== "null") seen++;
      last = now;
      if (Date.now() > deadline) throw new Error(`kill point never reached: ${await stderr}`);
      await new Promise((resolve) => setTimeout(resolve, 0)); // polling the database
    }
  } finally {
    child.kill("SIGKILL");
  }
  const status = await child.status;
  assert.equal(status.signal, "SIGKILL", `the child died on its own: ${await stderr}`);
  await stderr;
}

/** Reopens after a kill, reconciles, and checks the invariant and the files. */
async function checkAfterCrash(dbPath: string, dir: string, quota: number | null) {
  const db = Database.open(dbPath, { schemas: [BLOB_SCHEMA] });
  try {
    checkInvariant(db, dir, null); // holds at the moment of the crash, before any repair
    const store = BlobStore.open({ db, dir, limits: null });
    const report = store.reconcile();
    const checked = checkInvariant(db, dir, store);
    const sizes = new Map(db.read((tx) => [...allBlobRows(tx)]).map((r) => [`${r.hash}`, r.size]));
    for (const entry of Deno.readDirSync(dir)) {
      const hash = parseBlobFileName(entry.name);
      assert.ok(hash !== null && sizes.has(`${hash}`), `${entry.name} has a row`);
      assert.equal(Deno.statSync(join(dir, entry.name)).size, sizes.get(`${hash}`));
    }
    if (quota !== null) {
      assert.ok(store.usage().total <= quota + EVICT_CHUNK, `usage ${store.usage().total}`);
    }
    await store.close();
    return { report, checked };
  } finally {
    db.close();
  }
}

function withTempDir(): { path: string } & Disposable {
  const path = Deno.makeTempDirSync({ prefix: "realize_blob_crash_" });
  return { path, [Symbol.dispose]: () => Deno.removeSync(path, { recursive: true }) };
}

Deno.test("the blob store survives SIGKILL while writing ranges", async () => {
  using tmp = withTempDir();
  const db = join(tmp.path, "arena.db");
  const dir = join(tmp.path, "blobs");
  let recordedBytes = 0;
  const points = [1, 3, 8, 15, 30, 60, 2, 45];
  for (const [round, changes] of points.entries()) {
    await killAfter({ db, dir, mode: "write", seed: round + 1 }, changes);
    const { checked } = await checkAfterCrash(db, dir, null);
    recordedBytes += checked.bytes;
  }
  assert.ok(recordedBytes > 0, "the child recorded data before it was killed");
});

Deno.test("the blob store survives SIGKILL while evicting under a tight quota", async () => {
  using tmp = withTempDir();
  const db = join(tmp.path, "arena.db");
  const dir = join(tmp.path, "blobs");
  const points = [3, 8, 20, 35, 5, 50, 90, 13];
  let rows = 0;
  for (const [round, changes] of points.entries()) {
    await killAfter({ db, dir, mode: "evict", seed: round + 1 }, changes);
    const { checked } = await checkAfterCrash(db, dir, EVICT_QUOTA);
    rows = Math.max(rows, checked.rows);
  }
  assert.ok(rows > 0);
});
