/**
 * The name tree of an arena: one node per path ever shown (local or remote), with a
 * stable inode from the arena's inode ranges (seed `#inoderange`). Nodes persist, so a
 * path keeps its inode across restarts; a node goes away when nothing exists at its
 * path any more.
 *
 * @module
 */

import { type InodeAllocator, type ReadTx, type Schema, type WriteTx } from "../storage/mod.ts";
import { type Path, paths } from "../types/mod.ts";
import { assert } from "../util/mod.ts";

/** The tables of the unreal (tree, peers' files, default versions, remote directories). */
export const UNREAL_SCHEMA: Schema = {
  name: "unreal",
  migrations: [
    `CREATE TABLE unreal_node (
       ino INTEGER PRIMARY KEY,
       parent INTEGER,
       name TEXT NOT NULL,
       path TEXT NOT NULL UNIQUE
     );
     CREATE UNIQUE INDEX unreal_node_child ON unreal_node (parent, name);
     CREATE INDEX unreal_node_listing ON unreal_node (parent, ino);
     CREATE TABLE unreal_peer_file (
       path TEXT NOT NULL,
       peer TEXT NOT NULL,
       hash BLOB CHECK (hash IS NULL OR length(hash) = 32),
       size INTEGER NOT NULL CHECK (size >= 0),
       mtime_secs INTEGER NOT NULL,
       mtime_nsecs INTEGER NOT NULL,
       catchup INTEGER NOT NULL DEFAULT 0,
       PRIMARY KEY (path, peer)
     ) WITHOUT ROWID;
     CREATE INDEX unreal_peer_file_catchup ON unreal_peer_file (peer, catchup);
     CREATE INDEX unreal_peer_file_hash ON unreal_peer_file (hash);
     CREATE TABLE unreal_default (
       path TEXT PRIMARY KEY,
       parent TEXT NOT NULL,
       hash BLOB CHECK (hash IS NULL OR length(hash) = 32),
       size INTEGER NOT NULL CHECK (size >= 0),
       mtime_secs INTEGER NOT NULL,
       mtime_nsecs INTEGER NOT NULL,
       peer TEXT NOT NULL
     ) WITHOUT ROWID;
     CREATE INDEX unreal_default_parent ON unreal_default (parent);
     CREATE INDEX unreal_default_hash ON unreal_default (hash);
     CREATE TABLE unreal_dir (
       path TEXT PRIMARY KEY,
       parent TEXT NOT NULL,
       children INTEGER NOT NULL CHECK (children > 0),
       mtime_secs INTEGER NOT NULL,
       mtime_nsecs INTEGER NOT NULL
     ) WITHOUT ROWID;
     CREATE TABLE unreal_peer_progress (
       peer TEXT PRIMARY KEY,
       store_id TEXT NOT NULL,
       last_index INTEGER NOT NULL
     ) WITHOUT ROWID;`,
    // Every lookup by hash also gives the path (the primary key's prefix); the index only
    // cost a random-page write per entry (a third of a catch-up's commit time, measured).
    `DROP INDEX unreal_peer_file_hash;`,
  ],
};

/** A node of the tree. */
export interface Node {
  /** Its inode. */
  readonly ino: number;
  /** The parent's inode, `null` for the arena root. */
  readonly parent: number | null;
  /** Its path in the arena (`""` for the root). */
  readonly path: Path;
}

interface NodeRow {
  ino: number;
  parent: number | null;
  path: string;
}

function node(r: NodeRow): Node {
  return { ino: r.ino, parent: r.parent, path: r.path as Path };
}

/**
 * The node of an inode.
 *
 * @param tx a transaction on the arena database
 * @param ino an inode
 * @returns the node, or `null` when the inode is unknown (or gone)
 */
export function nodeByIno(tx: ReadTx, ino: number): Node | null {
  const r = tx.get<NodeRow>("SELECT ino, parent, path FROM unreal_node WHERE ino = ?", ino);
  return r === undefined ? null : node(r);
}

/**
 * The node of a path.
 *
 * @param tx a transaction
 * @param path a path
 * @returns the node, or `null`
 */
export function nodeByPath(tx: ReadTx, path: Path): Node | null {
  const r = tx.get<NodeRow>("SELECT ino, parent, path FROM unreal_node WHERE path = ?", path);
  return r === undefined ? null : node(r);
}

/**
 * Makes the node of a path whose parent's node exists (or the root's, `parent` null).
 *
 * @param tx a write transaction on the arena database
 * @param path the path, without a node yet
 * @param parent the parent's inode
 * @param alloc the arena's inode allocator
 * @returns the new inode
 */
export function addNode(
  tx: WriteTx,
  path: Path,
  parent: number | null,
  alloc: InodeAllocator,
): number {
  const ino = alloc.next(tx);
  tx.run(
    "INSERT INTO unreal_node (ino, parent, name, path) VALUES (?, ?, ?, ?)",
    ino,
    parent,
    paths.name(path),
    path,
  );
  return ino;
}

/**
 * The inode of a path, creating its node and its parents' nodes as needed.
 *
 * @param tx a write transaction on the arena database
 * @param path a path (`ROOT` for the arena root)
 * @param alloc the arena's inode allocator
 * @returns the inode
 */
export function ensureNode(tx: WriteTx, path: Path, alloc: InodeAllocator): number {
  const existing = tx.get<{ ino: number }>("SELECT ino FROM unreal_node WHERE path = ?", path);
  if (existing !== undefined) return existing.ino;
  const parentPath = paths.parent(path);
  const parent = parentPath === null ? null : ensureNode(tx, parentPath, alloc);
  const ino = addNode(tx, path, parent, alloc);
  return ino;
}

/**
 * Deletes the node of a path and of everything under it.
 *
 * @param tx a write transaction
 * @param path a path (not the root)
 */
export function deleteNodes(tx: WriteTx, path: Path): void {
  assert(path !== paths.ROOT, "the arena root keeps its node");
  tx.run(
    "DELETE FROM unreal_node WHERE path = ? OR (path > ? AND path < ?)",
    path,
    `${path}/`,
    `${path}0`,
  );
}

/**
 * Child nodes of a directory in inode order, after an inode (readdir offsets).
 *
 * @param tx a transaction
 * @param parent the directory's inode
 * @param after the last inode already returned (0 to start)
 * @param limit at most this many
 * @returns the nodes
 */
export function childNodes(tx: ReadTx, parent: number, after: number, limit: number): Node[] {
  return tx.all<NodeRow>(
    "SELECT ino, parent, path FROM unreal_node WHERE parent = ? AND ino > ? ORDER BY ino LIMIT ?",
    parent,
    after,
    limit,
  ).map(node);
}

/**
 * The child of a directory with a given name.
 *
 * @param tx a transaction
 * @param parent the directory's inode
 * @param name the entry's name
 * @returns the node, or `null`
 */
export function childNode(tx: ReadTx, parent: number, name: string): Node | null {
  const r = tx.get<NodeRow>(
    "SELECT ino, parent, path FROM unreal_node WHERE parent = ? AND name = ?",
    parent,
    name,
  );
  return r === undefined ? null : node(r);
}
