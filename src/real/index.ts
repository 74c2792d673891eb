/**
 * The local index: every regular file and directory of an arena's datadir, with the
 * size, nanosecond mtime and inode it had when last looked at, and its BLAKE3 hash.
 *
 * A file whose `hash` is `null` has a **pending** version: it was seen (and announced,
 * seed `#musthash`) but not hashed yet, or it changed since it was hashed; `baseHash` is
 * then the last announced version it replaces (`null` for a new file). Pending files
 * are the hashing queue: the queue survives crashes because it is the index itself.
 *
 * Functions take a transaction first and never open one (STYLE habit 7).
 *
 * @module
 */

import type { ReadTx, Schema, WriteTx } from "../storage/mod.ts";
import { Hash, type Path, paths, UnixTime } from "../types/mod.ts";
import { assert } from "../util/mod.ts";

/** The index tables. */
export const INDEX_SCHEMA: Schema = {
  name: "index",
  migrations: [
    `CREATE TABLE index_file (
       path TEXT PRIMARY KEY,
       parent TEXT NOT NULL,
       size INTEGER NOT NULL CHECK (size >= 0),
       mtime_secs INTEGER NOT NULL,
       mtime_nsecs INTEGER NOT NULL CHECK (mtime_nsecs BETWEEN 0 AND 999999999),
       dev INTEGER NOT NULL,
       ino INTEGER NOT NULL,
       hash BLOB CHECK (hash IS NULL OR length(hash) = 32),
       base_hash BLOB CHECK (base_hash IS NULL OR length(base_hash) = 32)
     ) WITHOUT ROWID;
     CREATE INDEX index_file_parent ON index_file (parent);
     CREATE INDEX index_file_inode ON index_file (dev, ino);
     CREATE INDEX index_file_pending ON index_file (path) WHERE hash IS NULL;
     CREATE TABLE index_dir (
       path TEXT PRIMARY KEY,
       parent TEXT
     ) WITHOUT ROWID;
     CREATE INDEX index_dir_parent ON index_dir (parent);
     CREATE TABLE index_xattr_mark (
       path TEXT PRIMARY KEY,
       mark TEXT NOT NULL CHECK (mark IN ('watch', 'keep', 'own'))
     ) WITHOUT ROWID;`,
  ],
};

/** What identifies a version of a file on disk without reading it. */
export interface FileVersion {
  /** Size in bytes. */
  readonly size: number;
  /** Modification time, nanoseconds. */
  readonly mtime: UnixTime;
  /** Device of the file. */
  readonly dev: number;
  /** Inode of the file. */
  readonly ino: number;
}

/** One indexed file. */
export interface IndexEntry extends FileVersion {
  /** Its path in the arena. */
  readonly path: Path;
  /** Content hash, `null` while the version is pending. */
  readonly hash: Hash | null;
  /** While pending: the announced version this one replaces (`null` for a new file). */
  readonly baseHash: Hash | null;
}

interface Row {
  path: string;
  size: number;
  mtime_secs: number;
  mtime_nsecs: number;
  dev: number;
  ino: number;
  hash: Uint8Array | null;
  base_hash: Uint8Array | null;
}

const COLUMNS = "path, size, mtime_secs, mtime_nsecs, dev, ino, hash, base_hash";

function fromRow(r: Row): IndexEntry {
  const entry: IndexEntry = {
    path: r.path as Path, // validated by putFile before it was written
    size: r.size,
    mtime: UnixTime.of(r.mtime_secs, r.mtime_nsecs),
    dev: r.dev,
    ino: r.ino,
    hash: r.hash === null ? null : Hash.fromBytes(r.hash),
    baseHash: r.base_hash === null ? null : Hash.fromBytes(r.base_hash),
  };
  assert(entry.hash === null || entry.baseHash === null, "an indexed file has no base hash");
  return entry;
}

/**
 * Whether a file on disk still is the version an entry describes.
 *
 * @param a the indexed version
 * @param b the version on disk
 * @returns true when size, nanosecond mtime and inode are equal
 */
export function sameVersion(a: FileVersion, b: FileVersion): boolean {
  return a.size === b.size && a.mtime.equals(b.mtime) && a.ino === b.ino && a.dev === b.dev;
}

/**
 * The entry of a file.
 *
 * @param tx a transaction on the arena database
 * @param path the file
 * @returns the entry, or `null` when the file is not indexed
 */
export function getFile(tx: ReadTx, path: Path): IndexEntry | null {
  const row = tx.get<Row>(`SELECT ${COLUMNS} FROM index_file WHERE path = ?`, path);
  return row === undefined ? null : fromRow(row);
}

/**
 * Writes (inserts or replaces) a file's entry.
 *
 * @param tx a write transaction
 * @param entry the entry
 */
export function putFile(tx: WriteTx, entry: IndexEntry): void {
  assert(entry.hash === null || entry.baseHash === null, "an indexed file has no base hash");
  assert(paths.problem(entry.path) === null && entry.path !== paths.ROOT, "a valid file path");
  tx.run(
    `INSERT OR REPLACE INTO index_file (${COLUMNS}, parent) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    entry.path,
    entry.size,
    entry.mtime.secs,
    entry.mtime.nsecs,
    entry.dev,
    entry.ino,
    entry.hash?.bytes() ?? null,
    entry.baseHash?.bytes() ?? null,
    paths.parent(entry.path) ?? "",
  );
}

/**
 * Deletes a file's entry.
 *
 * @param tx a write transaction
 * @param path the file
 * @returns whether there was one
 */
export function deleteFile(tx: WriteTx, path: Path): boolean {
  return tx.run("DELETE FROM index_file WHERE path = ?", path).changes === 1;
}

/**
 * The files directly inside a directory.
 *
 * @param tx a transaction
 * @param dir the directory (`ROOT` for the arena root)
 * @returns their entries, by name
 */
export function filesIn(tx: ReadTx, dir: Path): IndexEntry[] {
  return tx.all<Row>(`SELECT ${COLUMNS} FROM index_file WHERE parent = ? ORDER BY path`, dir)
    .map(fromRow);
}

/**
 * Every file under a directory, at any depth.
 *
 * @param tx a transaction
 * @param dir the directory
 * @returns their entries
 */
export function filesUnder(tx: ReadTx, dir: Path): IndexEntry[] {
  if (dir === paths.ROOT) return tx.all<Row>(`SELECT ${COLUMNS} FROM index_file`).map(fromRow);
  // "/" + 1 is "0": the range holds exactly the paths that start with `dir/`.
  return tx.all<Row>(
    `SELECT ${COLUMNS} FROM index_file WHERE path > ? AND path < ? ORDER BY path`,
    `${dir}/`,
    `${dir}0`,
  ).map(fromRow);
}

/**
 * Files with a given inode (hard links, or a file that was renamed).
 *
 * @param tx a transaction
 * @param dev device
 * @param ino inode
 * @returns their entries
 */
export function filesWithInode(tx: ReadTx, dev: number, ino: number): IndexEntry[] {
  return tx.all<Row>(`SELECT ${COLUMNS} FROM index_file WHERE dev = ? AND ino = ?`, dev, ino)
    .map(fromRow);
}

/**
 * Pending files (the hashing queue), in path order.
 *
 * @param tx a transaction
 * @param after only paths after this one (`""` for all)
 * @param limit at most this many
 * @returns their entries
 */
export function pendingFiles(tx: ReadTx, after: string, limit: number): IndexEntry[] {
  return tx.all<Row>(
    `SELECT ${COLUMNS} FROM index_file WHERE hash IS NULL AND path > ? ORDER BY path LIMIT ?`,
    after,
    limit,
  ).map(fromRow);
}

/**
 * Indexed files in path order, a page at a time (full catch-up of a peer).
 *
 * @param tx a transaction
 * @param after only paths after this one (`""` for the first page)
 * @param limit page size
 * @returns their entries
 */
export function filesAfter(tx: ReadTx, after: string, limit: number): IndexEntry[] {
  return tx.all<Row>(
    `SELECT ${COLUMNS} FROM index_file WHERE path > ? ORDER BY path LIMIT ?`,
    after,
    limit,
  ).map(fromRow);
}

/**
 * Counts of indexed and pending files.
 *
 * @param tx a transaction
 * @returns the counts and total bytes
 */
export function indexStats(tx: ReadTx): { files: number; pending: number; bytes: number } {
  const r = tx.get<{ files: number; pending: number; bytes: number }>(
    `SELECT count(*) AS files, count(*) - count(hash) AS pending, coalesce(sum(size), 0) AS bytes
     FROM index_file`,
  );
  assert(r !== undefined, "aggregate returns a row");
  return r;
}

/**
 * Whether a directory is indexed.
 *
 * @param tx a transaction
 * @param dir the directory
 * @returns true when it is (the root always is)
 */
export function hasDir(tx: ReadTx, dir: Path): boolean {
  if (dir === paths.ROOT) return true;
  return tx.get("SELECT 1 FROM index_dir WHERE path = ?", dir) !== undefined;
}

/**
 * Records a directory.
 *
 * @param tx a write transaction
 * @param dir the directory (not the root)
 * @returns true when it was new
 */
export function putDir(tx: WriteTx, dir: Path): boolean {
  assert(dir !== paths.ROOT, "the root is always indexed");
  return tx.run(
    "INSERT OR IGNORE INTO index_dir (path, parent) VALUES (?, ?)",
    dir,
    paths.parent(dir) ?? "",
  ).changes === 1;
}

/**
 * The directories directly inside a directory.
 *
 * @param tx a transaction
 * @param dir the directory
 * @returns their paths
 */
export function dirsIn(tx: ReadTx, dir: Path): Path[] {
  return tx.all<{ path: string }>("SELECT path FROM index_dir WHERE parent = ? ORDER BY path", dir)
    .map((r) => paths.parse(r.path));
}

/**
 * Deletes a directory and every directory under it (not the files: see `changes.ts`).
 *
 * @param tx a write transaction
 * @param dir the directory (not the root)
 */
export function deleteDirTree(tx: WriteTx, dir: Path): void {
  assert(dir !== paths.ROOT, "the root is always indexed");
  tx.run(
    "DELETE FROM index_dir WHERE path = ? OR (path > ? AND path < ?)",
    dir,
    `${dir}/`,
    `${dir}0`,
  );
}

/**
 * The mark last read from a path's `user.realize.mark` xattr.
 *
 * @param tx a transaction
 * @param path file or directory
 * @returns the mark, or `null` when the path had none
 */
export function xattrMark(tx: ReadTx, path: Path): string | null {
  return tx.get<{ mark: string }>("SELECT mark FROM index_xattr_mark WHERE path = ?", path)?.mark ??
    null;
}

/**
 * Remembers (or forgets, with `null`) the mark read from a path's xattr.
 *
 * @param tx a write transaction
 * @param path file or directory
 * @param mark the mark, or `null`
 */
export function setXattrMark(tx: WriteTx, path: Path, mark: string | null): void {
  if (mark === null) tx.run("DELETE FROM index_xattr_mark WHERE path = ?", path);
  else tx.run("INSERT OR REPLACE INTO index_xattr_mark (path, mark) VALUES (?, ?)", path, mark);
}

/**
 * The remembered xattr marks of the entries directly inside `dir`.
 *
 * @param tx a transaction
 * @param dir a directory
 * @returns mark by entry name
 */
export function xattrMarksIn(tx: ReadTx, dir: Path): Map<string, string> {
  const prefix = dir === paths.ROOT ? "" : `${dir}/`;
  const out = new Map<string, string>();
  for (const p of xattrMarksUnder(tx, dir)) {
    const name = p.slice(prefix.length);
    if (p === dir || name.includes("/")) continue;
    out.set(name, xattrMark(tx, p)!);
  }
  return out;
}

/**
 * Paths under `dir` (or `dir` itself) whose xattr mark is remembered.
 *
 * @param tx a transaction
 * @param dir a directory or file
 * @returns the paths
 */
export function xattrMarksUnder(tx: ReadTx, dir: Path): Path[] {
  const rows = dir === paths.ROOT
    ? tx.all<{ path: string }>("SELECT path FROM index_xattr_mark")
    : tx.all<{ path: string }>(
      "SELECT path FROM index_xattr_mark WHERE path = ? OR (path > ? AND path < ?)",
      dir,
      `${dir}/`,
      `${dir}0`,
    );
  return rows.map((r) => paths.parse(r.path));
}
