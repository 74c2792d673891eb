/**
 * `realize mountall` and `realize unmountall` (DESIGN §4.3): the overlay of every arena
 * with a mountpoint, over the FUSE view of a running daemon. The daemon itself never
 * mounts them: they belong to boot and shutdown (the systemd unit runs both).
 *
 * @module
 */

import { resolve } from "node:path";
import { mountedAt } from "../../ffi/libc/mod.ts";
import { loadConfig } from "../config/mod.ts";
import {
  defaultOverlayMode,
  OverlayMounts,
  overlaySpecs,
  unmountOverlays,
} from "../overlay/mod.ts";
import { type Invocation, requireString } from "./commands.ts";
import { EXIT, UsageError } from "./io.ts";

/**
 * How long `mountall` waits for the daemon's FUSE view by default (a daemon starting at
 * boot mounts it after its catch-up scan; `--wait` for large datadirs).
 */
const FUSE_WAIT_S = 30;

/** `--wait SECONDS`, in ms. */
function waitMs(values: Invocation["values"]): number {
  const wait = values.wait ?? `${FUSE_WAIT_S}`;
  if (typeof wait !== "string" || !/^\d+(\.\d+)?$/.test(wait)) {
    throw new UsageError(`invalid --wait "${wait}": a number of seconds, e.g. --wait 300`);
  }
  return Number(wait) * 1000;
}

/**
 * Mounts every overlay, once the daemon's FUSE view is up; all or none.
 *
 * @param inv `--config FILE --fuse DIR [--wait SECONDS]`
 * @returns exit code
 * @throws {UsageError} for a missing option or a bad `--wait`
 * @throws {Error} naming the arena and directory at fault; nothing is left mounted
 */
export async function mountAll(inv: Invocation): Promise<number> {
  const file = requireString(inv.values, "config", "FILE");
  const dir = requireString(inv.values, "fuse", "DIR (where the daemon mounts its FUSE view)");
  const fuse = resolve(dir);
  const wait = waitMs(inv.values);
  const config = await loadConfig(file);
  const specs = overlaySpecs(config.arenas, fuse);
  if (specs.length === 0) {
    inv.io.out("no arena has a mountpoint: nothing to mount\n");
    return EXIT.ok;
  }
  const deadline = Date.now() + wait;
  if (mountedAt(fuse) !== "fuse.realize") {
    inv.io.err(`realize: waiting for the daemon's FUSE view on ${fuse}\n`);
    while (mountedAt(fuse) !== "fuse.realize") {
      if (Date.now() > deadline) {
        throw new Error(
          `Cannot mount the overlays: no realize FUSE view on "${fuse}" after ${
            wait / 1000
          } s (start the daemon with --fuse ${fuse} first)`,
        );
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  const mode = defaultOverlayMode();
  const mounts = OverlayMounts.mount(specs, mode); // stays mounted when this process ends
  for (const { spec, replaced, created } of mounts.mounted) {
    const notes = [mode, ...(replaced ? ["replaced the previous one"] : [])].join("; ");
    const made = created ? " (made the directory)" : "";
    inv.io.out(
      `${spec.arena}: mounted on ${spec.mountpoint}${made}: ${spec.upper} over ${spec.lower} (${notes})\n`,
    );
  }
  return EXIT.ok;
}

/**
 * Unmounts every overlay; one still in use is detached and goes with its last user.
 *
 * @param inv `--config FILE`
 * @returns exit code
 */
export async function unmountAll(inv: Invocation): Promise<number> {
  const config = await loadConfig(requireString(inv.values, "config", "FILE"));
  const specs = overlaySpecs(config.arenas, "/"); // the lower layer plays no part here
  if (specs.length === 0) {
    inv.io.out("no arena has a mountpoint: nothing to unmount\n");
    return EXIT.ok;
  }
  const done = unmountOverlays(specs, { lazy: true });
  for (const spec of specs) {
    const line = done.unmounted.includes(spec)
      ? `unmounted ${spec.mountpoint}`
      : done.busy.includes(spec)
      ? `${spec.mountpoint} is in use: detached (it goes when its last user is done)`
      : `nothing mounted on ${spec.mountpoint}`;
    inv.io.out(`${spec.arena}: ${line}\n`);
  }
  return EXIT.ok;
}
