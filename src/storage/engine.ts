/**
 * The engine's decisions (seed `#engine`): what should happen to a path, stored in the
 * arena's database. Producing decisions (from dirty paths, marks, index and cache) and
 * executing them as jobs belong to higher layers.
 *
 * Table `engine_decision(path, decision)`.
 *
 * @module
 */

import type { Path } from "../types/mod.ts";
import { assert } from "../util/mod.ts";
import type { ReadTx, Schema, WriteTx } from "./database.ts";

/** Every decision, in a stable order. */
export const DECISIONS = ["realize", "unrealize", "update-cache"] as const;

/**
 * What the engine decided for a path:
 * - `realize`: move the file from the cache into the datadir (as a regular file);
 * - `unrealize`: move the file from the datadir into the cache;
 * - `update-cache`: fetch the file from another peer into the cache.
 */
export type Decision = typeof DECISIONS[number];

/** The tables of the engine. */
export const ENGINE_SCHEMA: Schema = {
  name: "engine",
  migrations: [
    `CREATE TABLE engine_decision (
       path TEXT PRIMARY KEY NOT NULL,
       decision TEXT NOT NULL CHECK (decision IN (${DECISIONS.map((d) => `'${d}'`).join(", ")}))
     ) WITHOUT ROWID`,
  ],
};

/**
 * Whether a value is a decision.
 *
 * @param value candidate
 * @returns true for `realize`, `unrealize` or `update-cache`
 */
export function isDecision(value: unknown): value is Decision {
  return (DECISIONS as readonly unknown[]).includes(value);
}

/**
 * Records the decision for a path, replacing any previous one.
 *
 * @param tx the arena's write transaction
 * @param path the path
 * @param decision what to do with it
 * @throws {StorageError} when SQLite fails
 */
export function setDecision(tx: WriteTx, path: Path, decision: Decision): void {
  assert(isDecision(decision), `"${decision}" is a decision`);
  tx.run(
    "INSERT INTO engine_decision (path, decision) VALUES (?, ?) " +
      "ON CONFLICT (path) DO UPDATE SET decision = excluded.decision",
    path,
    decision,
  );
}

/**
 * Removes the decision for a path, if any.
 *
 * @param tx the arena's write transaction
 * @param path the path
 * @returns whether there was a decision
 * @throws {StorageError} when SQLite fails
 */
export function clearDecision(tx: WriteTx, path: Path): boolean {
  return tx.run("DELETE FROM engine_decision WHERE path = ?", path).changes > 0;
}

/**
 * The decision for a path.
 *
 * @param tx a transaction on the arena's database
 * @param path the path
 * @returns the decision, or `null` when there is none
 * @throws {StorageError} when SQLite fails
 */
export function getDecision(tx: ReadTx, path: Path): Decision | null {
  const row = tx.get<{ decision: unknown }>(
    "SELECT decision FROM engine_decision WHERE path = ?",
    path,
  );
  if (row === undefined) return null;
  assert(isDecision(row.decision), `decision read from engine_decision is known`);
  return row.decision;
}
