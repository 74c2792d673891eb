/**
 * Live changes in a datadir, from inotify (`ffi/libc` `Inotify`; why not `Deno.watchFs`
 * is explained there). Every directory of the tree gets a watch; new directories are
 * watched as they appear, before their content is scanned, so nothing created in them
 * is missed. Events are reduced to what the reconciler needs:
 *
 * - `check(path)`: look at this path again (create, delete, write, close, attributes
 *   and xattrs — `IN_ATTRIB` is how marks set with `setfattr` are seen);
 * - `rename(from, to)`: a move inside the tree, paired by inotify's cookie;
 * - `rescan`: the kernel queue overflowed, or the root itself moved.
 *
 * When the inotify watch limit is reached the constructor throws
 * {@linkcode WatchLimitError} and the arena falls back to periodic full scans.
 *
 * @module
 */

import { IN, Inotify, type InotifyEvent, WatchLimitReached } from "../../ffi/libc/mod.ts";
import { type Path, paths } from "../types/mod.ts";
import { logger } from "../util/mod.ts";
import type { Datadir } from "./datadir.ts";

const log = logger("real");

/** A change to look at. */
export type WatchEvent =
  | { readonly kind: "check"; readonly path: Path }
  | { readonly kind: "rename"; readonly from: Path; readonly to: Path }
  | { readonly kind: "rescan" };

/** The part of `Inotify` the watcher uses (a twin in tests). */
export interface InotifyLike {
  addWatch(path: string, mask: number): number | null;
  removeWatch(wd: number): void;
  read(): InotifyEvent[];
  wait(timeoutMs: number): Promise<boolean>;
  close(): Promise<void>;
}

/** Makes the inotify instance (injectable for tests). */
export type WatchFactory = () => InotifyLike;

/** Thrown when inotify cannot watch the whole tree. */
export class WatchLimitError extends Error {
  override name = "WatchLimitError";
}

const MASK = IN.CREATE | IN.DELETE | IN.MODIFY | IN.CLOSE_WRITE | IN.ATTRIB | IN.MOVED_FROM |
  IN.MOVED_TO | IN.MOVE_SELF | IN.DELETE_SELF | IN.EXCL_UNLINK;
/** Longest single wait for events; bounds how long `close()` can take if a wake is lost. */
const WAIT_MS = 1000;

/** Watches a datadir until closed. */
export class Watcher {
  readonly #dir: Datadir;
  readonly #ino: InotifyLike;
  readonly #byWd = new Map<number, Path>();
  readonly #byPath = new Map<Path, number>();
  readonly #onEvent: (e: WatchEvent) => void;
  #closed = false;
  readonly #done: Promise<void>;

  /**
   * Watches every directory of the datadir, then delivers events to `onEvent` in the
   * order they happen.
   *
   * @param dir the datadir
   * @param onEvent receives each event
   * @param make makes the inotify instance (default: the real one)
   * @throws {WatchLimitError} when the inotify watch limit is reached
   */
  constructor(dir: Datadir, onEvent: (e: WatchEvent) => void, make: WatchFactory = newInotify) {
    this.#dir = dir;
    this.#onEvent = onEvent;
    this.#ino = make();
    try {
      this.#watchTree(paths.ROOT);
    } catch (error) {
      void this.#ino.close();
      throw error;
    }
    this.#done = this.#pump();
  }

  /** Directories watched now. */
  get watches(): number {
    return this.#byWd.size;
  }

  #watchTree(root: Path): void {
    const stack = [root];
    while (stack.length > 0) {
      const dir = stack.pop()!;
      if (this.#dir.excluded(dir) || this.#byPath.has(dir)) continue;
      let wd: number | null;
      try {
        wd = this.#ino.addWatch(this.#dir.abs(dir), MASK);
      } catch (cause) {
        if (!(cause instanceof WatchLimitReached)) throw cause;
        throw new WatchLimitError(
          `Cannot watch "${this.#dir.root}": the inotify watch limit is reached` +
            " (raise fs.inotify.max_user_watches)",
          { cause },
        );
      }
      if (wd === null) continue; // gone, or not a directory (a symlink is never followed)
      this.#byWd.set(wd, dir);
      this.#byPath.set(dir, wd);
      stack.push(...this.#dir.subdirs(dir));
    }
  }

  async #pump(): Promise<void> {
    while (!this.#closed) {
      try {
        if (!(await this.#ino.wait(WAIT_MS)) || this.#closed) continue;
        this.#deliver(this.#ino.read());
      } catch (error) {
        if (this.#closed) return;
        log.warn(`watching "${this.#dir.root}" failed; rescanning`, error);
        this.#onEvent({ kind: "rescan" });
        await new Promise((r) => setTimeout(r, WAIT_MS));
      }
    }
  }

  #deliver(events: InotifyEvent[]): void {
    const movedTo = new Map<number, InotifyEvent>();
    for (const e of events) if (e.mask & IN.MOVED_TO && e.cookie !== 0) movedTo.set(e.cookie, e);
    const paired = new Set<InotifyEvent>();
    for (const e of events) {
      if (e.mask & IN.Q_OVERFLOW) {
        this.#onEvent({ kind: "rescan" });
        continue;
      }
      if (e.mask & IN.IGNORED) {
        this.#forget(e.wd);
        continue;
      }
      const path = this.#pathOf(e);
      if (path === null || paired.has(e)) continue;
      if (e.name === "") {
        // The watched directory itself: its attributes, or the root moving away.
        if (path === paths.ROOT && e.mask & (IN.MOVE_SELF | IN.DELETE_SELF)) {
          this.#onEvent({ kind: "rescan" });
        } else if (e.mask & IN.ATTRIB) this.#onEvent({ kind: "check", path });
        continue;
      }
      const to = e.mask & IN.MOVED_FROM ? movedTo.get(e.cookie) : undefined;
      const toPath = to === undefined ? null : this.#pathOf(to);
      if (to !== undefined && toPath !== null) {
        paired.add(to);
        if (e.mask & IN.ISDIR) this.#move(path, toPath);
        this.#onEvent({ kind: "rename", from: path, to: toPath });
        continue;
      }
      if (e.mask & IN.MOVED_FROM && e.mask & IN.ISDIR) this.#unwatchTree(path); // moved out
      if (e.mask & (IN.CREATE | IN.MOVED_TO) && e.mask & IN.ISDIR) this.#watchTree(path);
      this.#onEvent({ kind: "check", path });
    }
  }

  #pathOf(e: InotifyEvent): Path | null {
    const dir = this.#byWd.get(e.wd);
    if (dir === undefined) return null;
    if (e.name === "") return dir;
    if (e.name.includes("\uFFFD") || paths.problem(e.name) !== null) return null; // not UTF-8
    return paths.join(dir, e.name);
  }

  #forget(wd: number): void {
    const dir = this.#byWd.get(wd);
    if (dir === undefined) return;
    this.#byWd.delete(wd);
    if (this.#byPath.get(dir) === wd) this.#byPath.delete(dir);
  }

  /** Watches under `from` now report paths under `to`. */
  #move(from: Path, to: Path): void {
    for (const [dir, wd] of [...this.#byPath]) {
      if (!paths.startsWith(dir, from)) continue;
      const moved = dir === from ? to : paths.join(to, dir.slice(from.length + 1));
      this.#byPath.delete(dir);
      this.#byPath.set(moved, wd);
      this.#byWd.set(wd, moved);
    }
  }

  /** Stops watching a tree that left the datadir. */
  #unwatchTree(root: Path): void {
    for (const [dir, wd] of [...this.#byPath]) {
      if (!paths.startsWith(dir, root)) continue;
      this.#ino.removeWatch(wd);
      this.#byPath.delete(dir);
      this.#byWd.delete(wd);
    }
  }

  /** Stops watching; resolves when no more events will be delivered. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#ino.close();
    await this.#done;
  }
}

function newInotify(): InotifyLike {
  return new Inotify();
}
