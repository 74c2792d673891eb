/**
 * Inode allocation across arenas (seed `#inoderange`).
 *
 * The global database hands out ranges of inode numbers, each owned by one arena, in
 * increasing order: inode 1 is the FUSE root and the first range starts at 2. An arena
 * database keeps its current range and hands out the ids of that range inside the
 * arena's own transactions.
 *
 * The two databases commit separately: the global allocation commits first, then the
 * arena transaction may still roll back (crash, error), or the whole arena database may
 * be deleted. **Recovery rule:** the arena asks for a range after the end of the range
 * it exhausted (0 the first time); the global database first returns the lowest range
 * the arena already owns at or after that point, and appends a new range only when
 * there is none. An arena therefore gets back the ranges it forgot, in order, and
 * never receives another arena's.
 *
 * @module
 */

import type { ArenaName } from "../types/mod.ts";
import { assert } from "../util/mod.ts";
import type { Database, ReadTx, Schema, WriteTx } from "./database.ts";

/** The FUSE root's inode. */
export const ROOT_INODE = 1;
/** Where the first range starts. */
export const FIRST_RANGE_START = 2;
/** Inodes per arena range unless configured. */
export const RANGE_SIZE_DEFAULT = 10_000;
/** Largest range size accepted. */
export const RANGE_SIZE_MAX = 1 << 30;

/** The global database's table of ranges. */
export const GLOBAL_INODE_SCHEMA: Schema = {
  name: "inode",
  migrations: [
    `CREATE TABLE inode_range (
       range_start INTEGER PRIMARY KEY CHECK (range_start >= ${FIRST_RANGE_START}),
       range_end INTEGER NOT NULL UNIQUE CHECK (range_end > range_start),
       owner TEXT NOT NULL
     );
     CREATE INDEX inode_range_by_owner ON inode_range (owner, range_start);`,
  ],
};

/** The arena database's current range. */
export const ARENA_INODE_SCHEMA: Schema = {
  name: "inode",
  migrations: [
    `CREATE TABLE inode_current (
       id INTEGER PRIMARY KEY CHECK (id = 1),
       next INTEGER NOT NULL,
       range_end INTEGER NOT NULL,
       CHECK (next <= range_end)
     );`,
  ],
};

/** Inodes `start` (included) to `end` (excluded), owned by one arena. */
export interface InodeRange {
  /** First inode of the range. */
  readonly start: number;
  /** First inode after the range. */
  readonly end: number;
  /** The arena the range belongs to. */
  readonly owner: ArenaName;
}

interface RangeRow {
  range_start: number;
  range_end: number;
  owner: string;
}

/**
 * Gives an arena its next range: the lowest range it already owns starting at or after
 * `exhaustedEnd`, else a new range after the highest one. Runs in its own global write
 * transaction (`BEGIN IMMEDIATE`, safe across processes), committed before returning.
 *
 * @param globalDb the global database, outside any transaction
 * @param arena the arena asking
 * @param exhaustedEnd end of the range the arena used up, 0 when it has none
 * @param size inodes in a new range
 * @returns the range
 * @throws {StorageError} when SQLite fails (e.g. the database stays locked)
 */
export function allocateRange(
  globalDb: Database,
  arena: ArenaName,
  exhaustedEnd: number,
  size: number,
): InodeRange {
  assert(!globalDb.inTransaction, "allocateRange() commits on its own");
  assert(Number.isSafeInteger(exhaustedEnd), "exhaustedEnd is an integer");
  assert(exhaustedEnd >= 0, "exhaustedEnd is not negative");
  checkRangeSize(size);
  const range = globalDb.write((tx) => {
    const owned = tx.get<RangeRow>(
      "SELECT range_start, range_end, owner FROM inode_range " +
        "WHERE owner = ? AND range_start >= ? ORDER BY range_start LIMIT 1",
      arena,
      exhaustedEnd,
    );
    if (owned !== undefined) return decodeRange(owned);
    const last = tx.get<{ end: number | null }>("SELECT max(range_end) AS end FROM inode_range");
    const start = last?.end ?? FIRST_RANGE_START;
    assert(Number.isSafeInteger(start + size), "inode numbers stay safe integers");
    tx.run(
      "INSERT INTO inode_range (range_start, range_end, owner) VALUES (?, ?, ?)",
      start,
      start + size,
      arena,
    );
    return { start, end: start + size, owner: arena };
  });
  assert(range.owner === arena, "a range is handed to its owner only");
  assert(range.start >= exhaustedEnd, "ranges only move forward");
  return range;
}

/**
 * The arena owning an inode.
 *
 * @param tx a transaction on the global database
 * @param inode an inode number
 * @returns the owner, or `null` when no range holds the inode
 * @throws {StorageError} when SQLite fails
 */
export function inodeOwner(tx: ReadTx, inode: number): ArenaName | null {
  const row = tx.get<RangeRow>(
    "SELECT range_start, range_end, owner FROM inode_range " +
      "WHERE range_start <= ? ORDER BY range_start DESC LIMIT 1",
    inode,
  );
  if (row === undefined) return null;
  const range = decodeRange(row);
  return inode < range.end ? range.owner : null;
}

/**
 * Every allocated range, by start.
 *
 * @param tx a transaction on the global database
 * @returns the ranges
 * @throws {StorageError} when SQLite fails
 */
export function listRanges(tx: ReadTx): InodeRange[] {
  return tx.all<RangeRow>(
    "SELECT range_start, range_end, owner FROM inode_range ORDER BY range_start",
  ).map(decodeRange);
}

/** Options of {@linkcode InodeAllocator}. */
export interface InodeAllocatorOptions {
  /** The arena's database (with {@linkcode ARENA_INODE_SCHEMA}). */
  readonly arenaDb: Database;
  /** The global database (with {@linkcode GLOBAL_INODE_SCHEMA}). */
  readonly globalDb: Database;
  /** The arena. */
  readonly arena: ArenaName;
  /** Inodes per new range; default {@linkcode RANGE_SIZE_DEFAULT}. */
  readonly rangeSize?: number;
}

/** Hands out an arena's inode numbers, inside the arena's transactions. */
export class InodeAllocator {
  readonly #arenaDb: Database;
  readonly #globalDb: Database;
  readonly #arena: ArenaName;
  readonly #rangeSize: number;

  /**
   * Binds an allocator to an arena's database and the global database.
   *
   * @param options the two databases, the arena and the range size
   */
  constructor(options: InodeAllocatorOptions) {
    const rangeSize = options.rangeSize ?? RANGE_SIZE_DEFAULT;
    checkRangeSize(rangeSize);
    assert(options.arenaDb !== options.globalDb, "the arena and global databases differ");
    this.#arenaDb = options.arenaDb;
    this.#globalDb = options.globalDb;
    this.#arena = options.arena;
    this.#rangeSize = rangeSize;
  }

  /**
   * The next inode of the arena. When the current range is used up, a range is taken
   * from the global database (committed there at once, recovered if `tx` rolls back).
   *
   * @param tx a write transaction on the arena's database
   * @returns a new inode number
   * @throws {StorageError} when either database fails
   */
  next(tx: WriteTx): number {
    assert(tx.database === this.#arenaDb, "next() runs in the arena's transaction");
    const current = tx.get<{ next: number; range_end: number }>(
      "SELECT next, range_end FROM inode_current WHERE id = 1",
    );
    if (current !== undefined && current.next < current.range_end) {
      assert(current.next >= FIRST_RANGE_START, "inode_current.next is past the root");
      tx.run("UPDATE inode_current SET next = ? WHERE id = 1", current.next + 1);
      return current.next;
    }
    const exhaustedEnd = current?.range_end ?? 0;
    const range = allocateRange(this.#globalDb, this.#arena, exhaustedEnd, this.#rangeSize);
    tx.run(
      "INSERT INTO inode_current (id, next, range_end) VALUES (1, ?, ?) " +
        "ON CONFLICT (id) DO UPDATE SET next = excluded.next, range_end = excluded.range_end",
      range.start + 1,
      range.end,
    );
    return range.start;
  }
}

function checkRangeSize(size: number): void {
  assert(Number.isSafeInteger(size), "a range size is an integer");
  assert(size > 0, "a range size is positive");
  assert(size <= RANGE_SIZE_MAX, `a range size is at most ${RANGE_SIZE_MAX}`);
}

function decodeRange(row: RangeRow): InodeRange {
  assert(Number.isSafeInteger(row.range_start), "range_start is a safe integer");
  assert(row.range_start >= FIRST_RANGE_START, "ranges start after the root");
  assert(Number.isSafeInteger(row.range_end), "range_end is a safe integer");
  assert(row.range_end > row.range_start, "ranges are not empty");
  return { start: row.range_start, end: row.range_end, owner: row.owner as ArenaName };
}
