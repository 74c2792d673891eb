/**
 * The daemon: everything a peer runs, started and stopped in order, and the control API
 * over it.
 *
 * @module
 */

export {
  CACHE_ENFORCE_MS,
  Daemon,
  type DaemonOptions,
  HISTORY_TRIM_MS,
  type RunningArena,
} from "./daemon.ts";
export { DaemonControl } from "./control_api.ts";
