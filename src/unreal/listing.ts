/**
 * What `realize ls` shows of a directory, and the status text of a file (the
 * `user.realize.status` xattr): the local copy if any, the default remote version, which
 * peer has which version, and how much of the default version is cached.
 *
 * Pure reads over the arena database; no inode nodes are needed.
 *
 * @module
 */

import type { ReadTx } from "../storage/mod.ts";
import { Hash, type Path, paths, type PeerName, UnixTime } from "../types/mod.ts";
import type { Area } from "./blob_schema.ts";
import {
  defaultsIn,
  defaultVersion,
  type PeerFile,
  peerFiles,
  remoteDir,
  remoteDirsIn,
  type RemoteVersion,
} from "./remote.ts";

/** How much of a version is cached. */
export interface Cached {
  /** Bytes present. */
  readonly bytes: number;
  /** The version's size. */
  readonly size: number;
  /** Whether the complete content was hashed and matched. */
  readonly verified: boolean;
  /** Cache area (`working`, `protected`, `pending`). */
  readonly area: Area;
}

/** One entry of a listing. */
export interface Listed {
  readonly name: string;
  readonly path: Path;
  readonly kind: "file" | "dir";
  /** The local file's version (size, mtime, hash or `null` while pending), if local. */
  readonly local: RemoteVersion | null;
  /** The default remote version, if any peer has the file. */
  readonly remote: (RemoteVersion & { readonly peer: PeerName }) | null;
  /** Every peer's version. */
  readonly peers: readonly PeerFile[];
  /** Cache state of the default remote version (when not local). */
  readonly cached: Cached | null;
}

interface LocalRow {
  path: string;
  size: number;
  mtime_secs: number;
  mtime_nsecs: number;
  hash: Uint8Array | null;
}

/**
 * How much of a version is in the blob cache.
 *
 * @param tx a transaction on the arena database
 * @param hash the version
 * @returns its cache state, or `null` when nothing is cached
 */
export function cachedOf(tx: ReadTx, hash: Hash): Cached | null {
  const r = tx.get<{ size: number; ranges: string; verified: number; area: Area }>(
    "SELECT size, ranges, verified, area FROM blob_entry WHERE hash = ?",
    hash.bytes(),
  );
  if (r === undefined) return null;
  const ranges = JSON.parse(r.ranges) as [number, number][];
  const bytes = ranges.reduce((n, [s, e]) => n + (e - s), 0);
  return { bytes, size: r.size, verified: r.verified === 1, area: r.area };
}

/**
 * The status text of a listed file, as `user.realize.status` shows it: `local`,
 * `remote 0%`, `remote 37%`, `remote 100%`, `remote 100% verified`.
 *
 * @param e a listed entry
 * @returns the text, or `""` for a directory
 */
export function statusText(e: Listed): string {
  if (e.kind === "dir") return "";
  return fileStatusText(e.local !== null, e.remote === null ? null : e.cached);
}

/**
 * The status text of a file (see {@linkcode statusText}).
 *
 * @param local whether the version shown is the local file
 * @param cached what the cache holds of the remote version shown
 * @returns the text
 */
export function fileStatusText(local: boolean, cached: Cached | null): string {
  if (local) return "local";
  if (cached === null) return "remote 0%";
  const pct = cached.size === 0 ? 100 : Math.floor((100 * cached.bytes) / cached.size);
  return cached.verified && pct === 100 ? "remote 100% verified" : `remote ${pct}%`;
}

/**
 * The entries directly inside a directory: local and remote, merged by name.
 *
 * @param tx a transaction on the arena database
 * @param dir the directory (`ROOT` for the arena root)
 * @returns the entries, by name
 */
export function listDir(tx: ReadTx, dir: Path): Listed[] {
  const byName = new Map<string, Listed>();
  const put = (name: string, e: Partial<Listed>) => {
    const path = paths.join(dir, name);
    const prev = byName.get(name) ??
      { name, path, kind: "file" as const, local: null, remote: null, peers: [], cached: null };
    byName.set(name, { ...prev, ...e });
  };
  for (const d of remoteDirsIn(tx, dir)) put(paths.name(d), { kind: "dir" });
  for (const r of tx.all<{ path: string }>("SELECT path FROM index_dir WHERE parent = ?", dir)) {
    put(paths.name(r.path as Path), { kind: "dir" });
  }
  for (const v of defaultsIn(tx, dir)) {
    const { peer, hash, size, mtime } = v;
    const cached = hash === null ? null : cachedOf(tx, hash);
    put(paths.name(v.path), { kind: "file", remote: { peer, hash, size, mtime }, cached });
  }
  const locals = tx.all<LocalRow>(
    "SELECT path, size, mtime_secs, mtime_nsecs, hash FROM index_file WHERE parent = ?",
    dir,
  );
  for (const l of locals) {
    const hash = l.hash === null ? null : Hash.fromBytes(l.hash);
    const mtime = UnixTime.of(l.mtime_secs, l.mtime_nsecs);
    put(paths.name(l.path as Path), { kind: "file", local: { hash, size: l.size, mtime } });
  }
  return [...byName.values()]
    .map((e) => (e.kind === "file" ? { ...e, peers: peerFiles(tx, e.path) } : e))
    .sort((a, b) => a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
}

/**
 * One entry, as {@linkcode listDir} would list it.
 *
 * @param tx a transaction
 * @param path the path
 * @returns the entry, or `null` when nothing is there
 */
export function listPath(tx: ReadTx, path: Path): Listed | null {
  const name = paths.name(path);
  const l = tx.get<LocalRow>(
    "SELECT path, size, mtime_secs, mtime_nsecs, hash FROM index_file WHERE path = ?",
    path,
  );
  const d = defaultVersion(tx, path);
  if (l === undefined && d === null) {
    const dir = remoteDir(tx, path) !== null ||
      tx.get("SELECT 1 FROM index_dir WHERE path = ?", path) !== undefined;
    const empty = { local: null, remote: null, peers: [], cached: null };
    return dir ? { name, path, kind: "dir", ...empty } : null;
  }
  const local = l === undefined ? null : {
    hash: l.hash === null ? null : Hash.fromBytes(l.hash),
    size: l.size,
    mtime: UnixTime.of(l.mtime_secs, l.mtime_nsecs),
  };
  const remote = d === null ? null : { peer: d.peer, hash: d.hash, size: d.size, mtime: d.mtime };
  const cached = d === null || d.hash === null ? null : cachedOf(tx, d.hash);
  return { name, path, kind: "file", local, remote, peers: peerFiles(tx, path), cached };
}

/** An entry as JSON (`realize ls --json`, the control endpoint). */
export interface ListedJson {
  name: string;
  path: string;
  kind: "file" | "dir";
  status: string;
  local: { size: number; mtime: string; hash: string | null } | null;
  remote: { peer: string; size: number; mtime: string; hash: string | null } | null;
  peers: { peer: string; size: number; mtime: string; hash: string | null }[];
  cached: { bytes: number; size: number; verified: boolean; area: string } | null;
}

/**
 * An entry as JSON.
 *
 * @param e a listed entry
 * @returns plain JSON values (hashes as text, times as ISO text)
 */
export function listedToJson(e: Listed): ListedJson {
  const v = (
    x: { size: number; mtime: { toString(): string }; hash: { toString(): string } | null },
  ) => ({
    size: x.size,
    mtime: x.mtime.toString(),
    hash: x.hash?.toString() ?? null,
  });
  return {
    name: e.name,
    path: e.path,
    kind: e.kind,
    status: statusText(e),
    local: e.local === null ? null : v(e.local),
    remote: e.remote === null ? null : { peer: e.remote.peer, ...v(e.remote) },
    peers: e.peers.map((p) => ({ peer: p.peer, ...v(p) })),
    cached: e.cached,
  };
}
