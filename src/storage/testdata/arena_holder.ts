/**
 * Opens an arena database from another process, for `arena_db_test.ts`.
 *
 * `deno run -A arena_holder.ts WORKDIR ARENA try`: opens the arena, prints `opened`,
 * closes it and exits 0; prints the error message and exits 3 when it cannot.
 *
 * `… hold ROWS`: commits ROWS rows, then inserts more rows inside a write transaction,
 * prints `ready` and blocks inside that transaction until killed.
 *
 * @module
 */

// deno-lint-ignore-file no-console
import { parseArenaName } from "../../types/mod.ts";
import { openArenaDatabase } from "../arena_db.ts";
import { type Schema, StorageError } from "../database.ts";

/** The table the holder fills. */
export const HOLDER_SCHEMA: Schema = {
  name: "holder",
  migrations: ["CREATE TABLE holder_row (n INTEGER PRIMARY KEY, text TEXT NOT NULL)"],
};

function main(): void {
  const [workdir, arenaText, mode, rowsText] = Deno.args;
  if (workdir === undefined || arenaText === undefined) throw new Error("usage");
  let db;
  try {
    db = openArenaDatabase(workdir, parseArenaName(arenaText), { schemas: [HOLDER_SCHEMA] });
  } catch (error) {
    if (!(error instanceof StorageError)) throw error;
    console.log(error.message);
    Deno.exit(3);
  }
  if (mode === "try") {
    console.log("opened");
    db.close();
    return;
  }
  const rows = Number(rowsText);
  db.write((tx) => {
    for (let n = 1; n <= rows; n++) tx.run("INSERT INTO holder_row VALUES (?, 'committed')", n);
  });
  db.write((tx) => {
    for (let n = rows + 1; n <= 2 * rows; n++) {
      tx.run("INSERT INTO holder_row VALUES (?, 'uncommitted')", n);
    }
    console.log("ready");
    const blocker = new Int32Array(new SharedArrayBuffer(4));
    for (;;) Atomics.wait(blocker, 0, 0, 60_000); // inside the transaction, until killed
  });
}

if (import.meta.main) main();
