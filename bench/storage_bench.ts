/**
 * Storage: the cost of our transaction helper, marks and the dirty log, against raw
 * node:sqlite on the same file in the same run.
 *
 * @module
 */

import { DatabaseSync } from "node:sqlite";
import {
  Database,
  DIRTY_SCHEMA,
  markDirty,
  markFor,
  MARKS_SCHEMA,
  setMark,
} from "../src/storage/mod.ts";
import { type Path, paths } from "../src/types/mod.ts";
import { rate, type Result } from "./_report.ts";

const ROWS = 100_000;
const LOOKUPS = 100_000;

function rawInsertRate(file: string): number {
  const raw = new DatabaseSync(file);
  raw.exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL");
  raw.exec("CREATE TABLE t (k TEXT PRIMARY KEY, v INTEGER)");
  const insert = raw.prepare("INSERT OR REPLACE INTO t (k, v) VALUES (?, ?)");
  const r = rate(ROWS, () => {
    raw.exec("BEGIN IMMEDIATE");
    for (let i = 0; i < ROWS; i++) insert.run(`dir${i % 1000}/file${i}`, i);
    raw.exec("COMMIT");
  });
  raw.close();
  return r;
}

function rawLookupRate(file: string): number {
  const raw = new DatabaseSync(file);
  const get = raw.prepare("SELECT v FROM t WHERE k = ?");
  const r = rate(LOOKUPS, () => {
    for (let i = 0; i < LOOKUPS; i++) get.get(`dir${i % 1000}/file${i}`);
  });
  raw.close();
  return r;
}

/**
 * Runs the storage benchmarks in a temporary directory.
 *
 * @returns the results
 */
export function run(): Result[] {
  const dir = Deno.makeTempDirSync({ prefix: "realize-bench-" });
  try {
    const rawInsert = rawInsertRate(`${dir}/raw.db`);
    const rawLookup = rawLookupRate(`${dir}/raw.db`);
    const db = Database.open(`${dir}/arena.db`, { schemas: [MARKS_SCHEMA, DIRTY_SCHEMA] });
    const files: Path[] = [];
    for (let i = 0; i < ROWS; i++) files.push(paths.parse(`a/b/c/d${i % 1000}/file${i}`));
    const marks = rate(ROWS, () => db.write((tx) => files.forEach((p) => setMark(tx, p, "keep"))));
    const dirty = rate(ROWS, () => db.write((tx) => files.forEach((p) => markDirty(tx, p))));
    db.write((tx) => setMark(tx, paths.parse("a"), "own"));
    const unmarked = files.map((_, i) => paths.parse(`a/u/v/w/x${i % 1000}/f${i}`)); // 6 lookups
    const lookups = rate(
      LOOKUPS,
      () => db.read((tx) => unmarked.forEach((p) => markFor(tx, p, "watch"))),
    );
    db.close();
    return [
      {
        name: "setMark, one transaction",
        value: marks,
        unit: "rows/s",
        reference: "raw INSERT",
        referenceValue: rawInsert,
      },
      {
        name: "markDirty, one transaction",
        value: dirty,
        unit: "rows/s",
        reference: "raw INSERT",
        referenceValue: rawInsert,
      },
      {
        name: "markFor, inherited 6 levels up",
        value: lookups,
        unit: "lookups/s",
        reference: "raw point SELECT",
        referenceValue: rawLookup,
      },
    ];
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
}
