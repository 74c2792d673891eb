/**
 * An arena seen as a filesystem: lookup, getattr and readdir over the union of the local
 * index (the real) and the remote default versions (the unreal), with stable inodes.
 *
 * Precedence at a path: a local file, else a local directory, else the remote default
 * version, else a remote directory. Reads come from one row per entry: the node carries
 * what the four tables that can say what is at its path hold (triggers keep it, see
 * `tree.ts`), so a warm lookup is one index search and a few microseconds. Nodes for
 * entries nobody looked at yet are created on the first lookup, or for a whole
 * directory when a listing starts.
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
}

/** Attributes with the version shown: what an open needs. */
export interface Versioned extends Attr {
  /** Content hash of a file, `null` for a directory or while unknown (pending). */
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

/** What a node shows, in precedence order (the `shown` column of {@linkcode queries}). */
const SHOWN = { nothing: 0, localFile: 1, localDir: 2, remoteFile: 3, remoteDir: 4 } as const;

/** Column positions in a row of {@linkcode queries}. */
const C = { ino: 0, name: 1, shown: 2, size: 3, secs: 4, nsecs: 5, hash: 6 } as const;

/** A row as values in select order (hot paths read arrays: faster). */
type Row = readonly SqlValue[];

/**
 * The statements of a view; built once: statements are cached by their text.
 *
 * A node row carries what is at its path (kept by triggers, see `tree.ts`), precedence
 * is decided in SQL and a row brings only what is shown: every column costs in the
 * conversion to JavaScript, a hash most (a fresh buffer), so only
 * {@linkcode ArenaView.versionOf} reads the hash.
 */
function queries(local: boolean) {
  const shown = local
    ? `CASE WHEN l_size IS NOT NULL THEN ${SHOWN.localFile}
        WHEN l_dir = 1 THEN ${SHOWN.localDir}
        WHEN r_size IS NOT NULL THEN ${SHOWN.remoteFile}
        WHEN rd_secs IS NOT NULL THEN ${SHOWN.remoteDir} ELSE ${SHOWN.nothing} END`
    : `CASE WHEN r_size IS NOT NULL THEN ${SHOWN.remoteFile}
        WHEN rd_secs IS NOT NULL THEN ${SHOWN.remoteDir} ELSE ${SHOWN.nothing} END`;
  // A local directory shows the remote directory's time, if there is one.
  const time = (col: "secs" | "nsecs") =>
    local
      ? `CASE WHEN l_size IS NOT NULL THEN l_${col}
          WHEN l_dir = 0 AND r_size IS NOT NULL THEN r_${col} ELSE rd_${col} END`
      : `coalesce(r_${col}, rd_${col})`;
  const size = local ? "coalesce(l_size, r_size)" : "r_size";
  // Hashes stay in their tables: on the node row they cost every catch-up a wider write.
  const localHash = "(SELECT hash FROM index_file f WHERE f.path = unreal_node.path)";
  const remoteHash = "(SELECT hash FROM unreal_default d WHERE d.path = unreal_node.path)";
  const hash = local
    ? `CASE WHEN l_size IS NOT NULL THEN ${localHash} WHEN l_dir = 0 THEN ${remoteHash} END`
    : remoteHash;
  const select = `SELECT ino, name, ${shown}, ${size}, ${time("secs")}, ${time("nsecs")}`;
  return {
    byIno: `${select} FROM unreal_node WHERE ino = ?`,
    versionByIno: `${select}, ${hash} FROM unreal_node WHERE ino = ?`,
    byName: `${select} FROM unreal_node WHERE parent = ? AND name = ?`,
    byPath: `${select} FROM unreal_node WHERE path = ?`,
    listing: `${select} FROM unreal_node WHERE parent = ? AND ino > ? ORDER BY ino LIMIT ?`,
  };
}
const WITH_LOCAL = queries(true);
const REMOTE_ONLY = queries(false);

/** Attributes from a row, or `null` when nothing exists at the path. */
function attrOf(r: Row, root: boolean): Attr | null {
  const shown = r[C.shown] as number;
  const ino = r[C.ino] as number;
  const secs = r[C.secs];
  const mtime = secs === null ? UnixTime.EPOCH : UnixTime.of(secs as number, r[C.nsecs] as number);
  if (root) return { ino, kind: "dir", size: DIR_SIZE, mtime, perm: DIR_PERM, local: true };
  switch (shown) {
    case SHOWN.localFile:
    case SHOWN.remoteFile:
      return {
        ino,
        kind: "file",
        size: r[C.size] as number,
        mtime,
        perm: FILE_PERM,
        local: shown === SHOWN.localFile,
      };
    case SHOWN.localDir:
    case SHOWN.remoteDir:
      return {
        ino,
        kind: "dir",
        size: DIR_SIZE,
        mtime,
        perm: DIR_PERM,
        local: shown === SHOWN.localDir,
      };
    default:
      return null;
  }
}

/** The filesystem view of one arena. */
export class ArenaView {
  readonly #db: Database;
  readonly #alloc: InodeAllocator;
  readonly #root: number;
  readonly #q: typeof WITH_LOCAL;
  /**
   * Directories whose children all had nodes when the database was in state `#syncedAt`
   * (see `dbState`): listing them again needs no search for missing nodes (a query over
   * four tables, a third of a listing) until something changes.
   */
  readonly #synced = new Set<number>();
  #syncedAt = "";

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
   * Attributes of an inode with the version of the file shown.
   *
   * @param ino an inode of this arena
   * @returns its attributes and hash, or `null` when nothing exists there (any more)
   */
  versionOf(ino: number): Versioned | null {
    const r = this.#db.getValues(this.#q.versionByIno, ino);
    const a = r === undefined ? null : attrOf(r, ino === this.#root);
    if (a === null) return null;
    const hash = a.kind === "file" ? r![C.hash] : null;
    return { ...a, hash: hash instanceof Uint8Array ? Hash.fromBytes(hash) : null };
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
   * @returns the entries — fewer than `limit` (or {@linkcode READDIR_BATCH_MAX}) only when
   *   they reach the end of the directory — or `null` when `ino` is not a directory
   */
  readdir(ino: number, offset: number, limit: number): DirEntry[] | null {
    const n = Math.min(limit, READDIR_BATCH_MAX);
    const stale: number[] = [];
    const list = (tx: ReadTx, check: boolean): DirEntry[] | null => {
      if (check && offset === 0) {
        this.#syncedAs(dbState(tx));
        if (!this.#synced.has(ino)) return null; // nodes to make first
      }
      const out: DirEntry[] = [];
      // Nodes whose entry vanished are skipped; fewer than `n` entries must mean the end
      // of the directory (an empty answer ends a listing), so read on until `n` are found
      // or the directory is exhausted.
      for (let after = offset; out.length < n;) {
        const want = n - out.length;
        const rows = allRows(tx, this.#q.listing, ino, after, want);
        for (const r of rows) {
          const a = attrOf(r, false);
          const rowIno = r[C.ino] as number;
          if (a !== null) {
            out.push({
              name: r[C.name] as string,
              ino: rowIno,
              kind: a.kind,
              next: rowIno,
              attr: a,
            });
          } else stale.push(rowIno);
        }
        if (rows.length < want) break;
        after = rows.at(-1)![C.ino] as number;
      }
      return out;
    };
    let entries = this.#db.read((tx) => list(tx, true));
    if (entries === null) {
      // The state read in the same transaction: no other commit can come in between.
      const state = this.#db.write((tx) => this.#syncChildren(tx, ino) ? dbState(tx) : null);
      if (state === null) return null;
      this.#syncedAs(state);
      this.#synced.add(ino);
      entries = this.#db.read((tx) => list(tx, false))!;
    }
    // Nodes of entries that vanished (a local file deleted): dropped once seen.
    if (stale.length > 0) {
      this.#db.write((tx) =>
        stale.forEach((i) => {
          const path = nodeByIno(tx, i)?.path;
          if (path !== undefined && !exists(tx, path)) deleteNodes(tx, path);
        })
      );
    }
    return entries;
  }

  /** Drops every mark when the database is no longer in the state they were made in. */
  #syncedAs(state: string): void {
    if (state === this.#syncedAt) return;
    this.#synced.clear();
    this.#syncedAt = state;
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

/**
 * What the database holds, as far as a connection can tell it changed: its own changes
 * (`total_changes()`) and the commits of others (`PRAGMA data_version`).
 */
function dbState(tx: ReadTx): string {
  return tx.allValues("SELECT total_changes(), data_version FROM pragma_data_version")[0]!
    .join();
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
