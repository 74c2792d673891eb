/**
 * The filesystem side of an arena's real: paths inside the datadir, what is at a path
 * (with nanosecond mtimes, via statx), directory listings, the mark xattr, and the paths
 * that must never be indexed (the global database when it sits inside the datadir).
 *
 * @module
 */

import { getXattr, lstat } from "../../ffi/libc/mod.ts";
import { type Path, paths, UnixTime } from "../types/mod.ts";
import { logger } from "../util/mod.ts";
import type { FileVersion } from "./index.ts";

const log = logger("real");

/** The xattr holding a path's mark (seed `#marksxattrs`). */
export const MARK_XATTR = "user.realize.mark";

/**
 * Set by overlayfs (privileged mode) on an upper file copied up as metadata only: its
 * content is still in the lower layer, and reading the upper file directly gives zeros.
 */
export const OVERLAY_METACOPY_XATTR = "trusted.overlay.metacopy";

/** What is at a path. */
export type Found =
  | { readonly kind: "missing" }
  | { readonly kind: "dir" }
  | {
    readonly kind: "file";
    readonly version: FileVersion;
    /** Status change time (ctime), ms: when the content or inode last changed. */
    readonly changedMs: number;
  }
  | { readonly kind: "other" };

const MISSING: Found = { kind: "missing" };
const decoder = new TextDecoder();

/** An arena's datadir. */
export class Datadir {
  readonly #root: string;
  readonly #excluded: readonly Path[];
  readonly #overlayUpper: boolean;

  /**
   * @param root absolute path of the datadir
   * @param excluded absolute paths never to index (files or directories); those outside
   *   the datadir are ignored
   * @param options `overlayUpper`: the datadir is an overlay's upper layer, where a file
   *   may be a metadata-only copy-up (see {@linkcode metacopy})
   */
  constructor(
    root: string,
    excluded: readonly string[] = [],
    options: { overlayUpper?: boolean } = {},
  ) {
    this.#root = root.replace(/\/+$/, "");
    this.#overlayUpper = options.overlayUpper ?? false;
    this.#excluded = excluded.flatMap((abs) => {
      const rel = this.relative(abs);
      return rel === null || rel === paths.ROOT ? [] : [rel];
    });
  }

  /** Absolute path of the datadir. */
  get root(): string {
    return this.#root;
  }

  /**
   * The absolute path of an arena path.
   *
   * @param path arena path
   * @returns `<root>/<path>`
   */
  abs(path: Path): string {
    return path === paths.ROOT ? this.#root : `${this.#root}/${path}`;
  }

  /**
   * The arena path of an absolute path.
   *
   * @param abs an absolute path
   * @returns the arena path, or `null` when outside the datadir or not a valid path
   */
  relative(abs: string): Path | null {
    if (abs === this.#root) return paths.ROOT;
    if (!abs.startsWith(`${this.#root}/`)) return null;
    const rel = abs.slice(this.#root.length + 1).replace(/\/+$/, "");
    return paths.problem(rel) === null ? paths.parse(rel) : null;
  }

  /**
   * Whether a path must never be indexed.
   *
   * @param path arena path
   * @returns true when it is, or is under, an excluded path
   */
  excluded(path: Path): boolean {
    return this.#excluded.some((x) => paths.startsWith(path, x));
  }

  /**
   * What is at a path, not following symlinks, including in its parents: a path
   * reached through a symlinked directory counts as missing.
   *
   * @param path arena path
   * @param checkParents also verify that every parent is a real directory
   * @returns what was found
   * @throws {ErrnoError} for errors other than "not found"
   */
  stat(path: Path, checkParents = false): Found {
    if (checkParents) {
      for (let p = paths.parent(path); p !== null && p !== paths.ROOT; p = paths.parent(p)) {
        if (lstat(this.abs(p))?.kind !== "dir") return MISSING;
      }
    }
    const st = lstat(this.abs(path));
    if (st === null) return MISSING;
    if (st.kind === "dir") return { kind: "dir" };
    if (st.kind !== "file") return { kind: "other" };
    const mtime = UnixTime.of(Math.max(0, st.mtimeSecs), st.mtimeNsecs);
    const changedMs = st.ctimeSecs * 1000 + Math.floor(st.ctimeNsecs / 1e6);
    return {
      kind: "file",
      version: { size: st.size, mtime, dev: st.dev, ino: st.ino },
      changedMs,
    };
  }

  /**
   * The names in a directory that are valid path components. A name that is not valid
   * UTF-8 cannot be shared: it is skipped with a warning.
   *
   * @param dir arena path of a directory
   * @returns the names; `gone` when it is no longer a directory; `unreadable` otherwise
   */
  list(dir: Path): string[] | "gone" | "unreadable" {
    const names: string[] = [];
    try {
      for (const e of Deno.readDirSync(this.abs(dir))) {
        // Deno decodes names lossily: U+FFFD marks bytes that were not UTF-8.
        if (e.name.includes("\uFFFD")) {
          log.warn(`skipping "${dir}/${e.name}": the name is not valid UTF-8`);
          continue;
        }
        names.push(e.name);
      }
    } catch (error) {
      if (error instanceof Deno.errors.NotFound || error instanceof Deno.errors.NotADirectory) {
        return "gone";
      }
      log.warn(`cannot read directory "${this.abs(dir)}"; keeping what is indexed under it`, error);
      return "unreadable";
    }
    return names;
  }

  /**
   * The subdirectories of a directory (from the directory entries' types: cheap, and a
   * symlink to a directory is not one).
   *
   * @param dir arena path of a directory
   * @returns their paths; none when the directory cannot be read
   */
  subdirs(dir: Path): Path[] {
    const out: Path[] = [];
    try {
      for (const e of Deno.readDirSync(this.abs(dir))) {
        if (e.isDirectory && !e.name.includes("\uFFFD")) out.push(paths.join(dir, e.name));
      }
    } catch {
      // gone or unreadable: nothing to watch there
    }
    return out;
  }

  /**
   * Whether overlayfs copied this file up as metadata only: its content is in the lower
   * layer, and the file here reads as zeros. Always false outside an overlay's upper layer.
   *
   * @param path arena path of a file
   */
  metacopy(path: Path): boolean {
    return this.#overlayUpper && this.#xattr(path, OVERLAY_METACOPY_XATTR) !== null;
  }

  /**
   * The text of a path's mark xattr.
   *
   * @param path arena path
   * @returns the value, or `null` when absent or unreadable
   */
  readMark(path: Path): string | null {
    const v = this.#xattr(path, MARK_XATTR);
    return v === null ? null : decoder.decode(v);
  }

  #xattr(path: Path, name: string): Uint8Array | null {
    try {
      return getXattr(this.abs(path), name);
    } catch {
      return null; // gone meanwhile: the next event for the path sorts it out
    }
  }
}
