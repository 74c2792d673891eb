/**
 * An arena seen as a filesystem: lookup, getattr and readdir over the union of the local
 * index (the real) and the remote default versions (the unreal), with stable inodes.
 *
 * Precedence at a path: a local file, else a local directory, else the remote default
 * version, else a remote directory. Reads come from one SQL statement per call (the
 * node joined with the four tables that can say what is at its path), so a warm lookup
 * is a handful of microseconds. Nodes for entries nobody looked at yet are created on
 * the first lookup, or for a whole directory when a listing starts.
 *
 * @module
 */

import { dirsIn, filesIn } from "../real/mod.ts";
import type { Database, InodeAllocator, ReadTx, WriteTx } from "../storage/mod.ts";
import { Hash, type Path, paths, UnixTime } from "../types/mod.ts";
import { defaultsIn, remoteDirsIn } from "./remote.ts";
import { deleteNodes, ensureNode, nodeByIno } from "./tree.ts";

/** Attributes of a file or directory. */
export interface Attr {
  /** Inode. */
  readonly ino: number;
  /** File or directory. */
  readonly kind: "file" | "dir";
  /** Size in bytes (directories: 4096). */
  readonly size: number;
  /** Modification time. */
  readonly mtime: UnixTime;
  /** Permission bits (without the type). */
  readonly perm: number;
  /** Whether the entry is local (in the datadir) rather than remote only. */
  readonly local: boolean;
  /** Content hash of a file, `null` while unknown (pending). */
  readonly hash: Hash | null;
}

/** One directory entry. */
export interface DirEntry {
  /** Its name. */
  readonly name: string;
  /** Its inode. */
  readonly ino: number;
  /** File or directory. */
  readonly kind: "file" | "dir";
  /** The offset to continue after this entry. */
  readonly next: number;
}

/** Most entries one readdir call returns. */
export const READDIR_BATCH_MAX = 1024;
/** Files are shown writable by their owner: the overlay copies them up with this mode. */
const FILE_PERM = 0o644;
const DIR_PERM = 0o755;
const DIR_SIZE = 4096;

interface Row {
  ino: number;
  path: string;
  l_size: number | null;
  l_secs: number | null;
  l_nsecs: number | null;
  l_hash: Uint8Array | null;
  l_dir: number | null;
  r_size: number | null;
  r_secs: number | null;
  r_nsecs: number | null;
  r_hash: Uint8Array | null;
  d_secs: number | null;
  d_nsecs: number | null;
}

const SELECT = `SELECT n.ino, n.path,
    f.size AS l_size, f.mtime_secs AS l_secs, f.mtime_nsecs AS l_nsecs, f.hash AS l_hash,
    ld.path IS NOT NULL AS l_dir,
    d.size AS r_size, d.mtime_secs AS r_secs, d.mtime_nsecs AS r_nsecs, d.hash AS r_hash,
    rd.mtime_secs AS d_secs, rd.mtime_nsecs AS d_nsecs
  FROM unreal_node n
  LEFT JOIN index_file f ON f.path = n.path
  LEFT JOIN index_dir ld ON ld.path = n.path
  LEFT JOIN unreal_default d ON d.path = n.path
  LEFT JOIN unreal_dir rd ON rd.path = n.path`;

function hashOf(bytes: Uint8Array | null): Hash | null {
  return bytes === null ? null : Hash.fromBytes(bytes);
}

/** Attributes from a joined row, or `null` when nothing exists at the path. */
function attrOf(r: Row, root: boolean): Attr | null {
  const ino = r.ino;
  if (r.l_size !== null) {
    const mtime = UnixTime.of(r.l_secs!, r.l_nsecs!);
    return {
      ino,
      kind: "file",
      size: r.l_size,
      mtime,
      perm: FILE_PERM,
      local: true,
      hash: hashOf(r.l_hash),
    };
  }
  if (r.l_dir === 1 || root) {
    const mtime = r.d_secs === null ? UnixTime.EPOCH : UnixTime.of(r.d_secs, r.d_nsecs!);
    return { ino, kind: "dir", size: DIR_SIZE, mtime, perm: DIR_PERM, local: true, hash: null };
  }
  if (r.r_size !== null) {
    const mtime = UnixTime.of(r.r_secs!, r.r_nsecs!);
    return {
      ino,
      kind: "file",
      size: r.r_size,
      mtime,
      perm: FILE_PERM,
      local: false,
      hash: hashOf(r.r_hash),
    };
  }
  if (r.d_secs !== null) {
    const mtime = UnixTime.of(r.d_secs, r.d_nsecs!);
    return { ino, kind: "dir", size: DIR_SIZE, mtime, perm: DIR_PERM, local: false, hash: null };
  }
  return null;
}

/** The filesystem view of one arena. */
export class ArenaView {
  readonly #db: Database;
  readonly #alloc: InodeAllocator;
  readonly #root: number;

  /**
   * @param db the arena database (schemas of the real and the unreal)
   * @param alloc the arena's inode allocator
   */
  constructor(db: Database, alloc: InodeAllocator) {
    this.#db = db;
    this.#alloc = alloc;
    this.#root = db.write((tx) => ensureNode(tx, paths.ROOT, alloc));
  }

  /** The inode of the arena's root directory. */
  get root(): number {
    return this.#root;
  }

  /**
   * Attributes of an inode.
   *
   * @param ino an inode of this arena
   * @returns its attributes, or `null` when nothing exists there (any more)
   */
  getattr(ino: number): Attr | null {
    return this.#db.read((tx) => {
      const r = tx.get<Row>(`${SELECT} WHERE n.ino = ?`, ino);
      return r === undefined ? null : attrOf(r, ino === this.#root);
    });
  }

  /**
   * The path of an inode.
   *
   * @param ino an inode of this arena
   * @returns its path, or `null`
   */
  pathOf(ino: number): Path | null {
    return this.#db.read((tx) => nodeByIno(tx, ino)?.path ?? null);
  }

  /**
   * Looks a name up in a directory.
   *
   * @param parent the directory's inode
   * @param name the name
   * @returns the entry's attributes (with its inode), or `null` when there is none
   */
  lookup(parent: number, name: string): Attr | null {
    if (paths.problem(name) !== null || name === "" || name.includes("/")) return null;
    const known = this.#db.read((tx) => {
      const r = tx.get<Row>(`${SELECT} WHERE n.parent = ? AND n.name = ?`, parent, name);
      return r === undefined ? undefined : attrOf(r, false);
    });
    if (known !== undefined) return known;
    // No node yet: an entry nobody looked at; make its node if something is there.
    return this.#db.write((tx) => {
      const dir = nodeByIno(tx, parent);
      if (dir === null) return null;
      const path = paths.join(dir.path, name);
      if (!exists(tx, path)) return null;
      const ino = ensureNode(tx, path, this.#alloc);
      const r = tx.get<Row>(`${SELECT} WHERE n.ino = ?`, ino);
      return r === undefined ? null : attrOf(r, false);
    });
  }

  /**
   * Lists a directory from an offset. Offsets are inodes, so they stay valid while the
   * directory changes; entries created during a listing may be left out of it.
   *
   * @param ino the directory's inode
   * @param offset 0, or the `next` of the last entry returned
   * @param limit at most this many (≤ {@linkcode READDIR_BATCH_MAX})
   * @returns the entries, or `null` when `ino` is not a directory
   */
  readdir(ino: number, offset: number, limit: number): DirEntry[] | null {
    const n = Math.min(limit, READDIR_BATCH_MAX);
    if (offset === 0) {
      const ok = this.#db.write((tx) => this.#syncChildren(tx, ino));
      if (!ok) return null;
    }
    return this.#db.read((tx) => {
      const out: DirEntry[] = [];
      // Nodes whose entry vanished are skipped; an empty answer would end the listing,
      // so read on until something is found or the directory is exhausted.
      for (let after = offset; out.length === 0;) {
        const rows = tx.all<Row>(
          `${SELECT} WHERE n.parent = ? AND n.ino > ? ORDER BY n.ino LIMIT ?`,
          ino,
          after,
          n,
        );
        for (const r of rows) {
          const a = attrOf(r, false);
          const name = paths.name(r.path as Path);
          if (a !== null) out.push({ name, ino: r.ino, kind: a.kind, next: r.ino });
        }
        if (rows.length < n) break;
        after = rows.at(-1)!.ino;
      }
      return out;
    });
  }

  /** Makes nodes for the children that have none, and drops those of vanished ones. */
  #syncChildren(tx: WriteTx, ino: number): boolean {
    const dir = nodeByIno(tx, ino);
    if (dir === null) return false;
    const r = tx.get<Row>(`${SELECT} WHERE n.ino = ?`, ino);
    const a = r === undefined ? null : attrOf(r, ino === this.#root);
    if (a?.kind !== "dir") return false;
    const names = new Set<string>();
    for (const f of filesIn(tx, dir.path)) names.add(paths.name(f.path));
    for (const d of dirsIn(tx, dir.path)) names.add(paths.name(d));
    for (const v of defaultsIn(tx, dir.path)) names.add(paths.name(v.path));
    for (const d of remoteDirsIn(tx, dir.path)) names.add(paths.name(d));
    const nodes = tx.all<{ name: string; path: string }>(
      "SELECT name, path FROM unreal_node WHERE parent = ?",
      ino,
    );
    for (const nd of nodes) {
      if (!names.delete(nd.name)) deleteNodes(tx, nd.path as Path);
    }
    for (const name of names) ensureNode(tx, paths.join(dir.path, name), this.#alloc);
    return true;
  }

  /**
   * The inode of a path, if something exists there.
   *
   * @param path a path in the arena
   * @returns the inode, or `null`
   */
  inoOf(path: Path): number | null {
    const found = this.#db.read((tx) => {
      const node = tx.get<Row>(`${SELECT} WHERE n.path = ?`, path);
      return node === undefined ? undefined : attrOf(node, path === paths.ROOT)?.ino ?? null;
    });
    if (found !== undefined) return found;
    return this.#db.write((tx) => exists(tx, path) ? ensureNode(tx, path, this.#alloc) : null);
  }
}

function exists(tx: ReadTx, path: Path): boolean {
  return tx.get(
    `SELECT 1 WHERE EXISTS (SELECT 1 FROM index_file WHERE path = ?1)
       OR EXISTS (SELECT 1 FROM index_dir WHERE path = ?1)
       OR EXISTS (SELECT 1 FROM unreal_default WHERE path = ?1)
       OR EXISTS (SELECT 1 FROM unreal_dir WHERE path = ?1)`,
    path,
  ) !== undefined;
}
