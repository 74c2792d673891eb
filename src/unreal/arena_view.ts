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

import type { Database, InodeAllocator, ReadTx, SqlValue, WriteTx } from "../storage/mod.ts";
import { Hash, type Path, paths, UnixTime } from "../types/mod.ts";
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
  /** Its attributes, when the listing read them (an arena's listing does). */
  readonly attr?: Attr;
}

/** Most entries one readdir call returns. */
export const READDIR_BATCH_MAX = 1024;
/** Files are shown writable by their owner: the overlay copies them up with this mode. */
const FILE_PERM = 0o644;
const DIR_PERM = 0o755;
const DIR_SIZE = 4096;

/** Column positions in a row of {@linkcode SELECT}. */
const C = {
  ino: 0,
  path: 1,
  lSize: 2,
  lSecs: 3,
  lNsecs: 4,
  lHash: 5,
  lDir: 6,
  rSize: 7,
  rSecs: 8,
  rNsecs: 9,
  rHash: 10,
  dSecs: 11,
  dNsecs: 12,
} as const;

/** A row of {@linkcode SELECT} as values in select order (hot paths read arrays: faster). */
type Row = readonly SqlValue[];

const SELECT = `SELECT n.ino, n.path,
    f.size, f.mtime_secs, f.mtime_nsecs, f.hash,
    ld.path IS NOT NULL,
    d.size, d.mtime_secs, d.mtime_nsecs, d.hash,
    rd.mtime_secs, rd.mtime_nsecs
  FROM unreal_node n
  LEFT JOIN index_file f ON f.path = n.path
  LEFT JOIN index_dir ld ON ld.path = n.path
  LEFT JOIN unreal_default d ON d.path = n.path
  LEFT JOIN unreal_dir rd ON rd.path = n.path`;

/**
 * The same columns for an arena without a datadir: no local file can be shown, and the
 * two probes of the local tables were ~30% of a lookup (measured).
 */
const SELECT_REMOTE = `SELECT n.ino, n.path,
    NULL, NULL, NULL, NULL,
    0,
    d.size, d.mtime_secs, d.mtime_nsecs, d.hash,
    rd.mtime_secs, rd.mtime_nsecs
  FROM unreal_node n
  LEFT JOIN unreal_default d ON d.path = n.path
  LEFT JOIN unreal_dir rd ON rd.path = n.path`;

/** The statements of a view; built once: statements are cached by their text. */
function queries(select: string) {
  return {
    byIno: `${select} WHERE n.ino = ?`,
    byName: `${select} WHERE n.parent = ? AND n.name = ?`,
    byPath: `${select} WHERE n.path = ?`,
    listing: `${select} WHERE n.parent = ? AND n.ino > ? ORDER BY n.ino LIMIT ?`,
  };
}
const WITH_LOCAL = queries(SELECT);
const REMOTE_ONLY = queries(SELECT_REMOTE);

function hashOf(bytes: SqlValue): Hash | null {
  return bytes instanceof Uint8Array ? Hash.fromBytes(bytes) : null;
}

function time(secs: SqlValue, nsecs: SqlValue): UnixTime {
  return UnixTime.of(Number(secs), Number(nsecs));
}

/** Attributes from a joined row, or `null` when nothing exists at the path. */
function attrOf(r: Row, root: boolean): Attr | null {
  const ino = Number(r[C.ino]);
  if (r[C.lSize] !== null) {
    const mtime = time(r[C.lSecs]!, r[C.lNsecs]!);
    const size = Number(r[C.lSize]);
    return {
      ino,
      kind: "file",
      size,
      mtime,
      perm: FILE_PERM,
      local: true,
      hash: hashOf(r[C.lHash]!),
    };
  }
  if (r[C.lDir] === 1 || root) {
    const mtime = r[C.dSecs] === null ? UnixTime.EPOCH : time(r[C.dSecs]!, r[C.dNsecs]!);
    return { ino, kind: "dir", size: DIR_SIZE, mtime, perm: DIR_PERM, local: true, hash: null };
  }
  if (r[C.rSize] !== null) {
    const mtime = time(r[C.rSecs]!, r[C.rNsecs]!);
    const size = Number(r[C.rSize]);
    return {
      ino,
      kind: "file",
      size,
      mtime,
      perm: FILE_PERM,
      local: false,
      hash: hashOf(r[C.rHash]!),
    };
  }
  if (r[C.dSecs] !== null) {
    const mtime = time(r[C.dSecs]!, r[C.dNsecs]!);
    return { ino, kind: "dir", size: DIR_SIZE, mtime, perm: DIR_PERM, local: false, hash: null };
  }
  return null;
}

/** The filesystem view of one arena. */
export class ArenaView {
  readonly #db: Database;
  readonly #alloc: InodeAllocator;
  readonly #root: number;
  readonly #q: typeof WITH_LOCAL;

  /**
   * @param db the arena database (schemas of the real and the unreal)
   * @param alloc the arena's inode allocator
   * @param options `local: false` for an arena without a datadir (its local files,
   *   if the index still lists some, are not shown)
   */
  constructor(db: Database, alloc: InodeAllocator, options: { local?: boolean } = {}) {
    this.#db = db;
    this.#alloc = alloc;
    this.#q = options.local === false ? REMOTE_ONLY : WITH_LOCAL;
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
    const v = this.#db.getValues(this.#q.byIno, ino);
    return v === undefined ? null : attrOf(v, ino === this.#root);
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
    const v = this.#db.getValues(this.#q.byName, parent, name);
    const known = v === undefined ? undefined : attrOf(v, false);
    if (known !== undefined) return known;
    // No node yet: an entry nobody looked at; make its node if something is there.
    return this.#db.write((tx) => {
      const dir = nodeByIno(tx, parent);
      if (dir === null) return null;
      const path = paths.join(dir.path, name);
      if (!exists(tx, path)) return null;
      const ino = ensureNode(tx, path, this.#alloc);
      const r = getRow(tx, this.#q.byIno, ino);
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
    const stale: Path[] = [];
    const entries = this.#db.read((tx) => {
      const out: DirEntry[] = [];
      // Nodes whose entry vanished are skipped; an empty answer would end the listing,
      // so read on until something is found or the directory is exhausted.
      for (let after = offset; out.length === 0;) {
        const rows = allRows(
          tx,
          this.#q.listing,
          ino,
          after,
          n,
        );
        for (const r of rows) {
          const a = attrOf(r, false);
          const path = r[C.path] as Path;
          const rowIno = Number(r[C.ino]);
          if (a !== null) {
            out.push({ name: paths.name(path), ino: rowIno, kind: a.kind, next: rowIno, attr: a });
          } else stale.push(path);
        }
        if (rows.length < n) break;
        after = Number(rows.at(-1)![C.ino]);
      }
      return out;
    });
    // Nodes of entries that vanished (a local file deleted): dropped once seen.
    if (stale.length > 0) {
      this.#db.write((tx) => stale.forEach((p) => !exists(tx, p) && deleteNodes(tx, p)));
    }
    return entries;
  }

  /** Makes nodes for the children that have none (one query: cheap when all have one). */
  #syncChildren(tx: WriteTx, ino: number): boolean {
    const dir = nodeByIno(tx, ino);
    if (dir === null) return false;
    const r = getRow(tx, this.#q.byIno, ino);
    const a = r === undefined ? null : attrOf(r, ino === this.#root);
    if (a?.kind !== "dir") return false;
    const missing = tx.all<{ path: string }>(
      `SELECT path FROM (
         SELECT path FROM index_file WHERE parent = ?1
         UNION SELECT path FROM index_dir WHERE parent = ?1
         UNION SELECT path FROM unreal_default WHERE parent = ?1
         UNION SELECT path FROM unreal_dir WHERE parent = ?1
       ) AS c WHERE NOT EXISTS (SELECT 1 FROM unreal_node n WHERE n.path = c.path)`,
      dir.path,
    );
    for (const m of missing) ensureNode(tx, m.path as Path, this.#alloc);
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
      const node = getRow(tx, this.#q.byPath, path);
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

function getRow(tx: ReadTx, sql: string, ...params: SqlValue[]): Row | undefined {
  return tx.allValues(sql, ...params)[0];
}

function allRows(tx: ReadTx, sql: string, ...params: SqlValue[]): Row[] {
  return tx.allValues(sql, ...params);
}
