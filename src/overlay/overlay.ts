/**
 * The overlay of an arena (DESIGN §1, §4.4; seed `#overlayfs`): overlayfs merges the datadir
 * (upper, writable) with the arena's FUSE view (lower: every peer's files) into one tree at
 * the arena's `mountpoint`. Edits land in the datadir, where the real picks them up.
 *
 * Two modes, because the kernel refuses `userxattr` together with `redirect_dir` or
 * `metacopy` (deno-systems.md §2):
 * - `privileged` (root): `redirect_dir=on,metacopy=on`. Renaming a remote directory is a
 *   rename; changing a remote file's metadata copies up no data.
 * - `userxattr` (inside a user namespace): overlay keeps its state in `user.overlay.*`.
 *   Renaming a remote directory fails with EXDEV (`mv` copies, then deletes), and any change
 *   to a remote file, even `chmod`, copies all of it into the datadir first.
 *
 * Mounting replaces an overlay already there: after a restart of the daemon its lower layer
 * is the dead FUSE mount of the previous one.
 *
 * @module
 */

import { ERRNO, ErrnoError, MNT, mount, mountedAt, umount } from "../../ffi/libc/mod.ts";
import type { ArenaConfig } from "../config/mod.ts";
import type { ArenaName } from "../types/mod.ts";
import { logger } from "../util/mod.ts";

const log = logger("overlay");

/** How the overlay is mounted (see the module comment). */
export type OverlayMode = "privileged" | "userxattr";

/** The overlay's own work directory, under the arena's workdir (same filesystem as upper). */
const OVERLAY_WORKDIR = "overlay";

/** One arena's overlay. */
export interface OverlaySpec {
  readonly arena: ArenaName;
  /** The arena's directory in the FUSE view. */
  readonly lower: string;
  /** The datadir. */
  readonly upper: string;
  /** overlayfs's work directory (under the arena's workdir). */
  readonly work: string;
  readonly mountpoint: string;
}

/**
 * The overlays of the arenas that have a mountpoint.
 *
 * @param arenas the configured arenas
 * @param fuse where the daemon mounts its FUSE view (`--fuse`)
 * @returns one spec per arena with a mountpoint, in config order
 */
export function overlaySpecs(arenas: readonly ArenaConfig[], fuse: string): OverlaySpec[] {
  return arenas.flatMap((a) =>
    a.mountpoint === null || a.datadir === null ? [] : [{
      arena: a.name,
      lower: `${fuse.replace(/\/+$/, "")}/${a.name}`,
      upper: a.datadir,
      work: `${a.workdir}/${OVERLAY_WORKDIR}`,
      mountpoint: a.mountpoint,
    }]
  );
}

/** `privileged` as root, else `userxattr` (the only overlay a user namespace may mount). */
export function defaultOverlayMode(): OverlayMode {
  return Deno.uid() === 0 ? "privileged" : "userxattr";
}

/**
 * The mount(2) data string of an overlay. Paths are escaped as overlayfs reads them: a
 * backslash before `\`, `,` and, in lowerdir (a list), `:`.
 *
 * @param spec the overlay
 * @param mode see {@linkcode OverlayMode}
 * @returns e.g. `lowerdir=/fuse/docs,upperdir=/store/docs,workdir=…,redirect_dir=on,metacopy=on`
 */
export function overlayOptions(spec: OverlaySpec, mode: OverlayMode): string {
  const escape = (path: string) => path.replace(/[\\,:]/g, (c) => `\\${c}`);
  const dirs = `lowerdir=${escape(spec.lower)},upperdir=${escape(spec.upper)},` +
    `workdir=${escape(spec.work)}`;
  return mode === "privileged" ? `${dirs},redirect_dir=on,metacopy=on` : `${dirs},userxattr`;
}

/** What mounting one overlay did. */
export interface Mounted {
  readonly spec: OverlaySpec;
  /** An earlier overlay on the mountpoint was detached first. */
  readonly replaced: boolean;
  /** The mountpoint directory did not exist and was made. */
  readonly created: boolean;
}

/**
 * Mounts one overlay; an overlay already on the mountpoint is detached first.
 *
 * @param spec the overlay
 * @param mode see {@linkcode OverlayMode}
 * @returns what was done
 * @throws {Error} naming the arena and the directory at fault; nothing is mounted then
 */
export function mountOverlay(spec: OverlaySpec, mode: OverlayMode): Mounted {
  const fail = (what: string, cause?: unknown): never => {
    throw new Error(
      `Cannot mount the overlay of "${spec.arena}" on "${spec.mountpoint}": ${what}`,
      {
        cause,
      },
    );
  };
  if (!isDirectory(spec.lower)) {
    fail(`its FUSE view "${spec.lower}" is not there (is the daemon running with --fuse?)`);
  }
  if (!isDirectory(spec.upper)) fail(`the datadir "${spec.upper}" is not a directory`);
  const existing = mountedAt(spec.mountpoint);
  if (existing !== null && existing !== "overlay") {
    fail(`${existing} is mounted there (busy)`);
  }
  let created = false;
  if (existing === null && !isDirectory(spec.mountpoint)) {
    try {
      Deno.mkdirSync(spec.mountpoint, { recursive: true });
      created = true;
    } catch (cause) {
      fail("the mountpoint cannot be made", cause);
    }
  }
  try {
    Deno.mkdirSync(spec.work, { recursive: true });
  } catch (cause) {
    fail(`the overlay work directory "${spec.work}" cannot be made`, cause);
  }
  if (existing !== null) {
    log.warn(`${spec.arena}: replacing the overlay on ${spec.mountpoint}`);
    umount(spec.mountpoint, MNT.DETACH);
  }
  const options = overlayOptions(spec, mode);
  try {
    mount("overlay", spec.mountpoint, "overlay", options);
  } catch (cause) {
    const errno = cause instanceof ErrnoError ? cause.errno : 0;
    fail(
      errno === ERRNO.EINVAL
        ? `the kernel refused the options "${options}" (see dmesg)`
        : errno === ERRNO.EPERM
        ? "not permitted (root, or a user namespace with the userxattr mode, may mount it)"
        : "mount(2) failed",
      cause,
    );
  }
  log.info(`${spec.arena}: overlay mounted on ${spec.mountpoint} (${mode})`);
  return { spec, replaced: existing !== null, created };
}

/**
 * Overlays mounted together, all or none. Disposing detaches each one at once (for tests
 * and failed starts); {@linkcode unmount} unmounts cleanly.
 */
export class OverlayMounts implements Disposable {
  #mounted: Mounted[];

  private constructor(mounted: Mounted[]) {
    this.#mounted = mounted;
  }

  /**
   * Mounts the overlay of each spec. When one fails, those already mounted are detached.
   *
   * @param specs the overlays
   * @param mode see {@linkcode OverlayMode}
   * @returns the mounts
   * @throws {Error} the first failure, naming its arena; nothing stays mounted
   */
  static mount(specs: readonly OverlaySpec[], mode: OverlayMode): OverlayMounts {
    const mounts = new OverlayMounts([]);
    try {
      for (const spec of specs) mounts.#mounted.push(mountOverlay(spec, mode));
    } catch (error) {
      mounts[Symbol.dispose]();
      throw error;
    }
    return mounts;
  }

  /** What was mounted, in order. */
  get mounted(): readonly Mounted[] {
    return this.#mounted;
  }

  /**
   * Unmounts every overlay cleanly (no flags).
   *
   * @throws {Error} naming the mountpoints still in use (EBUSY); those stay mounted
   */
  unmount(): void {
    const { busy } = unmountOverlays(this.#mounted.map((m) => m.spec), { lazy: false });
    this.#mounted = this.#mounted.filter((m) => busy.includes(m.spec));
    if (busy.length > 0) {
      throw new Error(`Cannot unmount ${busy.map((s) => `"${s.mountpoint}"`).join(", ")}: in use`);
    }
  }

  /** Detaches every overlay still mounted, busy or not. */
  [Symbol.dispose](): void {
    for (const m of this.#mounted.splice(0)) {
      if (overlayMounted(m.spec.mountpoint)) umount(m.spec.mountpoint, MNT.DETACH);
    }
  }
}

/** What unmounting overlays did, per mountpoint. */
export interface Unmounted {
  readonly unmounted: OverlaySpec[];
  /** Nothing was mounted there. */
  readonly absent: OverlaySpec[];
  /** In use: detached lazily (`lazy`), else still mounted. */
  readonly busy: OverlaySpec[];
}

/**
 * Unmounts overlays cleanly; one in use is detached lazily (it goes with its last user)
 * when `lazy`, else left mounted. A mountpoint with something else than an overlay on it
 * is left alone (absent).
 *
 * @param specs the overlays
 * @param options `lazy`: detach the busy ones
 * @returns what happened to each
 */
export function unmountOverlays(
  specs: readonly OverlaySpec[],
  options: { lazy: boolean },
): Unmounted {
  const done: Unmounted = { unmounted: [], absent: [], busy: [] };
  for (const spec of specs) {
    if (!overlayMounted(spec.mountpoint)) {
      done.absent.push(spec);
      continue;
    }
    try {
      umount(spec.mountpoint);
      done.unmounted.push(spec);
    } catch (error) {
      if (!(error instanceof ErrnoError) || error.errno !== ERRNO.EBUSY) throw error;
      if (options.lazy) umount(spec.mountpoint, MNT.DETACH);
      done.busy.push(spec);
    }
  }
  return done;
}

/**
 * Whether an overlay is mounted on a mountpoint (the one on top there).
 *
 * @param mountpoint an absolute path
 * @returns true when the mount on top there is an overlay
 */
export function overlayMounted(mountpoint: string): boolean {
  return mountedAt(mountpoint) === "overlay";
}

function isDirectory(path: string): boolean {
  try {
    return Deno.statSync(path).isDirectory;
  } catch {
    return false;
  }
}
