/**
 * Every arena in one tree, as the FUSE root shows it (DESIGN §4.4): the root (inode 1)
 * lists the arenas; an arena named `photos/2024` appears as `2024` inside a directory
 * `photos`. Those intermediate directories get stable inodes from the global database;
 * everything inside an arena belongs to its {@linkcode ArenaView}, found from the inode
 * range the inode falls in.
 *
 * @module
 */

import {
  allocateRange,
  type Database,
  type InodeRange,
  listRanges,
  ROOT_INODE,
  type Schema,
} from "../storage/mod.ts";
import { type ArenaName, type Path, paths, UnixTime } from "../types/mod.ts";
import { assert } from "../util/mod.ts";
import type { ArenaView, Attr, DirEntry, Versioned } from "./arena_view.ts";

/** The global database's table of intermediate directories. */
export const GLOBAL_TREE_SCHEMA: Schema = {
  name: "globaltree",
  migrations: [
    `CREATE TABLE globaltree_dir (
       path TEXT PRIMARY KEY,
       ino INTEGER NOT NULL UNIQUE
     ) WITHOUT ROWID;`,
  ],
};

/** Owner of the inode ranges of intermediate directories (no arena has this name). */
const GLOBAL_OWNER = "" as ArenaName;
const GLOBAL_RANGE_SIZE = 1000;
const GLOBAL_PERM = 0o555;

interface GlobalDir {
  readonly ino: number;
  readonly path: Path;
  /** Children: global directories and arena roots, by name. */
  readonly children: Map<string, { ino: number; arena: ArenaName | null }>;
}

/** The union of all arenas, routed by inode. */
export class Filesystem {
  readonly #globalDb: Database;
  readonly #arenas = new Map<ArenaName, ArenaView>();
  readonly #dirs = new Map<number, GlobalDir>();
  #ranges: InodeRange[] = [];
  readonly #started = UnixTime.now();

  /**
   * @param globalDb the global database (inode ranges and {@linkcode GLOBAL_TREE_SCHEMA})
   * @param arenas each arena's name and view
   */
  constructor(globalDb: Database, arenas: ReadonlyMap<ArenaName, ArenaView>) {
    this.#globalDb = globalDb;
    const root: GlobalDir = { ino: ROOT_INODE, path: paths.ROOT, children: new Map() };
    this.#dirs.set(ROOT_INODE, root);
    const byPath = new Map<Path, GlobalDir>([[paths.ROOT, root]]);
    for (const [name, view] of [...arenas].sort(([a], [b]) => a.localeCompare(b))) {
      this.#arenas.set(name, view);
      const parts = name.split("/");
      let dir = root;
      for (let i = 0; i < parts.length - 1; i++) {
        const path = parts.slice(0, i + 1).join("/") as Path;
        let next = byPath.get(path);
        if (next === undefined) {
          next = { ino: this.#globalIno(path), path, children: new Map() };
          byPath.set(path, next);
          this.#dirs.set(next.ino, next);
          dir.children.set(parts[i]!, { ino: next.ino, arena: null });
        }
        dir = next;
      }
      dir.children.set(parts.at(-1)!, { ino: view.root, arena: name });
    }
    this.#ranges = this.#globalDb.read((tx) => listRanges(tx));
  }

  /** A stable inode for an intermediate directory. */
  #globalIno(path: Path): number {
    const known = this.#globalDb.read((tx) =>
      tx.get<{ ino: number }>("SELECT ino FROM globaltree_dir WHERE path = ?", path)
    );
    if (known !== undefined) return known.ino;
    const used =
      this.#globalDb.read((tx) =>
        tx.get<{ ino: number | null }>("SELECT max(ino) AS ino FROM globaltree_dir")
      )?.ino ?? 0;
    // The global ranges are used in order: find the one holding the next free inode.
    let range = allocateRange(this.#globalDb, GLOBAL_OWNER, 0, GLOBAL_RANGE_SIZE);
    while (used + 1 >= range.end) {
      range = allocateRange(this.#globalDb, GLOBAL_OWNER, range.end, GLOBAL_RANGE_SIZE);
    }
    const ino = Math.max(range.start, used + 1);
    this.#globalDb.write((tx) =>
      tx.run("INSERT INTO globaltree_dir (path, ino) VALUES (?, ?)", path, ino)
    );
    return ino;
  }

  /**
   * The arena an inode belongs to.
   *
   * @param ino an inode
   * @returns the arena and its view, or `null` for global directories and unknown inodes
   */
  arenaOf(ino: number): { arena: ArenaName; view: ArenaView } | null {
    let owner = this.#owner(ino);
    if (owner === undefined) {
      this.#ranges = this.#globalDb.read((tx) => listRanges(tx)); // a range allocated since
      owner = this.#owner(ino);
    }
    const view = owner === undefined ? undefined : this.#arenas.get(owner);
    return view === undefined ? null : { arena: owner!, view };
  }

  #owner(ino: number): ArenaName | undefined {
    let lo = 0;
    let hi = this.#ranges.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const r = this.#ranges[mid]!;
      if (ino < r.start) hi = mid - 1;
      else if (ino >= r.end) lo = mid + 1;
      else return r.owner;
    }
    return undefined;
  }

  /**
   * Attributes of an inode.
   *
   * @param ino an inode
   * @returns its attributes, or `null`
   */
  getattr(ino: number): Attr | null {
    const dir = this.#dirs.get(ino);
    if (dir !== undefined) return this.#dirAttr(dir);
    return this.arenaOf(ino)?.view.getattr(ino) ?? null;
  }

  #dirAttr(dir: GlobalDir): Attr {
    return {
      ino: dir.ino,
      kind: "dir",
      size: 4096,
      mtime: this.#started,
      perm: GLOBAL_PERM,
      local: true,
    };
  }

  /**
   * Attributes of an inode with the version shown (see `ArenaView.versionOf`).
   *
   * @param ino an inode
   * @returns its attributes and hash, or `null`
   */
  versionOf(ino: number): Versioned | null {
    const dir = this.#dirs.get(ino);
    if (dir !== undefined) return { ...this.#dirAttr(dir), hash: null };
    return this.arenaOf(ino)?.view.versionOf(ino) ?? null;
  }

  /**
   * Looks a name up in a directory.
   *
   * @param parent the directory's inode
   * @param name the name
   * @returns the entry's attributes, or `null`
   */
  lookup(parent: number, name: string): Attr | null {
    const dir = this.#dirs.get(parent);
    if (dir === undefined) return this.arenaOf(parent)?.view.lookup(parent, name) ?? null;
    const child = dir.children.get(name);
    if (child === undefined) return null;
    if (child.arena === null) return this.#dirAttr(this.#dirs.get(child.ino)!);
    const view = this.#arenas.get(child.arena);
    assert(view !== undefined, "an arena root belongs to a known arena");
    return view.getattr(child.ino);
  }

  /**
   * Lists a directory from an offset (see `ArenaView.readdir`).
   *
   * @param ino the directory's inode
   * @param offset 0, or the `next` of the last entry returned
   * @param limit at most this many
   * @returns the entries — fewer than `limit` only at the end of the directory — or `null`
   *   when `ino` is not a directory
   */
  readdir(ino: number, offset: number, limit: number): DirEntry[] | null {
    const dir = this.#dirs.get(ino);
    if (dir === undefined) return this.arenaOf(ino)?.view.readdir(ino, offset, limit) ?? null;
    return [...dir.children]
      .map(([name, c]) => ({ name, ino: c.ino, kind: "dir" as const, next: c.ino }))
      .sort((a, b) => a.ino - b.ino)
      .filter((e) => e.ino > offset)
      .slice(0, limit);
  }
}
