/**
 * The resolved configuration: every default applied, every path absolute, every value
 * checked. See `docs/config.md` for the file format.
 *
 * @module
 */

import type { ArenaName, Mark, PeerName } from "../types/mod.ts";
import type { HostPort } from "./address.ts";
import type { PublicKeyBytes } from "../keys/mod.ts";
import type { BytesOrPercent } from "./units.ts";

/** `[network]`: how peers reach this one. */
export interface NetworkConfig {
  /** Listen address; `null`: do not listen (unless `--address` is given). */
  readonly address: HostPort | null;
  /** Absolute path of this peer's PKCS#8 PEM ED25519 private key, or `null`. */
  readonly privkey: string | null;
}

/** `[control]`: the control endpoint of the daemon. */
export interface ControlConfig {
  /** Absolute path of the UNIX socket (mode 0600); see `defaultControlSocket`. */
  readonly socket: string;
  /** Optional TCP listener (`/health`, `/metrics`, and more with a token), or `null`. */
  readonly http: HostPort | null;
  /** Absolute path of the file holding the bearer token, or `null`. */
  readonly tokenFile: string | null;
}

/** `[cache]`: the global database. */
export interface CacheConfig {
  /** Absolute path of the global database (inode ranges). */
  readonly db: string;
}

/** `disk_usage` of an arena: limits of its blob cache. */
export interface DiskUsage {
  /** Most the cache may use: bytes, or a percentage of the disk. */
  readonly max: BytesOrPercent;
  /** Free space to leave on the disk, or `null` for no such limit. */
  readonly leave: BytesOrPercent | null;
}

/** One `[[arena]]`. */
export interface ArenaConfig {
  readonly name: ArenaName;
  /** Absolute path: `arena.db`, `blobs/`, overlay work dir. Created when missing. */
  readonly workdir: string;
  /** Absolute path of the real files, or `null` when nothing is local. */
  readonly datadir: string | null;
  /** Absolute path of the overlay merged view, or `null`. Requires `datadir`. */
  readonly mountpoint: string | null;
  /** Default mark of the arena. */
  readonly mark: Mark;
  /** Limits of the blob cache, or `null` for none. */
  readonly diskUsage: DiskUsage | null;
  /** Most files hashed at once, or `null` for no limit. */
  readonly maxParallelHashers: number | null;
  /** How long a changed file must stay unchanged before it is hashed. */
  readonly debounceMs: number;
  /** How far a peer may lag behind the history before it gets a full catch-up. */
  readonly history: HistoryBounds;
}

/** `history = { max_entries, max_age }` of an arena (see docs/history.md). */
export interface HistoryBounds {
  /** Most entries a peer may be behind. */
  readonly maxEntries: number;
  /** Age of the oldest entry a peer may still need, in ms. */
  readonly maxAgeMs: number;
}

/** One `[[peer]]`. */
export interface PeerConfig {
  readonly name: PeerName;
  /** Where to dial the peer, or `null`: it only connects to us. */
  readonly address: HostPort | null;
  /** The peer's identity. */
  readonly pubkey: PublicKeyBytes;
  /** Bytes per second the peer may send us for background transfers, or `null`: no limit. */
  readonly batchRateLimitBytesPerSec: number | null;
}

/** Where the configuration came from, for error messages about it. */
export interface ConfigSource {
  /** The file as the user named it (relative or absolute). */
  readonly name: string;
  /** 1-based line of each key path (`arena[0].workdir`, see `formatKeyPath`). */
  readonly lines: ReadonlyMap<string, number>;
}

/** A whole configuration file, resolved. */
export interface Config {
  /** Absolute path of the configuration file. */
  readonly file: string;
  readonly network: NetworkConfig;
  readonly control: ControlConfig;
  readonly cache: CacheConfig;
  /** In file order. */
  readonly arenas: readonly ArenaConfig[];
  /** In file order. */
  readonly peers: readonly PeerConfig[];
  readonly source: ConfigSource;
}
