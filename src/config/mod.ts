/**
 * The configuration file (TOML): loading, validation and the resolved
 * {@linkcode Config}. The format is described in `docs/config.md`.
 *
 * ```ts ignore
 * const config = await loadConfig("/etc/realize/config.toml");
 * const workdirs = config.arenas.map((arena) => arena.workdir);
 * ```
 *
 * @module
 */

export type {
  ArenaConfig,
  CacheConfig,
  Config,
  ConfigSource,
  ControlConfig,
  DiskUsage,
  HistoryBounds,
  NetworkConfig,
  PeerConfig,
} from "./types.ts";
export { ConfigError, type ConfigErrorLocation } from "./error.ts";
export { loadConfig } from "./load.ts";
export {
  DEBOUNCE_MS_DEFAULT,
  DEBOUNCE_MS_MAX,
  HISTORY_MAX_AGE_MS_DEFAULT,
  HISTORY_MAX_ENTRIES_DEFAULT,
  MAX_PARALLEL_HASHERS_DEFAULT,
  MAX_PARALLEL_HASHERS_MAX,
  parseConfig,
  type ParseConfigOptions,
} from "./parse.ts";
export { checkConfigDirs, checkPeerKeys } from "./check.ts";
export {
  type ControlSocketEnv,
  currentControlSocketEnv,
  defaultControlSocket,
} from "./control_socket.ts";
export { formatHostPort, type HostPort, parseHostPort } from "./address.ts";
export type { PublicKeyBytes } from "../keys/mod.ts";
export { type BytesOrPercent, parseBytes, parseBytesOrPercent, parseDurationMs } from "./units.ts";
