/**
 * The dirty log: paths whose state changed and that the engine must look at again, in
 * the order they changed.
 *
 * - Every change takes a new counter: the highest counter ever used plus one, kept in
 *   `dirty_counter` so it never goes backwards, even when the log is empty or after a
 *   restart. A counter identifies the job built for that change.
 * - A path appears at most once in `dirty_log`: marking it again replaces its entry
 *   with the new counter (the newest change wins; the older job is abandoned).
 * - A consumer clears a path with the counter it handled; if the path changed since,
 *   the newer entry stays.
 * - {@linkcode waitForDirty} lets a consumer wait for a counter, woken after the commit
 *   of the change (never by a change that was rolled back).
 *
 * @module
 */

import type { Path } from "../types/mod.ts";
import { assert } from "../util/mod.ts";
import type { Database, ReadTx, Schema, WriteTx } from "./database.ts";
import { Watermark, WATERMARK_WAITERS_MAX } from "./watermark.ts";

/** Most entries one {@linkcode dirtyAfter} call returns. */
export const DIRTY_BATCH_MAX = 10_000;
/** Most concurrent {@linkcode waitForDirty} calls per database. */
export const DIRTY_WAITERS_MAX = WATERMARK_WAITERS_MAX;

/** The tables of the dirty log. */
export const DIRTY_SCHEMA: Schema = {
  name: "dirty",
  migrations: [
    `CREATE TABLE dirty_counter (
       id INTEGER PRIMARY KEY CHECK (id = 1),
       counter INTEGER NOT NULL CHECK (counter > 0)
     );
     CREATE TABLE dirty_log (
       counter INTEGER PRIMARY KEY CHECK (counter > 0),
       path TEXT NOT NULL UNIQUE
     );`,
  ],
};

/** One entry of the dirty log. */
export interface DirtyEntry {
  /** When the path was last marked dirty. */
  readonly counter: number;
  /** The dirty path. */
  readonly path: Path;
}

const watermark = new Watermark("dirty log", (tx) => lastDirtyCounter(tx));

/**
 * Marks a path dirty with a new counter; its previous entry, if any, is replaced.
 * Consumers waiting in {@linkcode waitForDirty} wake after the commit.
 *
 * @param tx the arena's write transaction
 * @param path the changed path
 * @returns the new counter
 * @throws {StorageError} when SQLite fails
 */
export function markDirty(tx: WriteTx, path: Path): number {
  const counter = lastDirtyCounter(tx) + 1;
  assert(Number.isSafeInteger(counter), "the dirty counter is a safe integer");
  tx.run(
    "INSERT INTO dirty_counter (id, counter) VALUES (1, ?) " +
      "ON CONFLICT (id) DO UPDATE SET counter = excluded.counter",
    counter,
  );
  tx.run("DELETE FROM dirty_log WHERE path = ?", path);
  tx.run("INSERT INTO dirty_log (counter, path) VALUES (?, ?)", counter, path);
  const db = tx.database;
  tx.afterCommit(() => watermark.raise(db, counter));
  return counter;
}

/**
 * {@linkcode markDirty} for several paths at once, in a handful of statements: the same log
 * as marking them one by one in order (a path given twice keeps its later counter).
 *
 * @param tx the arena's write transaction
 * @param changed the changed paths, in the order they changed
 * @returns the last counter used, or the current one when `changed` is empty
 * @throws {StorageError} when SQLite fails
 */
export function markDirtyMany(tx: WriteTx, changed: readonly Path[]): number {
  const last = lastDirtyCounter(tx);
  if (changed.length === 0) return last;
  const counter = last + changed.length;
  assert(Number.isSafeInteger(counter), "the dirty counter is a safe integer");
  // [counter, path] of each path's last occurrence: the counter it would end up with.
  const entries: [number, Path][] = [];
  const seen = new Set<Path>();
  for (let i = changed.length - 1; i >= 0; i--) {
    const path = changed[i]!;
    if (seen.has(path)) continue;
    seen.add(path);
    entries.push([last + i + 1, path]);
  }
  const json = JSON.stringify(entries);
  tx.run(
    "INSERT INTO dirty_counter (id, counter) VALUES (1, ?) " +
      "ON CONFLICT (id) DO UPDATE SET counter = excluded.counter",
    counter,
  );
  tx.run("DELETE FROM dirty_log WHERE path IN (SELECT value ->> 1 FROM json_each(?))", json);
  const inserted = tx.run(
    "INSERT INTO dirty_log (counter, path) SELECT value ->> 0, value ->> 1 FROM json_each(?)",
    json,
  ).changes;
  assert(inserted === entries.length, "every dirty path gets one entry");
  const db = tx.database;
  tx.afterCommit(() => watermark.raise(db, counter));
  return counter;
}

/**
 * The highest counter ever handed out.
 *
 * @param tx a transaction on the arena's database
 * @returns the counter, 0 before the first change
 * @throws {StorageError} when SQLite fails
 */
export function lastDirtyCounter(tx: ReadTx): number {
  const row = tx.get<{ counter: number }>("SELECT counter FROM dirty_counter WHERE id = 1");
  const counter = row?.counter ?? 0;
  assert(Number.isSafeInteger(counter), "dirty_counter holds a safe integer");
  assert(counter >= 0, "dirty_counter is not negative");
  return counter;
}

/**
 * The dirty entries with a counter above `counter`, oldest first.
 *
 * @param tx a transaction on the arena's database
 * @param counter start after this counter (0 for the whole log)
 * @param limit most entries to return, 1 to {@linkcode DIRTY_BATCH_MAX}
 * @returns the entries in counter order
 * @throws {StorageError} when SQLite fails
 */
export function dirtyAfter(tx: ReadTx, counter: number, limit: number): DirtyEntry[] {
  assert(Number.isSafeInteger(counter), "counter is an integer");
  assert(Number.isSafeInteger(limit), "limit is an integer");
  assert(limit > 0, "limit is positive");
  assert(limit <= DIRTY_BATCH_MAX, `limit is at most ${DIRTY_BATCH_MAX}`);
  const rows = tx.all<{ counter: number; path: string }>(
    "SELECT counter, path FROM dirty_log WHERE counter > ? ORDER BY counter LIMIT ?",
    counter,
    limit,
  );
  let previous = counter;
  for (const row of rows) {
    assert(row.counter > previous, "dirty_log is read in counter order");
    previous = row.counter;
  }
  return rows.map((row) => ({ counter: row.counter, path: row.path as Path }));
}

/**
 * The current counter of a dirty path.
 *
 * @param tx a transaction on the arena's database
 * @param path the path
 * @returns its counter, or `null` when the path is not dirty
 * @throws {StorageError} when SQLite fails
 */
export function dirtyCounter(tx: ReadTx, path: Path): number | null {
  const row = tx.get<{ counter: number }>("SELECT counter FROM dirty_log WHERE path = ?", path);
  return row?.counter ?? null;
}

/**
 * Whether a path is dirty.
 *
 * @param tx a transaction on the arena's database
 * @param path the path
 * @returns true when the path has an entry in the log
 * @throws {StorageError} when SQLite fails
 */
export function isDirty(tx: ReadTx, path: Path): boolean {
  return dirtyCounter(tx, path) !== null;
}

/**
 * Removes a path from the log, but only if its entry is still the one with `counter`
 * (a newer change keeps it dirty).
 *
 * @param tx the arena's write transaction
 * @param path the handled path
 * @param counter the counter the consumer handled
 * @returns true when the entry was removed, false when it was newer or absent
 * @throws {StorageError} when SQLite fails
 */
export function clearDirty(tx: WriteTx, path: Path, counter: number): boolean {
  const deleted = tx.run(
    "DELETE FROM dirty_log WHERE path = ? AND counter = ?",
    path,
    counter,
  ).changes;
  assert(deleted <= 1, "a path has at most one dirty entry");
  return deleted === 1;
}

/**
 * Waits until a change with a counter above `after` is committed.
 *
 * Waiters are not released when the database closes: pass a signal that aborts on
 * shutdown.
 *
 * @param db the arena's database
 * @param after the last counter the caller has seen
 * @param options `signal` stops waiting
 * @returns a committed counter above `after`; read the entries with {@linkcode dirtyAfter}
 * @throws {StorageError} when SQLite fails reading the current counter
 * @throws the signal's reason when it is aborted
 */
export function waitForDirty(
  db: Database,
  after: number,
  options: { signal?: AbortSignal } = {},
): Promise<number> {
  return watermark.wait(db, after, options);
}
