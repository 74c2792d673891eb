/**
 * Explicit marks of an arena's files and directories (seed `#marks`), and the
 * effective mark of a path: its own mark, else its nearest marked ancestor's, else the
 * arena mark (an explicit mark on the root path `""`, set by the user at runtime),
 * else the arena's default from the configuration.
 *
 * Table `marks_mark(path, mark)`; a mark is stored as its index in {@linkcode MARKS}.
 *
 * @module
 */

import { type Mark, MARKS, type Path, paths } from "../types/mod.ts";
import { assert } from "../util/mod.ts";
import type { ReadTx, Schema, WriteTx } from "./database.ts";

/** The tables of the marks subsystem. */
export const MARKS_SCHEMA: Schema = {
  name: "marks",
  migrations: [
    `CREATE TABLE marks_mark (
       path TEXT PRIMARY KEY NOT NULL,
       mark INTEGER NOT NULL CHECK (mark BETWEEN 0 AND ${MARKS.length - 1})
     ) WITHOUT ROWID`,
  ],
};

/**
 * Sets the explicit mark of a file or directory (the root path `""` for the arena),
 * replacing any previous one.
 *
 * @param tx the arena's write transaction
 * @param path the marked path
 * @param mark the mark
 * @throws {StorageError} when SQLite fails
 */
export function setMark(tx: WriteTx, path: Path, mark: Mark): void {
  const code = MARKS.indexOf(mark);
  assert(code >= 0, `"${mark}" is a mark`);
  tx.run(
    "INSERT INTO marks_mark (path, mark) VALUES (?, ?) " +
      "ON CONFLICT (path) DO UPDATE SET mark = excluded.mark",
    path,
    code,
  );
}

/**
 * Removes the explicit mark of a path, so it inherits again.
 *
 * @param tx the arena's write transaction
 * @param path the path
 * @returns whether the path had an explicit mark
 * @throws {StorageError} when SQLite fails
 */
export function clearMark(tx: WriteTx, path: Path): boolean {
  return tx.run("DELETE FROM marks_mark WHERE path = ?", path).changes > 0;
}

/**
 * The explicit mark of a path, without inheritance.
 *
 * @param tx a transaction on the arena's database
 * @param path the path (`""` for the arena mark)
 * @returns the mark set on `path`, or `null`
 * @throws {StorageError} when SQLite fails
 */
export function getMark(tx: ReadTx, path: Path): Mark | null {
  const row = tx.get<{ mark: number }>("SELECT mark FROM marks_mark WHERE path = ?", path);
  return row === undefined ? null : decodeMark(row.mark);
}

/**
 * The effective mark of a path: its own, else the nearest ancestor's, else the arena
 * mark (explicit mark on `""`), else `arenaDefault`.
 *
 * @param tx a transaction on the arena's database
 * @param path the path
 * @param arenaDefault the arena's mark from the configuration
 * @returns the mark that applies to `path`
 * @throws {StorageError} when SQLite fails
 */
export function markFor(tx: ReadTx, path: Path, arenaDefault: Mark): Mark {
  for (const candidate of paths.selfAndAncestors(path)) {
    const mark = getMark(tx, candidate);
    if (mark !== null) return mark;
  }
  return arenaDefault;
}

/**
 * Every explicit mark, ordered by path.
 *
 * @param tx a transaction on the arena's database
 * @returns the marked paths and their marks
 * @throws {StorageError} when SQLite fails
 */
export function listMarks(tx: ReadTx): { path: Path; mark: Mark }[] {
  const rows = tx.all<{ path: string; mark: number }>(
    "SELECT path, mark FROM marks_mark ORDER BY path",
  );
  return rows.map((row) => ({ path: row.path as Path, mark: decodeMark(row.mark) }));
}

function decodeMark(code: number): Mark {
  const mark = MARKS[code];
  assert(mark !== undefined, `mark code ${code} read from marks_mark is known`);
  return mark;
}
