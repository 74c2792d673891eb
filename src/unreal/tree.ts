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

/**
 * The columns of a node that say what is at its path: the local file (`l_*`), whether
 * a local directory is there (`l_dir`), the remote default version (`r_*`) and the remote
 * directory's time (`rd_*`, `NULL` when there is none).
 */
const SHOWN_COLUMNS = "l_size, l_secs, l_nsecs, l_dir, r_size, r_secs, r_nsecs, rd_secs, rd_nsecs";

/**
 * A query of {@linkcode SHOWN_COLUMNS} for the paths of `p`.
 *
 * @param p a table or subquery with a `path` column, aliased `p`
 * @param where a condition, if any
 */
function shown(p: string, where = ""): string {
  return `SELECT f.size, f.mtime_secs, f.mtime_nsecs, ld.path IS NOT NULL,
      d.size, d.mtime_secs, d.mtime_nsecs, rd.mtime_secs, rd.mtime_nsecs
    FROM ${p}
    LEFT JOIN index_file f ON f.path = p.path
    LEFT JOIN index_dir ld ON ld.path = p.path
    LEFT JOIN unreal_default d ON d.path = p.path
    LEFT JOIN unreal_dir rd ON rd.path = p.path ${where}`;
}

/**
 * Triggers that keep a node's columns `<side>_size`, `_secs` and `_nsecs` equal to the row
 * of `table` (a file's size and mtime) at its path.
 *
 * @param side `l` (the local file) or `r` (the remote default version)
 * @param table `index_file` or `unreal_default`
 */
function fileTriggers(side: "l" | "r", table: string): string {
  const clear =
    `UPDATE unreal_node SET ${side}_size = NULL, ${side}_secs = NULL, ${side}_nsecs = NULL`;
  const set = `UPDATE unreal_node SET ${side}_size = NEW.size, ${side}_secs = NEW.mtime_secs,
         ${side}_nsecs = NEW.mtime_nsecs WHERE path = NEW.path;`;
  return `CREATE TRIGGER unreal_node_${side}_file_insert AFTER INSERT ON ${table} BEGIN
       ${set}
     END;
     CREATE TRIGGER unreal_node_${side}_file_update
       AFTER UPDATE OF path, size, mtime_secs, mtime_nsecs ON ${table} BEGIN
       ${clear} WHERE path = OLD.path AND OLD.path != NEW.path;
       ${set}
     END;
     CREATE TRIGGER unreal_node_${side}_file_delete AFTER DELETE ON ${table} BEGIN
       ${clear} WHERE path = OLD.path;
     END;`;
}

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
    // What is at a node's path, kept on the node row by triggers: a lookup reads one row
    // instead of joining four tables (seven index searches; half of a lookup, measured).
    `ALTER TABLE unreal_node ADD COLUMN l_size INTEGER;
     ALTER TABLE unreal_node ADD COLUMN l_secs INTEGER;
     ALTER TABLE unreal_node ADD COLUMN l_nsecs INTEGER;
     ALTER TABLE unreal_node ADD COLUMN l_dir INTEGER NOT NULL DEFAULT 0;
     ALTER TABLE unreal_node ADD COLUMN r_size INTEGER;
     ALTER TABLE unreal_node ADD COLUMN r_secs INTEGER;
     ALTER TABLE unreal_node ADD COLUMN r_nsecs INTEGER;
     ALTER TABLE unreal_node ADD COLUMN rd_secs INTEGER;
     ALTER TABLE unreal_node ADD COLUMN rd_nsecs INTEGER;
     UPDATE unreal_node SET (${SHOWN_COLUMNS}) =
       (${shown("unreal_node p", "WHERE p.ino = unreal_node.ino")});
     ${fileTriggers("l", "index_file")}
     CREATE TRIGGER unreal_node_l_dir_insert AFTER INSERT ON index_dir BEGIN
       UPDATE unreal_node SET l_dir = 1 WHERE path = NEW.path;
     END;
     CREATE TRIGGER unreal_node_l_dir_delete AFTER DELETE ON index_dir BEGIN
       UPDATE unreal_node SET l_dir = 0 WHERE path = OLD.path;
     END;
     ${fileTriggers("r", "unreal_default")}
     CREATE TRIGGER unreal_node_r_dir_insert AFTER INSERT ON unreal_dir BEGIN
       UPDATE unreal_node SET rd_secs = NEW.mtime_secs, rd_nsecs = NEW.mtime_nsecs
         WHERE path = NEW.path;
     END;
     CREATE TRIGGER unreal_node_r_dir_update AFTER UPDATE ON unreal_dir
       WHEN OLD.path != NEW.path OR OLD.mtime_secs != NEW.mtime_secs
         OR OLD.mtime_nsecs != NEW.mtime_nsecs BEGIN
       UPDATE unreal_node SET rd_secs = NULL, rd_nsecs = NULL
         WHERE path = OLD.path AND OLD.path != NEW.path;
       UPDATE unreal_node SET rd_secs = NEW.mtime_secs, rd_nsecs = NEW.mtime_nsecs
         WHERE path = NEW.path;
     END;
     CREATE TRIGGER unreal_node_r_dir_delete AFTER DELETE ON unreal_dir BEGIN
       UPDATE unreal_node SET rd_secs = NULL, rd_nsecs = NULL WHERE path = OLD.path;
     END;`,
    // Listing a directory reads its remote subdirectories: without this, every listing read
    // every remote directory of the arena.
    `CREATE INDEX unreal_dir_parent ON unreal_dir (parent);`,
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
    `INSERT INTO unreal_node (ino, parent, name, path, ${SHOWN_COLUMNS})
       SELECT ?1, ?2, ?3, ?4, s.* FROM (${shown("(SELECT ?4 AS path) p")}) s`,
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
