/**
 * Local changes: each function updates the index and appends the matching history
 * entry in the caller's transaction, so the two never disagree (upstream.md §3.6–3.7):
 *
 * | change | index | history |
 * |---|---|---|
 * | a new file is seen | pending entry | `add` (announced before hashing, seed `#musthash`) |
 * | a pending new file is hashed | hash | `add` (the hash follows) |
 * | … over a version shown from a peer (`baseOf`) | hash | `replace(that version)` |
 * | an indexed file changes | pending, base = old hash | none yet |
 * | a changed file is hashed | hash | `replace(old)`, none if the content is unchanged |
 * | a file disappears | deleted | `remove(old)` |
 * | a hashed file is renamed (same inode) | moved | `rename(from, to, hash)` |
 * | … over a version shown from a peer (`baseOf`) | moved | and `replace(that version)` |
 * | a hashed file gets a hard link | copied | `branch(from, to, hash)` |
 *
 * No entry is written for a no-op (upstream `e540a8c`).
 *
 * @module
 */

import { clearMark, type ReadTx, setMark, type WriteTx } from "../storage/mod.ts";
import { type Hash, isMark, type Path, paths } from "../types/mod.ts";
import { assert, logger } from "../util/mod.ts";
import { appendHistory } from "./history.ts";
import {
  deleteDirTree,
  deleteFile,
  filesUnder,
  type FileVersion,
  getFile,
  putFile,
  sameVersion,
  setXattrMark,
  xattrMark,
  xattrMarksUnder,
} from "./index.ts";

const log = logger("real");

/**
 * Records the version of a file seen on disk.
 *
 * @param tx a write transaction on the arena database
 * @param path the file
 * @param version its size, mtime and inode now
 * @returns `new` (announced as pending), `changed` (now pending), or `same`
 */
export function recordFile(
  tx: WriteTx,
  path: Path,
  version: FileVersion,
): "new" | "changed" | "same" {
  const entry = getFile(tx, path);
  if (entry !== null && sameVersion(entry, version)) return "same";
  const baseHash = entry === null ? null : entry.hash ?? entry.baseHash;
  putFile(tx, { path, ...pick(version), hash: null, baseHash });
  if (entry !== null) return "changed";
  appendHistory(tx, { kind: "add", path });
  return "new";
}

function pick(v: FileVersion): FileVersion {
  return { size: v.size, mtime: v.mtime, dev: v.dev, ino: v.ino };
}

/**
 * The version a new local file replaces, if any: in an arena under an overlay, the version
 * shown at its path from another peer (the file was copied up to be edited, or written over
 * it), so peers take it as an edit of that version rather than a second, parallel one.
 */
export type BaseOf = (tx: ReadTx, path: Path) => Hash | null;

/**
 * Records the hash of a pending file, if the file is still the version that was hashed.
 *
 * @param tx a write transaction
 * @param path the file
 * @param version the version that was hashed (checked before and after reading it)
 * @param hash its content hash
 * @param baseOf for a new file: the version it replaces (see {@linkcode BaseOf})
 * @returns false when the entry changed meanwhile (the hash is stale and dropped)
 */
export function recordHash(
  tx: WriteTx,
  path: Path,
  version: FileVersion,
  hash: Hash,
  baseOf?: BaseOf,
): boolean {
  const entry = getFile(tx, path);
  if (entry === null || entry.hash !== null || !sameVersion(entry, version)) return false;
  putFile(tx, { ...entry, hash, baseHash: null });
  if (entry.baseHash === null) {
    // Even with the same content: peers learn that this peer has that version now.
    const base = baseOf?.(tx, path) ?? null;
    appendHistory(
      tx,
      base === null ? { kind: "add", path } : { kind: "replace", path, oldHash: base },
    );
  } else if (!entry.baseHash.equals(hash)) {
    appendHistory(tx, { kind: "replace", path, oldHash: entry.baseHash });
  }
  return true;
}

/**
 * Records that a file is gone (deleted, or no longer a regular file).
 *
 * @param tx a write transaction
 * @param path the file
 * @returns whether it was indexed
 */
export function recordRemoved(tx: WriteTx, path: Path): boolean {
  const entry = getFile(tx, path);
  if (entry === null) return false;
  deleteFile(tx, path);
  appendHistory(tx, { kind: "remove", path, oldHash: entry.hash ?? entry.baseHash });
  return true;
}

/**
 * Records that this peer no longer keeps a local file whose version other peers have or
 * replaced (`drop`), or that it deleted it because a peer deleted it (`remove`): the
 * index entry goes, with the matching history entry. Only an indexed, unmodified file
 * of version `hash` qualifies.
 *
 * @param tx a write transaction
 * @param path the file
 * @param hash the version it must still be
 * @param kind `drop` or `remove`
 * @returns false when the entry is not that version (nothing changed)
 */
export function recordGone(tx: WriteTx, path: Path, hash: Hash, kind: "drop" | "remove"): boolean {
  const entry = getFile(tx, path);
  if (entry === null || entry.hash === null || !entry.hash.equals(hash)) return false;
  deleteFile(tx, path);
  appendHistory(tx, { kind, path, oldHash: hash });
  return true;
}

/**
 * Records that the indexed file at `from` is now at `to` (same inode and version).
 * Falls back to remove + add when `from` is pending (peers have no hash to move).
 *
 * @param tx a write transaction
 * @param from the old path (its entry must exist)
 * @param to the new path
 * @param version the version now at `to`
 * @param baseOf the version a file new at `to` replaces (see {@linkcode BaseOf})
 */
export function recordRenamed(
  tx: WriteTx,
  from: Path,
  to: Path,
  version: FileVersion,
  baseOf?: BaseOf,
): void {
  const entry = getFile(tx, from);
  assert(entry !== null, "a renamed file was indexed");
  const overLocal = recordRemoved(tx, to); // the rename replaced whatever was at `to`
  if (entry.hash === null || !sameVersion(entry, version)) {
    recordRemoved(tx, from);
    recordFile(tx, to, version);
    return;
  }
  deleteFile(tx, from);
  putFile(tx, { ...entry, path: to });
  appendHistory(tx, { kind: "rename", path: from, dest: to, hash: entry.hash });
  // Over a version shown from a peer (an editor saving through a new file): an edit of it.
  const base = overLocal ? null : baseOf?.(tx, to) ?? null;
  if (base !== null) appendHistory(tx, { kind: "replace", path: to, oldHash: base });
}

/**
 * Records a new hard link `to` of the indexed file `from`: same content, no hashing.
 *
 * @param tx a write transaction
 * @param from an indexed, hashed file with the same inode
 * @param to the new path
 */
export function recordBranched(tx: WriteTx, from: Path, to: Path): void {
  const entry = getFile(tx, from);
  assert(entry !== null && entry.hash !== null, "a branch source is indexed and hashed");
  recordRemoved(tx, to);
  putFile(tx, { ...entry, path: to });
  appendHistory(tx, { kind: "branch", path: from, dest: to, hash: entry.hash });
}

/**
 * Records that a directory and everything under it are gone.
 *
 * @param tx a write transaction
 * @param dir the directory
 * @returns how many files were removed
 */
export function recordTreeRemoved(tx: WriteTx, dir: Path): number {
  const files = filesUnder(tx, dir);
  for (const f of files) recordRemoved(tx, f.path);
  for (const p of xattrMarksUnder(tx, dir)) applyXattrMark(tx, p, null);
  if (dir !== paths.ROOT) deleteDirTree(tx, dir);
  return files.length;
}

/**
 * Applies the value of a path's `user.realize.mark` xattr (seed `#marksxattrs`): a new
 * or changed value sets the path's mark; a value that disappeared clears the mark it
 * had set. Marks set otherwise (control API) are left alone while no xattr is involved.
 *
 * @param tx a write transaction
 * @param path a file or directory
 * @param value the xattr's text, or `null` when absent
 */
export function applyXattrMark(tx: WriteTx, path: Path, value: string | null): void {
  const previous = xattrMark(tx, path);
  const mark = value?.trim() ?? null;
  if (mark !== null && !isMark(mark)) {
    log.warn(`ignoring user.realize.mark of "${path}": invalid value ${JSON.stringify(value)}`);
    return;
  }
  if (mark === previous) return;
  if (mark === null) clearMark(tx, path);
  else setMark(tx, path, mark);
  setXattrMark(tx, path, mark);
}
