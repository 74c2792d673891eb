/**
 * Parses and validates a configuration file's text, without touching the filesystem.
 *
 * @module
 */

import { dirname, isAbsolute, resolve as resolvePath } from "node:path";
import { parse as parseToml, TomlError } from "smol-toml";
import {
  type ArenaName,
  arenaNameProblem,
  arenaNamesClash,
  DEFAULT_MARK,
  isMark,
  type Mark,
  type PeerName,
  peerNameProblem,
} from "../types/mod.ts";
import { type KeyPath, Reader, type Table, typeName } from "./_reader.ts";
import { type HostPort, parseHostPort } from "./address.ts";
import {
  type ControlSocketEnv,
  currentControlSocketEnv,
  defaultControlSocket,
} from "./control_socket.ts";
import { ConfigError } from "./error.ts";
import { decodePublicKeyPem } from "../keys/mod.ts";
import { scanKeyLines } from "./toml_positions.ts";
import type {
  ArenaConfig,
  CacheConfig,
  Config,
  ControlConfig,
  DiskUsage,
  HistoryBounds,
  NetworkConfig,
  PeerConfig,
} from "./types.ts";
import { parseBytes, parseBytesOrPercent, parseDurationMs } from "./units.ts";

/** Default of `max_parallel_hashers`. */
export const MAX_PARALLEL_HASHERS_DEFAULT = 4;
/** Largest accepted `max_parallel_hashers`. */
export const MAX_PARALLEL_HASHERS_MAX = 1024;
/** Default of `history.max_entries`: how far behind a peer may fall before a catch-up. */
export const HISTORY_MAX_ENTRIES_DEFAULT = 100_000;
/** Default of `history.max_age`: the oldest entry a peer may still need (30 days). */
export const HISTORY_MAX_AGE_MS_DEFAULT = 30 * 86_400_000;
/** Default of `debounce`. */
export const DEBOUNCE_MS_DEFAULT = 3000;
/** Largest accepted `debounce`. */
export const DEBOUNCE_MS_MAX = 3_600_000;

/** Options for {@linkcode parseConfig}. */
export interface ParseConfigOptions {
  /** For the default `control.socket`; default: this process's environment. */
  readonly env?: ControlSocketEnv;
  /** Directory that a relative `file` is relative to; default `Deno.cwd()`. */
  readonly cwd?: string;
}

const TOP_KEYS = ["network", "control", "cache", "arena", "peer"] as const;
const NETWORK_KEYS = ["address", "privkey"] as const;
const CONTROL_KEYS = ["socket", "http", "token_file"] as const;
const CACHE_KEYS = ["db"] as const;
const ARENA_KEYS = [
  "name",
  "workdir",
  "datadir",
  "mountpoint",
  "mark",
  "disk_usage",
  "max_parallel_hashers",
  "debounce",
  "history",
] as const;
const DISK_USAGE_KEYS = ["max", "leave"] as const;
const HISTORY_KEYS = ["max_entries", "max_age"] as const;
const PEER_KEYS = ["name", "address", "pubkey", "batch_rate_limit"] as const;

/**
 * Parses a configuration file's text: TOML syntax, keys, types and values, and the
 * rules between arenas and peers. Relative paths resolve against the directory of
 * `file`. Directories are not looked at: see `checkConfigDirs`.
 *
 * @param text the file's content
 * @param file the file's name, for messages and to resolve relative paths
 * @param options see {@linkcode ParseConfigOptions}
 * @returns the resolved configuration
 * @throws {ConfigError} on the first problem, naming file, line and key
 */
export function parseConfig(text: string, file: string, options: ParseConfigOptions = {}): Config {
  let doc: Table;
  try {
    doc = parseToml(text);
  } catch (e) {
    if (!(e instanceof TomlError)) throw e;
    const message = e.message.split("\n")[0]!.replace(/^Invalid TOML document: /, "");
    throw new ConfigError({ file, line: e.line }, message, { cause: e });
  }
  const source = { name: file, lines: scanKeyLines(text) };
  const r = new Reader(source);
  r.keys(doc, [], TOP_KEYS);
  const path = isAbsolute(file) ? resolvePath(file) : resolvePath(options.cwd ?? Deno.cwd(), file);
  const dir = dirname(path);
  const network = parseNetwork(r, doc["network"], dir);
  const control = parseControl(r, doc["control"], dir, options.env);
  const cache = parseCache(r, doc["cache"], dir);
  const arenas = parseArenas(r, doc["arena"], dir);
  const peers = parsePeers(r, doc["peer"]);
  return { file: path, network, control, cache, arenas, peers, source };
}

function parseNetwork(r: Reader, value: unknown, dir: string): NetworkConfig {
  const at = ["network"];
  const t = r.table(value ?? {}, at);
  r.keys(t, at, NETWORK_KEYS);
  return {
    address: optionalAddress(r, t, at, "address"),
    privkey: optionalPath(r, t, at, "privkey", dir),
  };
}

function parseControl(
  r: Reader,
  value: unknown,
  dir: string,
  env: ControlSocketEnv | undefined,
): ControlConfig {
  const at = ["control"];
  const t = r.table(value ?? {}, at);
  r.keys(t, at, CONTROL_KEYS);
  return {
    socket: optionalPath(r, t, at, "socket", dir) ??
      defaultControlSocket(env ?? currentControlSocketEnv()),
    http: optionalAddress(r, t, at, "http"),
    tokenFile: optionalPath(r, t, at, "token_file", dir),
  };
}

function parseCache(r: Reader, value: unknown, dir: string): CacheConfig {
  const at = ["cache"];
  const t = r.table(value ?? {}, at);
  r.keys(t, at, CACHE_KEYS);
  return { db: optionalPath(r, t, at, "db", dir) ?? resolvePath(dir, "cache.db") };
}

/** The tables of `[[name]]`; `name = []` is accepted, `[name]` is not. */
function arrayOfTables(r: Reader, value: unknown, name: string): Table[] {
  if (value === undefined) return [];
  if (!Array.isArray(value)) {
    r.fail([name], `expected [[${name}]] tables, got ${typeName(value)}`);
  }
  return value.map((item, i) => r.table(item, [name, i]));
}

function parseArenas(r: Reader, value: unknown, dir: string): ArenaConfig[] {
  const tables = arrayOfTables(r, value, "arena");
  tables.forEach((t, i) => {
    if (typeof t["name"] === "string") r.label(["arena", i], `arena ${JSON.stringify(t["name"])}`);
  });
  const arenas = tables.map((t, i) => parseArena(r, t, ["arena", i], dir));
  for (let j = 0; j < arenas.length; j++) {
    for (let i = 0; i < j; i++) checkArenaPair(r, arenas, i, j);
  }
  return arenas;
}

function parseArena(r: Reader, t: Table, at: KeyPath, dir: string): ArenaConfig {
  r.keys(t, at, ARENA_KEYS);
  const name = r.string(t, at, "name", true);
  const nameProblem = arenaNameProblem(name);
  if (nameProblem !== null) r.fail([...at, "name"], `invalid arena name: ${nameProblem}`);
  const workdir = requiredPath(r, t, at, "workdir", dir);
  const datadir = optionalPath(r, t, at, "datadir", dir);
  const mountpoint = optionalPath(r, t, at, "mountpoint", dir);
  if (mountpoint !== null && datadir === null) {
    r.fail([...at, "mountpoint"], "requires datadir (the overlay's upper layer)");
  }
  return {
    name: name as ArenaName,
    workdir,
    datadir,
    mountpoint,
    mark: parseMarkKey(r, t, at),
    diskUsage: parseDiskUsage(r, t["disk_usage"], [...at, "disk_usage"]),
    maxParallelHashers: parseHashers(r, t, at),
    debounceMs: parseDebounce(r, t, at),
    history: parseHistory(r, t["history"], [...at, "history"]),
  };
}

function parseHistory(r: Reader, value: unknown, at: KeyPath): HistoryBounds {
  if (value === undefined) {
    return { maxEntries: HISTORY_MAX_ENTRIES_DEFAULT, maxAgeMs: HISTORY_MAX_AGE_MS_DEFAULT };
  }
  const t = r.table(value, at);
  r.keys(t, at, HISTORY_KEYS);
  let maxEntries = HISTORY_MAX_ENTRIES_DEFAULT;
  const entries = t["max_entries"];
  if (entries !== undefined) {
    if (typeof entries !== "number" || !Number.isSafeInteger(entries) || entries < 1) {
      r.fail([...at, "max_entries"], `expected a positive integer, got ${JSON.stringify(entries)}`);
    }
    maxEntries = entries;
  }
  const age = r.numberOrString(t, at, "max_age", 'a number of seconds or a string like "30d"');
  let maxAgeMs = HISTORY_MAX_AGE_MS_DEFAULT;
  if (age !== undefined) {
    try {
      maxAgeMs = parseDurationMs(age);
    } catch (e) {
      r.failWith([...at, "max_age"], e);
    }
  }
  return { maxEntries, maxAgeMs };
}

function checkArenaPair(r: Reader, arenas: readonly ArenaConfig[], i: number, j: number): void {
  const a = arenas[i]!;
  const b = arenas[j]!;
  const first = (key: string) => {
    return `arena ${JSON.stringify(a.name)} at line ${r.line(["arena", i, key])}`;
  };
  if (a.name === b.name) {
    r.fail(["arena", j, "name"], `duplicate arena name, also ${first("name")}`);
  }
  if (arenaNamesClash(a.name, b.name)) {
    r.fail(["arena", j, "name"], `clashes with ${first("name")}: one would contain the other`);
  }
  if (a.workdir === b.workdir) {
    r.fail(["arena", j, "workdir"], `same workdir as ${first("workdir")}`);
  }
}

function parseMarkKey(r: Reader, t: Table, at: KeyPath): Mark {
  const mark = r.string(t, at, "mark") ?? DEFAULT_MARK;
  if (!isMark(mark)) {
    r.fail([...at, "mark"], `invalid mark ${JSON.stringify(mark)}: expected watch, keep or own`);
  }
  return mark;
}

function parseDiskUsage(r: Reader, value: unknown, at: KeyPath): DiskUsage | null {
  if (value === undefined) return null;
  const t = r.table(value, at);
  r.keys(t, at, DISK_USAGE_KEYS);
  const what = 'bytes, or a string like "10G" or "10%"';
  const sizeAt = (key: string) => {
    const v = r.numberOrString(t, at, key, what);
    if (v === undefined) return null;
    try {
      return parseBytesOrPercent(v);
    } catch (e) {
      r.failWith([...at, key], e);
    }
  };
  const max = sizeAt("max");
  if (max === null) r.fail([...at, "max"], "required key is missing");
  return { max, leave: sizeAt("leave") };
}

function parseHashers(r: Reader, t: Table, at: KeyPath): number | null {
  const value = t["max_parallel_hashers"];
  if (value === undefined) return MAX_PARALLEL_HASHERS_DEFAULT;
  const key = [...at, "max_parallel_hashers"];
  if (typeof value !== "number" || !Number.isInteger(value)) {
    r.fail(key, `expected an integer, got ${typeName(value)}`);
  }
  if (value < 0 || value > MAX_PARALLEL_HASHERS_MAX) {
    r.fail(key, `must be from 0 (no limit) to ${MAX_PARALLEL_HASHERS_MAX}, got ${value}`);
  }
  return value === 0 ? null : value;
}

function parseDebounce(r: Reader, t: Table, at: KeyPath): number {
  const what = 'a number of seconds or a string like "500ms", "1.5s" or "3m"';
  const value = r.numberOrString(t, at, "debounce", what);
  if (value === undefined) return DEBOUNCE_MS_DEFAULT;
  let ms: number;
  try {
    ms = parseDurationMs(value);
  } catch (e) {
    r.failWith([...at, "debounce"], e);
  }
  if (ms > DEBOUNCE_MS_MAX) r.fail([...at, "debounce"], "must be at most 1 hour");
  return ms;
}

function parsePeers(r: Reader, value: unknown): PeerConfig[] {
  const tables = arrayOfTables(r, value, "peer");
  tables.forEach((t, i) => {
    if (typeof t["name"] === "string") r.label(["peer", i], `peer ${JSON.stringify(t["name"])}`);
  });
  const peers = tables.map((t, i) => parsePeer(r, t, ["peer", i]));
  const byName = new Map<string, number>();
  const byKey = new Map<string, number>();
  peers.forEach((p, j) => {
    const sameName = byName.get(p.name);
    if (sameName !== undefined) {
      const line = r.line(["peer", sameName, "name"]);
      r.fail(["peer", j, "name"], `duplicate peer name, also at line ${line}`);
    }
    byName.set(p.name, j);
    const key = p.pubkey.raw.toBase64();
    const sameKey = byKey.get(key);
    if (sameKey !== undefined) {
      const other = `peer ${JSON.stringify(peers[sameKey]!.name)}`;
      const line = r.line(["peer", sameKey, "pubkey"]);
      r.fail(["peer", j, "pubkey"], `same key as ${other} at line ${line}`);
    }
    byKey.set(key, j);
  });
  return peers;
}

function parsePeer(r: Reader, t: Table, at: KeyPath): PeerConfig {
  r.keys(t, at, PEER_KEYS);
  const name = r.string(t, at, "name", true);
  const nameProblem = peerNameProblem(name);
  if (nameProblem !== null) r.fail([...at, "name"], `invalid peer name: ${nameProblem}`);
  const address = optionalAddress(r, t, at, "address", false);
  const pem = r.string(t, at, "pubkey", true);
  let pubkey;
  try {
    pubkey = decodePublicKeyPem(pem);
  } catch (e) {
    r.fail([...at, "pubkey"], "not an ED25519 public key (PEM SPKI)", { cause: e });
  }
  return {
    name: name as PeerName,
    address,
    pubkey,
    batchRateLimitBytesPerSec: parseRateLimit(r, t, at),
  };
}

function parseRateLimit(r: Reader, t: Table, at: KeyPath): number | null {
  const what = 'bytes per second, or a string like "2M"';
  const value = r.numberOrString(t, at, "batch_rate_limit", what);
  if (value === undefined) return null;
  // As in the Rust peer, zero or a negative number means no limit.
  if (typeof value === "number" && Number.isInteger(value) && value <= 0) return null;
  let bytes: number;
  try {
    bytes = parseBytes(value);
  } catch (e) {
    r.failWith([...at, "batch_rate_limit"], e);
  }
  return bytes === 0 ? null : bytes;
}

function optionalAddress(
  r: Reader,
  t: Table,
  at: KeyPath,
  key: string,
  listen = true,
): HostPort | null {
  const text = r.string(t, at, key);
  if (text === undefined) return null;
  try {
    return parseHostPort(text, { allowPortZero: listen });
  } catch (e) {
    r.failWith([...at, key], e);
  }
}

function optionalPath(r: Reader, t: Table, at: KeyPath, key: string, dir: string): string | null {
  const text = r.string(t, at, key);
  if (text === undefined) return null;
  if (text === "") r.fail([...at, key], "must not be empty");
  if (text.includes("\0")) r.fail([...at, key], "must not contain a NUL character");
  if (text.startsWith("~")) {
    r.fail([...at, key], "~ is not expanded: write the full path or one relative to the config");
  }
  return resolvePath(dir, text);
}

function requiredPath(r: Reader, t: Table, at: KeyPath, key: string, dir: string): string {
  r.string(t, at, key, true);
  return optionalPath(r, t, at, key, dir)!;
}
