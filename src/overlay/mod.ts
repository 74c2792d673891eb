/**
 * The overlay of each arena with a mountpoint: the datadir merged over the arena's FUSE
 * view (DESIGN §4.4), mounted and unmounted by `realize mountall` / `unmountall`.
 *
 * @module
 */

export {
  defaultOverlayMode,
  type Mounted,
  mountOverlay,
  type OverlayMode,
  overlayMounted,
  OverlayMounts,
  overlayOptions,
  type OverlaySpec,
  overlaySpecs,
  type Unmounted,
  unmountOverlays,
} from "./overlay.ts";
