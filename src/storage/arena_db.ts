/**
 * Opening the two kinds of database files (seed `#owndb`):
 *
 * - one **arena database** per arena, `<workdir>/arena.db`, shared by every subsystem
 *   of that arena and used by one process at a time: `<workdir>/arena.lock` is held
 *   with `flock(2)` (released by the kernel even when the process is killed) and holds
 *   the owner's pid for the error message;
 * - the **global database** (`[cache] db`), shared by the arenas and usable by several
 *   processes at once through SQLite's own locking (`BEGIN IMMEDIATE` + busy timeout).
 *
 * @module
 */

import { dirname, join } from "node:path";
import { type FileLock, tryLockExclusive } from "../../ffi/libc/mod.ts";
import type { ArenaName } from "../types/mod.ts";
import { Database, type Schema, StorageError } from "./database.ts";

/** Name of the arena database inside the workdir. */
export const ARENA_DB_FILE = "arena.db";
/** Name of the arena lock file inside the workdir. */
export const ARENA_LOCK_FILE = "arena.lock";

/** Options of {@linkcode openArenaDatabase} and {@linkcode openGlobalDatabase}. */
export interface OpenOptions {
  /** Schemas of the subsystems that use the database. */
  readonly schemas: readonly Schema[];
  /** How long to wait for another connection's lock; default 5000. */
  readonly busyTimeoutMs?: number;
}

/**
 * Opens the database of an arena, creating the workdir if needed, and locks it for
 * this process until `close()`.
 *
 * @param workdir the arena's workdir
 * @param arena the arena, for messages
 * @param options schemas of the subsystems
 * @returns the database; closing it releases the lock
 * @throws {StorageError} when the arena is in use by another process (or by another
 *   open in this one), or when the workdir, lock or database cannot be opened
 */
export function openArenaDatabase(
  workdir: string,
  arena: ArenaName,
  options: OpenOptions,
): Database {
  const lock = lockArena(workdir, arena);
  const release = () => {
    try {
      lock.write(""); // a stale pid must not be reported for the next owner
    } finally {
      lock.close();
    }
  };
  const schemas = [IDENTITY_SCHEMA, ...options.schemas];
  const db = Database.open(join(workdir, ARENA_DB_FILE), { ...options, schemas, onClose: release });
  try {
    claimIdentity(db, workdir, arena);
  } catch (error) {
    db.close();
    throw error;
  }
  return db;
}

/** Records which arena a database belongs to, so two arenas never share one by mistake. */
const IDENTITY_SCHEMA: Schema = {
  name: "arena",
  migrations: [
    "CREATE TABLE arena_identity (id INTEGER PRIMARY KEY CHECK (id = 1), name TEXT NOT NULL)",
  ],
};

function claimIdentity(db: Database, workdir: string, arena: ArenaName): void {
  const owner = db.write((tx) => {
    const row = tx.get<{ name: string }>("SELECT name FROM arena_identity WHERE id = 1");
    if (row === undefined) tx.run("INSERT INTO arena_identity (id, name) VALUES (1, ?)", arena);
    return row?.name ?? arena;
  });
  if (owner !== arena) {
    throw new StorageError(
      `Cannot open arena "${arena}": workdir ${workdir} belongs to arena "${owner}"` +
        ` (give each arena its own workdir)`,
    );
  }
}

/**
 * Opens the global database, creating its directory if needed. Several processes may
 * open it at once: write transactions wait for each other (up to the busy timeout).
 *
 * @param path the database file (`[cache] db`)
 * @param options schemas of the subsystems
 * @returns the database
 * @throws {StorageError} when the directory or database cannot be opened
 */
export function openGlobalDatabase(path: string, options: OpenOptions): Database {
  try {
    Deno.mkdirSync(dirname(path), { recursive: true });
  } catch (cause) {
    throw new StorageError(`Cannot open database "${path}": ${messageOf(cause)}`, { cause });
  }
  return Database.open(path, options);
}

function lockArena(workdir: string, arena: ArenaName): FileLock {
  const lockPath = join(workdir, ARENA_LOCK_FILE);
  let lock: FileLock | null;
  try {
    Deno.mkdirSync(workdir, { recursive: true });
    lock = tryLockExclusive(lockPath);
  } catch (cause) {
    throw new StorageError(`Cannot open arena "${arena}": ${messageOf(cause)}`, { cause });
  }
  if (lock === null) {
    const owner = readOwner(lockPath);
    throw new StorageError(
      `Cannot open arena "${arena}": arena in use by ${owner} (lock ${lockPath})`,
    );
  }
  try {
    lock.write(`${Deno.pid}\n`);
  } catch (cause) {
    lock.close();
    throw new StorageError(`Cannot open arena "${arena}": ${messageOf(cause)}`, { cause });
  }
  return lock;
}

function readOwner(lockPath: string): string {
  let text = "";
  try {
    text = Deno.readTextFileSync(lockPath).trim();
  } catch {
    // the holder may be replacing the file's content; report what is known
  }
  return /^[0-9]+$/.test(text) ? `pid ${text}` : "another process";
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
