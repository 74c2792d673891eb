// SIGKILL at random moments while the real scans, hashes and writes history; after a
// restart the index and the history are consistent: every file indexed with the hash
// of its content, and each file announced exactly twice (seen, then hashed).
import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { openArenaDatabase } from "../src/storage/mod.ts";
import { Hash, parseArenaName, paths } from "../src/types/mod.ts";
import { getFile, historyAfter, lastIndex, REAL_SCHEMAS, translate } from "../src/real/mod.ts";
import { REPO, tempDir } from "./helpers.ts";

const CHILD = `${REPO}/tests/testdata/real_child.ts`;
const SMALL = 6000;
const LARGE = 24;
const TOTAL = SMALL + LARGE;

function makeFiles(datadir: string): Map<string, Hash> {
  const want = new Map<string, Hash>();
  const chunk = new Uint8Array(65536);
  for (let i = 0; i < SMALL + LARGE; i++) {
    const dir = `d${i % 200}`;
    Deno.mkdirSync(`${datadir}/${dir}`, { recursive: true });
    const size = i < SMALL ? 200 + (i % 900) : 4 << 20;
    const data = new Uint8Array(size);
    for (let at = 0; at < size; at += chunk.length) {
      crypto.getRandomValues(chunk);
      data.set(chunk.subarray(0, Math.min(chunk.length, size - at)), at);
    }
    const name = `${dir}/f${i}`;
    Deno.writeFileSync(`${datadir}/${name}`, data);
    want.set(name, Hash.of(data));
  }
  return want;
}

interface Seen {
  files: number;
  pending: number;
}

/** What the child has committed so far, read beside it (WAL readers do not block it). */
function seen(workdir: string): Seen | null {
  try {
    const db = new DatabaseSync(`${workdir}/arena.db`, { readOnly: true });
    try {
      return db.prepare(
        "SELECT count(*) AS files, count(*) - count(hash) AS pending FROM index_file",
      ).get() as unknown as Seen;
    } finally {
      db.close();
    }
  } catch {
    return null; // not created yet
  }
}

/** Runs the child until `killWhen` holds for what it committed, then SIGKILLs it. */
async function runChild(workdir: string, datadir: string, killWhen: ((s: Seen) => boolean) | null) {
  const args = ["run", "-A", "--no-prompt", CHILD, workdir, datadir];
  if (killWhen === null) args.push("--exit-when-idle");
  const child = new Deno.Command(Deno.execPath(), { args, stdout: "piped", stderr: "piped" })
    .spawn();
  const output = child.output();
  let exited = false;
  output.finally(() => exited = true);
  let killedAt: Seen | null = null;
  while (killWhen !== null && !exited) {
    const s = seen(workdir);
    if (s !== null && killWhen(s)) {
      child.kill("SIGKILL");
      killedAt = s;
      break;
    }
    await new Promise((r) => setTimeout(r, 1));
  }
  const out = await output;
  const text = (b: Uint8Array) => new TextDecoder().decode(b);
  return {
    code: out.code,
    signal: out.signal,
    killedAt,
    stdout: text(out.stdout),
    stderr: text(out.stderr),
  };
}

Deno.test("the real survives SIGKILL during scanning, hashing and history writes", async () => {
  using tmp = tempDir();
  const datadir = `${tmp.path}/data`;
  const workdir = `${tmp.path}/work`;
  const want = makeFiles(datadir);
  const phases: [string, (s: Seen) => boolean][] = [
    ["mid-scan", (s) => s.files > 0 && s.files < TOTAL * 0.5],
    ["late scan", (s) => s.files > TOTAL * 0.5 && s.files < TOTAL],
    ["early hashing", (s) => s.files === TOTAL && s.pending < TOTAL && s.pending > TOTAL * 0.6],
    ["mid hashing", (s) => s.pending < TOTAL * 0.6 && s.pending > TOTAL * 0.1],
    ["late hashing", (s) => s.pending < TOTAL * 0.1 && s.pending > 0],
  ];
  for (const [phase, when] of phases) {
    const r = await runChild(workdir, datadir, when);
    assert.equal(r.signal, "SIGKILL", `killed ${phase}: ${r.stderr}`);
    assert.ok(r.killedAt !== null && when(r.killedAt), phase);
  }
  const last = await runChild(workdir, datadir, null);
  assert.equal(last.code, 0, last.stderr);
  assert.match(last.stdout, /idle/);

  const db = openArenaDatabase(workdir, parseArenaName("crash"), { schemas: REAL_SCHEMAS });
  try {
    db.read((tx) => {
      for (const [name, hash] of want) {
        const e = getFile(tx, paths.parse(name));
        assert.ok(e?.hash?.equals(hash), `${name} indexed with its content's hash`);
      }
      const entries = [];
      for (let page = historyAfter(tx, 0, 5000); page.length > 0;) {
        entries.push(...page);
        page = historyAfter(tx, page.at(-1)!.index, 5000);
      }
      assert.deepEqual(entries.map((e) => e.index), entries.map((_, i) => i + 1), "no gaps");
      assert.equal(lastIndex(tx), entries.length);
      const perPath = new Map<string, string[]>();
      for (const e of entries) perPath.set(e.path, [...perPath.get(e.path) ?? [], e.kind]);
      assert.equal(perPath.size, want.size);
      for (const [path, kinds] of perPath) {
        assert.deepEqual(kinds, ["add", "add"], `${path}: seen once, hashed once`);
      }
      for (const n of entries.flatMap((e) => translate(tx, e))) {
        assert.ok(n.kind === "add" && n.hash?.equals(want.get(n.path)!), n.path);
      }
    });
  } finally {
    db.close();
  }
});
