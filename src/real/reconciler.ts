/**
 * Compares the datadir with the index and records the differences (upstream.md §3.7):
 * the start-up catch-up walks the whole tree; live events check single paths or apply
 * a rename. Every directory is handled in one short write transaction.
 *
 * Rules worth knowing:
 * - a new path holding the inode of an indexed, hashed file with the same size and
 *   mtime is a rename (when the old path no longer holds that inode) or a hard link
 *   (when it still does): peers move or link their copy instead of fetching it again;
 * - a directory that cannot be read keeps what is indexed under it (a transient EACCES
 *   must not make peers delete their copies); a datadir that is gone is an error, never
 *   "everything was deleted";
 * - special files (symlinks, fifos, devices) and excluded paths are never indexed.
 *
 * @module
 */

import type { Database, WriteTx } from "../storage/mod.ts";
import { type Path, paths } from "../types/mod.ts";
import { logger } from "../util/mod.ts";
import {
  applyXattrMark,
  type BaseOf,
  recordBranched,
  recordFile,
  recordRemoved,
  recordRenamed,
  recordTreeRemoved,
} from "./changes.ts";
import type { Datadir, Found } from "./datadir.ts";
import {
  deleteDirTree,
  dirsIn,
  filesIn,
  filesUnder,
  filesWithInode,
  type FileVersion,
  getFile,
  hasDir,
  putDir,
  sameVersion,
  xattrMarksIn,
  xattrMarksUnder,
} from "./index.ts";

const log = logger("real");

/** Progress of a tree scan. */
export interface ScanProgress {
  /** Directories scanned so far. */
  dirs: number;
  /** Entries (files, directories, others) looked at so far. */
  entries: number;
}

/** Directories scanned between two yields to the event loop. */
const DIRS_PER_YIELD = 16;

/** Keeps an arena's index in line with its datadir. */
export class Reconciler {
  readonly #db: Database;
  readonly #dir: Datadir;
  readonly #baseOf: BaseOf | undefined;

  /**
   * @param db the arena database
   * @param dir the datadir
   * @param baseOf the version a file new here replaces (see {@linkcode BaseOf})
   */
  constructor(db: Database, dir: Datadir, baseOf?: BaseOf) {
    this.#db = db;
    this.#dir = dir;
    this.#baseOf = baseOf;
  }

  /**
   * Walks a directory tree and records every difference with the index.
   *
   * @param root the directory to scan (`ROOT` for the whole datadir)
   * @param options `signal` stops the walk; `onProgress` is called after each directory
   * @returns what was scanned
   * @throws {Error} when `root` is the datadir and it is missing or unreadable
   */
  async scanTree(
    root: Path,
    options: { signal?: AbortSignal; onProgress?: (p: ScanProgress) => void } = {},
  ): Promise<ScanProgress> {
    const progress: ScanProgress = { dirs: 0, entries: 0 };
    const stack: Path[] = [root];
    while (stack.length > 0) {
      options.signal?.throwIfAborted();
      const dir = stack.pop()!;
      const subdirs = this.#scanDir(dir, progress);
      stack.push(...subdirs.reverse());
      progress.dirs++;
      options.onProgress?.(progress);
      if (progress.dirs % DIRS_PER_YIELD === 0) await new Promise((r) => setTimeout(r, 0));
    }
    return progress;
  }

  #scanDir(dir: Path, progress: ScanProgress): Path[] {
    const names = this.#dir.list(dir);
    if (names !== "gone" && names !== "unreadable") {
      return this.#db.write((tx) => this.#reconcileDir(tx, dir, names, progress));
    }
    if (dir === paths.ROOT) {
      throw new Error(`Cannot scan datadir "${this.#dir.root}": it is ${names}`);
    }
    if (names === "gone") this.#db.write((tx) => recordTreeRemoved(tx, dir));
    return [];
  }

  #reconcileDir(tx: WriteTx, dir: Path, names: string[], progress: ScanProgress): Path[] {
    const files = new Map(filesIn(tx, dir).map((e) => [paths.name(e.path), e]));
    const dirs = new Set(dirsIn(tx, dir).map((d) => paths.name(d)));
    const marks = xattrMarksIn(tx, dir);
    const found = new Map<string, Found["kind"]>();
    const subdirs: Path[] = [];
    // New and changed entries first, so a rename finds its source still indexed.
    for (const name of names) {
      const path = paths.join(dir, name);
      if (this.#dir.excluded(path)) continue;
      const f = this.#dir.stat(path);
      found.set(name, f.kind);
      const entry = files.get(name);
      const known = (f.kind === "file" && entry !== undefined && sameVersion(entry, f.version)) ||
        (f.kind === "dir" && dirs.has(name));
      if (!known) {
        this.#apply(tx, path, f);
      } else if (f.kind === "file" || f.kind === "dir") {
        // Unchanged: only its mark xattr may differ (the common case costs no write).
        const mark = this.#dir.readMark(path);
        if ((mark?.trim() ?? null) !== (marks.get(name) ?? null)) applyXattrMark(tx, path, mark);
      }
      if (f.kind === "dir") subdirs.push(path);
    }
    progress.entries += found.size;
    for (const [name, e] of files) {
      if (found.get(name) === "file" || getFile(tx, e.path) === null) continue;
      recordRemoved(tx, e.path);
      applyXattrMark(tx, e.path, null);
    }
    for (const name of dirs) {
      if (found.get(name) !== "dir") recordTreeRemoved(tx, paths.join(dir, name));
    }
    return subdirs;
  }

  /** Records what was found at a path; returns true for a directory. */
  #apply(tx: WriteTx, path: Path, f: Found): boolean {
    if (f.kind !== "dir" && hasDir(tx, path)) recordTreeRemoved(tx, path);
    if (f.kind !== "file" && getFile(tx, path) !== null) recordRemoved(tx, path);
    switch (f.kind) {
      case "missing":
      case "other":
        applyXattrMark(tx, path, null);
        return false;
      case "file":
        // Checked here, for new and changed files only: a remote file copied up by the
        // overlay for a chmod or a mark holds no content, only (maybe) the mark.
        if (this.#dir.metacopy(path)) {
          applyXattrMark(tx, path, this.#dir.readMark(path));
          return false;
        }
        this.#file(tx, path, f.version);
        applyXattrMark(tx, path, this.#dir.readMark(path));
        return false;
      case "dir":
        putDir(tx, path);
        applyXattrMark(tx, path, this.#dir.readMark(path));
        return true;
    }
  }

  #file(tx: WriteTx, path: Path, v: FileVersion): void {
    if (getFile(tx, path) === null) {
      for (const c of filesWithInode(tx, v.dev, v.ino)) {
        if (c.path === path || c.hash === null || c.size !== v.size || !c.mtime.equals(v.mtime)) {
          continue;
        }
        const there = this.#dir.stat(c.path, true);
        const sameInode = there.kind === "file" && there.version.ino === v.ino &&
          there.version.dev === v.dev;
        if (sameInode) recordBranched(tx, c.path, path);
        else recordRenamed(tx, c.path, path, v, this.#baseOf);
        return;
      }
    }
    recordFile(tx, path, v);
  }

  /**
   * Looks at one path after a change event and records what is there now.
   *
   * @param path the path that changed
   * @returns a directory that appeared and must be scanned (its content came with it),
   *   or `null`
   */
  checkPath(path: Path): Path | null {
    if (path === paths.ROOT) return paths.ROOT;
    if (this.#dir.excluded(path)) {
      this.#db.write((tx) => this.#apply(tx, path, { kind: "missing" }));
      return null;
    }
    const f = this.#dir.stat(path, true);
    return this.#db.write((tx) => {
      const newDir = f.kind === "dir" && !hasDir(tx, path);
      if (f.kind === "file" || f.kind === "dir") ensureParents(tx, path);
      this.#apply(tx, path, f);
      return newDir ? path : null;
    });
  }

  /**
   * Applies a rename reported by the watcher (both paths known). Falls back to checking
   * both paths when the rename cannot be followed.
   *
   * @param from the old path
   * @param to the new path
   * @returns a directory to scan (the moved tree), or `null`
   */
  renamed(from: Path, to: Path): Path | null {
    const f = this.#dir.stat(to, true);
    const gone = this.#dir.stat(from, true).kind === "missing";
    const moved = gone && !this.#dir.excluded(from) && !this.#dir.excluded(to) &&
      this.#db.write((tx) => {
        if (f.kind === "dir" && hasDir(tx, from)) {
          ensureParents(tx, to);
          renameTree(tx, from, to);
          return true;
        }
        if (f.kind === "file" && getFile(tx, from) !== null) {
          ensureParents(tx, to);
          recordRenamed(tx, from, to, f.version, this.#baseOf);
          applyXattrMark(tx, from, null);
          applyXattrMark(tx, to, this.#dir.readMark(to));
          return true;
        }
        return false;
      });
    if (moved) return f.kind === "dir" ? to : null;
    this.checkPath(from);
    return this.checkPath(to);
  }
}

function ensureParents(tx: WriteTx, path: Path): void {
  for (let p = paths.parent(path); p !== null && p !== paths.ROOT; p = paths.parent(p)) {
    if (!putDir(tx, p)) return; // already known, and so are its parents
  }
}

function renameTree(tx: WriteTx, from: Path, to: Path): void {
  const moved = (p: Path) => paths.join(to, p.slice(from.length + 1));
  // Marks read from xattrs are read again from the new place by the scan that follows.
  for (const p of xattrMarksUnder(tx, from)) applyXattrMark(tx, p, null);
  for (const e of filesUnder(tx, from)) recordRenamed(tx, e.path, moved(e.path), e);
  const dirs = [from, ...dirsUnder(tx, from)];
  deleteDirTree(tx, from);
  for (const d of dirs) putDir(tx, d === from ? to : moved(d));
  log.debug(`renamed directory "${from}" to "${to}"`);
}

function dirsUnder(tx: WriteTx, dir: Path): Path[] {
  const out: Path[] = [];
  const stack = [dir];
  while (stack.length > 0) {
    for (const d of dirsIn(tx, stack.pop()!)) {
      out.push(d);
      stack.push(d);
    }
  }
  return out;
}
