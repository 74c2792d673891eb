/**
 * What the other peers have (upstream.md §3.5–3.6): per path, one entry per peer that
 * reported it (hash, size, mtime) and the **default** version shown to the user.
 *
 * The default follows one version chain: a peer's `replace(old → new)` moves the default
 * to `new` only when the default is `old` (or absent); a parallel chain (another peer
 * editing an older version) is recorded for that peer but not shown. When the default
 * version disappears (removed, or no peer has it after a catch-up), the newest version
 * some peer still has becomes the default, so a file stays visible as long as a peer
 * has it. Remote directories exist while something is inside.
 *
 * Every change of a path's default marks it dirty for the engine. Functions take the
 * arena's write transaction first.
 *
 * @module
 */

import {
  type InodeAllocator,
  markDirty,
  markDirtyMany,
  type ReadTx,
  type WriteTx,
} from "../storage/mod.ts";
import {
  Hash,
  type Notification,
  type Path,
  paths,
  type PeerName,
  UnixTime,
} from "../types/mod.ts";
import { assert, unreachable } from "../util/mod.ts";
import { addNode, ensureNode } from "./tree.ts";

/** A version of a file as a peer reported it. */
export interface RemoteVersion {
  /** Content hash; `null` while the peer has not hashed it yet. */
  readonly hash: Hash | null;
  /** Size in bytes. */
  readonly size: number;
  /** Modification time on that peer. */
  readonly mtime: UnixTime;
}

/** A peer's entry for a path. */
export interface PeerFile extends RemoteVersion {
  readonly path: Path;
  readonly peer: PeerName;
}

/** The default version of a path, and the peer whose report it came from. */
export interface DefaultVersion extends RemoteVersion {
  readonly path: Path;
  readonly peer: PeerName;
}

interface VersionRow {
  path: string;
  peer: string;
  hash: Uint8Array | null;
  size: number;
  mtime_secs: number;
  mtime_nsecs: number;
}

function fromRow(r: VersionRow): PeerFile {
  return {
    path: r.path as Path,
    peer: r.peer as PeerName,
    hash: r.hash === null ? null : Hash.fromBytes(r.hash),
    size: r.size,
    mtime: UnixTime.of(r.mtime_secs, r.mtime_nsecs),
  };
}

const COLUMNS = "path, peer, hash, size, mtime_secs, mtime_nsecs";

function sameHash(a: Hash | null, b: Hash | null): boolean {
  return a === null ? b === null : b !== null && a.equals(b);
}

/**
 * A peer's entry for a path.
 *
 * @param tx a transaction on the arena database
 * @param path the path
 * @param peer the peer
 * @returns the entry, or `null`
 */
export function peerFile(tx: ReadTx, path: Path, peer: PeerName): PeerFile | null {
  const r = tx.get<VersionRow>(
    `SELECT ${COLUMNS} FROM unreal_peer_file WHERE path = ? AND peer = ?`,
    path,
    peer,
  );
  return r === undefined ? null : fromRow(r);
}

/**
 * Every peer's entry for a path.
 *
 * @param tx a transaction
 * @param path the path
 * @returns the entries, by peer
 */
export function peerFiles(tx: ReadTx, path: Path): PeerFile[] {
  return tx.all<VersionRow>(
    `SELECT ${COLUMNS} FROM unreal_peer_file WHERE path = ? ORDER BY peer`,
    path,
  ).map(fromRow);
}

/**
 * The peers that have a version.
 *
 * @param tx a transaction
 * @param path the path
 * @param hash the version
 * @returns their names
 */
export function peersWith(tx: ReadTx, path: Path, hash: Hash): PeerName[] {
  return tx.all<{ peer: string }>(
    "SELECT peer FROM unreal_peer_file WHERE path = ? AND hash = ? ORDER BY peer",
    path,
    hash.bytes(),
  ).map((r) => r.peer as PeerName);
}

/**
 * The default version of a path.
 *
 * @param tx a transaction
 * @param path the path
 * @returns the version, or `null` when no peer has the file
 */
export function defaultVersion(tx: ReadTx, path: Path): DefaultVersion | null {
  const r = tx.get<VersionRow>(`SELECT ${COLUMNS} FROM unreal_default WHERE path = ?`, path);
  return r === undefined ? null : fromRow(r);
}

/**
 * The hash of the version shown at a path (the real's `BaseOf` under an overlay: a new
 * local file there is an edit of it).
 *
 * @param tx a transaction
 * @param path the path
 * @returns the hash, or `null` when no version is shown or its hash is not known yet
 */
export function shownHash(tx: ReadTx, path: Path): Hash | null {
  return defaultVersion(tx, path)?.hash ?? null;
}

/**
 * The default versions directly inside a directory.
 *
 * @param tx a transaction
 * @param dir the directory
 * @returns their versions, by path
 */
export function defaultsIn(tx: ReadTx, dir: Path): DefaultVersion[] {
  return tx.all<VersionRow>(
    `SELECT ${COLUMNS} FROM unreal_default WHERE parent = ? ORDER BY path`,
    dir,
  ).map(fromRow);
}

/**
 * Whether a remote directory exists (something is inside).
 *
 * @param tx a transaction
 * @param dir the directory
 * @returns its newest mtime, or `null` when it does not exist remotely
 */
export function remoteDir(tx: ReadTx, dir: Path): UnixTime | null {
  if (dir === paths.ROOT) return UnixTime.EPOCH;
  const r = tx.get<{ mtime_secs: number; mtime_nsecs: number }>(
    "SELECT mtime_secs, mtime_nsecs FROM unreal_dir WHERE path = ?",
    dir,
  );
  return r === undefined ? null : UnixTime.of(r.mtime_secs, r.mtime_nsecs);
}

/**
 * The remote directories directly inside a directory.
 *
 * @param tx a transaction
 * @param dir the directory
 * @returns their paths
 */
export function remoteDirsIn(tx: ReadTx, dir: Path): Path[] {
  return tx.all<{ path: string }>(
    "SELECT path FROM unreal_dir WHERE parent = ? ORDER BY path",
    dir,
  ).map((r) => r.path as Path);
}

function putPeerFile(tx: WriteTx, f: PeerFile): void {
  tx.run(
    `INSERT OR REPLACE INTO unreal_peer_file (${COLUMNS}, catchup) VALUES (?, ?, ?, ?, ?, ?, ?)`,
    f.path,
    f.peer,
    f.hash?.bytes() ?? null,
    f.size,
    f.mtime.secs,
    f.mtime.nsecs,
    0, // reported: no longer waiting to be confirmed by a catch-up
  );
}

function deletePeerFile(tx: WriteTx, path: Path, peer: PeerName): void {
  tx.run("DELETE FROM unreal_peer_file WHERE path = ? AND peer = ?", path, peer);
}

/** Adds `child`'s entry to its parent directory's count, creating directories as needed. */
function addToDir(tx: WriteTx, child: Path, mtime: UnixTime): void {
  const dir = paths.parent(child);
  if (dir === null || dir === paths.ROOT) return;
  const r = tx.run(
    `UPDATE unreal_dir SET children = children + 1,
       mtime_secs = max(mtime_secs, ?),
       mtime_nsecs = CASE WHEN mtime_secs < ? OR (mtime_secs = ? AND mtime_nsecs < ?) THEN ?
         ELSE mtime_nsecs END
     WHERE path = ?`,
    mtime.secs,
    mtime.secs,
    mtime.secs,
    mtime.nsecs,
    mtime.nsecs,
    dir,
  );
  if (r.changes === 1) return;
  tx.run(
    "INSERT INTO unreal_dir (path, parent, children, mtime_secs, mtime_nsecs) VALUES (?, ?, 1, ?, ?)",
    dir,
    paths.parent(dir) ?? "",
    mtime.secs,
    mtime.nsecs,
  );
  addToDir(tx, dir, mtime);
}

/** Removes `child`'s entry from its parent directory, deleting directories left empty. */
function removeFromDir(tx: WriteTx, child: Path): void {
  const dir = paths.parent(child);
  if (dir === null || dir === paths.ROOT) return;
  const r = tx.get<{ children: number }>("SELECT children FROM unreal_dir WHERE path = ?", dir);
  assert(r !== undefined, "a remote file's directory is recorded");
  if (r.children > 1) {
    tx.run("UPDATE unreal_dir SET children = children - 1 WHERE path = ?", dir);
    return;
  }
  tx.run("DELETE FROM unreal_dir WHERE path = ?", dir);
  dropNodeIfGone(tx, dir);
  removeFromDir(tx, dir);
}

function setDefault(tx: WriteTx, v: DefaultVersion, alloc: InodeAllocator | null): void {
  const had = defaultVersion(tx, v.path) !== null;
  putDefault(tx, v);
  if (!had) addToDir(tx, v.path, v.mtime);
  // Nodes (inodes) for remote entries are made now, so listings need not make them.
  if (!had && alloc !== null) ensureNode(tx, v.path, alloc);
  markDirty(tx, v.path);
}

/**
 * Removes the default of a path; the newest version another peer still has (if any)
 * becomes the default.
 */
function dropDefault(tx: WriteTx, path: Path): void {
  tx.run("DELETE FROM unreal_default WHERE path = ?", path);
  const next = tx.get<VersionRow>(
    `SELECT ${COLUMNS} FROM unreal_peer_file WHERE path = ?
     ORDER BY mtime_secs DESC, mtime_nsecs DESC, peer LIMIT 1`,
    path,
  );
  if (next !== undefined) {
    const v = fromRow(next);
    tx.run(
      `INSERT INTO unreal_default (${COLUMNS}, parent) VALUES (?, ?, ?, ?, ?, ?, ?)`,
      v.path,
      v.peer,
      v.hash?.bytes() ?? null,
      v.size,
      v.mtime.secs,
      v.mtime.nsecs,
      paths.parent(path) ?? "",
    );
  } else {
    removeFromDir(tx, path);
    dropNodeIfGone(tx, path);
  }
  markDirty(tx, path);
}

/** Whether a default is (still) the version `hash` of the chain a peer follows. */
function defaultIs(d: DefaultVersion, hash: Hash | null, peer: PeerName): boolean {
  // A pending default (no hash yet) belongs to the peer that reported it.
  if (d.hash === null) return d.peer === peer;
  return hash !== null && d.hash.equals(hash);
}

function sameVersionOf(d: DefaultVersion, v: RemoteVersion, peer: PeerName): boolean {
  return d.peer === peer && sameHash(d.hash, v.hash) && d.size === v.size &&
    d.mtime.equals(v.mtime);
}

/**
 * A peer has a file (`add`, or an entry of a catch-up, which also confirms it): its
 * entry is set; the file becomes the default if there was none, and updates the default
 * when that was this peer's pending version (its hash follows) or the same version.
 *
 * @param tx a write transaction on the arena database
 * @param peer the peer
 * @param file the file and its version
 */
export function peerAdded(
  tx: WriteTx,
  peer: PeerName,
  file: { path: Path } & RemoteVersion,
  alloc: InodeAllocator | null = null,
): void {
  putPeerFile(tx, { ...file, peer });
  const d = defaultVersion(tx, file.path);
  const follows = d !== null && d.peer === peer &&
    (d.hash === null || sameHash(d.hash, file.hash));
  if (d === null || (follows && !sameVersionOf(d, file, peer))) {
    setDefault(tx, { ...file, peer }, alloc);
  }
}

/** A default a batch replaced: what it showed before (for the blob cache). */
export interface Replaced {
  readonly path: Path;
  readonly before: Hash;
}

/**
 * {@linkcode peerAdded} for a batch of files (a catch-up's), with the same result as one
 * call per file in order, in a few statements per file instead of about fourteen: the
 * current defaults and nodes are looked up once per batch, directory counts are added
 * once per directory, and the changed paths are marked dirty together.
 *
 * @param tx a write transaction on the arena database
 * @param peer the peer
 * @param files the files and their versions, in the order reported
 * @param alloc the arena's inode allocator (nodes for new defaults are made at once)
 * @returns the defaults that were replaced and had a hash
 */
export function peerAddedMany(
  tx: WriteTx,
  peer: PeerName,
  files: readonly ({ path: Path } & RemoteVersion)[],
  alloc: InodeAllocator,
): Replaced[] {
  const defaults = defaultsOf(tx, files.map((f) => f.path));
  const added: ({ path: Path } & RemoteVersion)[] = [];
  const changed: Path[] = [];
  const replaced: Replaced[] = [];
  for (const file of files) {
    putPeerFile(tx, { ...file, peer });
    const d = defaults.get(file.path) ?? null;
    const follows = d !== null && d.peer === peer &&
      (d.hash === null || sameHash(d.hash, file.hash));
    if (d !== null && !(follows && !sameVersionOf(d, file, peer))) continue;
    putDefault(tx, { ...file, peer });
    defaults.set(file.path, { ...file, peer });
    changed.push(file.path);
    if (d === null) added.push(file);
    else if (d.hash !== null) replaced.push({ path: file.path, before: d.hash });
  }
  addManyToDirs(tx, added);
  ensureNodes(tx, added.map((f) => f.path), alloc);
  markDirtyMany(tx, changed);
  return replaced;
}

/** The current defaults of some paths (one query). */
function defaultsOf(tx: ReadTx, of: readonly Path[]): Map<Path, DefaultVersion> {
  const rows = tx.all<VersionRow>(
    `SELECT ${COLUMNS} FROM unreal_default WHERE path IN (SELECT value FROM json_each(?))`,
    JSON.stringify(of),
  );
  return new Map(rows.map((r) => [r.path as Path, fromRow(r)]));
}

function putDefault(tx: WriteTx, v: DefaultVersion): void {
  tx.run(
    `INSERT OR REPLACE INTO unreal_default (${COLUMNS}, parent) VALUES (?, ?, ?, ?, ?, ?, ?)`,
    v.path,
    v.peer,
    v.hash?.bytes() ?? null,
    v.size,
    v.mtime.secs,
    v.mtime.nsecs,
    paths.parent(v.path) ?? "",
  );
}

/** Per directory: entries added, their newest mtime and the first one's (in order). */
interface DirAdds {
  count: number;
  newest: UnixTime;
  readonly first: UnixTime;
}

/**
 * {@linkcode addToDir} for new entries, once per directory: a directory's count and newest
 * mtime move as they would entry by entry, and a new directory enters its parent with the
 * mtime of the entry that made it, as it would.
 */
function addManyToDirs(tx: WriteTx, added: readonly { path: Path; mtime: UnixTime }[]): void {
  const dirs = new Map<Path, DirAdds>();
  for (const f of added) {
    const dir = paths.parent(f.path);
    if (dir === null || dir === paths.ROOT) continue;
    const a = dirs.get(dir);
    if (a === undefined) dirs.set(dir, { count: 1, newest: f.mtime, first: f.mtime });
    else {
      a.count++;
      if (a.newest.compare(f.mtime) < 0) a.newest = f.mtime;
    }
  }
  for (const [dir, a] of dirs) {
    const r = tx.run(
      `UPDATE unreal_dir SET children = children + ?,
         mtime_secs = max(mtime_secs, ?),
         mtime_nsecs = CASE WHEN mtime_secs < ? OR (mtime_secs = ? AND mtime_nsecs < ?) THEN ?
           ELSE mtime_nsecs END
       WHERE path = ?`,
      a.count,
      a.newest.secs,
      a.newest.secs,
      a.newest.secs,
      a.newest.nsecs,
      a.newest.nsecs,
      dir,
    );
    if (r.changes === 1) continue;
    tx.run(
      "INSERT INTO unreal_dir (path, parent, children, mtime_secs, mtime_nsecs) VALUES (?, ?, ?, ?, ?)",
      dir,
      paths.parent(dir) ?? "",
      a.count,
      a.newest.secs,
      a.newest.nsecs,
    );
    addToDir(tx, dir, a.first);
  }
}

/** {@linkcode ensureNode} for several paths in order, looking existing nodes up at once. */
function ensureNodes(tx: WriteTx, of: readonly Path[], alloc: InodeAllocator): void {
  if (of.length === 0) return;
  const wanted = new Set<Path>();
  for (const path of of) {
    wanted.add(path);
    wanted.add(paths.parent(path) ?? paths.ROOT);
  }
  const inos = new Map<Path, number>(
    tx.all<{ path: string; ino: number }>(
      "SELECT path, ino FROM unreal_node WHERE path IN (SELECT value FROM json_each(?))",
      JSON.stringify([...wanted]),
    ).map((r) => [r.path as Path, r.ino]),
  );
  for (const path of of) {
    if (inos.has(path)) continue;
    const parentPath = paths.parent(path);
    let parent: number | null = null;
    if (parentPath !== null) {
      parent = inos.get(parentPath) ?? ensureNode(tx, parentPath, alloc);
      inos.set(parentPath, parent);
    }
    inos.set(path, addNode(tx, path, parent, alloc));
  }
}

/**
 * A peer replaced version `oldHash` of a file with a new one.
 *
 * @param tx a write transaction
 * @param peer the peer
 * @param file the file and its new version
 * @param oldHash the version it replaced (`null` if it was never hashed)
 */
export function peerReplaced(
  tx: WriteTx,
  peer: PeerName,
  file: { path: Path } & RemoteVersion,
  oldHash: Hash | null,
  alloc: InodeAllocator | null = null,
): void {
  putPeerFile(tx, { ...file, peer });
  const d = defaultVersion(tx, file.path);
  if (d === null || defaultIs(d, oldHash, peer)) setDefault(tx, { ...file, peer }, alloc);
}

/**
 * A peer deleted version `oldHash` of a file.
 *
 * @param tx a write transaction
 * @param peer the peer
 * @param path the file
 * @param oldHash the version deleted (`null` if never hashed)
 */
export function peerRemoved(
  tx: WriteTx,
  peer: PeerName,
  path: Path,
  oldHash: Hash | null,
): void {
  const mine = peerFile(tx, path, peer);
  if (mine !== null && (oldHash === null || sameHash(mine.hash, oldHash))) {
    deletePeerFile(tx, path, peer);
  }
  const d = defaultVersion(tx, path);
  if (d !== null && defaultIs(d, oldHash, peer)) dropDefault(tx, path);
}

/**
 * A peer no longer keeps version `oldHash` of a file (others may): only its entry goes.
 *
 * @param tx a write transaction
 * @param peer the peer
 * @param path the file
 * @param oldHash the version it dropped
 */
export function peerDropped(tx: WriteTx, peer: PeerName, path: Path, oldHash: Hash): void {
  const mine = peerFile(tx, path, peer);
  if (mine === null || !sameHash(mine.hash, oldHash)) return;
  deletePeerFile(tx, path, peer);
  const d = defaultVersion(tx, path);
  // The default stays while any peer still has that version.
  if (d !== null && d.peer === peer) {
    const other = tx.get<{ peer: string }>(
      "SELECT peer FROM unreal_peer_file WHERE path = ? AND hash = ? LIMIT 1",
      path,
      oldHash.bytes(),
    );
    if (other !== undefined) setDefault(tx, { ...d, peer: other.peer as PeerName }, null);
    else dropDefault(tx, path);
  }
}

/**
 * A peer moved (`rename`) or linked (`branch`) content `hash` from `path` to `dest`.
 *
 * @param tx a write transaction
 * @param peer the peer
 * @param move what happened
 */
export function peerMoved(
  tx: WriteTx,
  peer: PeerName,
  move: { kind: "rename" | "branch"; path: Path; dest: Path; hash: Hash },
  alloc: InodeAllocator | null = null,
): void {
  const source = peerFile(tx, move.path, peer);
  const version: RemoteVersion = source !== null && sameHash(source.hash, move.hash)
    ? { hash: source.hash, size: source.size, mtime: source.mtime }
    : { hash: move.hash, size: defaultVersion(tx, move.path)?.size ?? 0, mtime: UnixTime.now() };
  if (move.kind === "rename") peerRemoved(tx, peer, move.path, move.hash);
  const existing = peerFile(tx, move.dest, peer);
  if (existing !== null) {
    peerReplaced(tx, peer, { path: move.dest, ...version }, existing.hash, alloc);
  } else peerAdded(tx, peer, { path: move.dest, ...version }, alloc);
}

/**
 * Starts a full catch-up from a peer: every entry it has is marked; what it does not
 * report again before {@linkcode catchupComplete} is removed.
 *
 * @param tx a write transaction
 * @param peer the peer
 */
export function catchupStart(tx: WriteTx, peer: PeerName): void {
  tx.run("UPDATE unreal_peer_file SET catchup = 1 WHERE peer = ?", peer);
}

/**
 * Ends a full catch-up: the peer's entries it did not report are removed.
 *
 * @param tx a write transaction
 * @param peer the peer
 * @returns how many entries were removed
 */
export function catchupComplete(tx: WriteTx, peer: PeerName): number {
  const stale = tx.all<VersionRow>(
    `SELECT ${COLUMNS} FROM unreal_peer_file WHERE peer = ? AND catchup = 1`,
    peer,
  ).map(fromRow);
  for (const f of stale) peerRemoved(tx, peer, f.path, f.hash);
  return stale.length;
}

/**
 * Where a peer's history was applied up to, for resuming its subscription.
 *
 * @param tx a transaction
 * @param peer the peer
 * @returns its store id and the last index applied, or `null` when unknown
 */
export function peerProgress(
  tx: ReadTx,
  peer: PeerName,
): { storeId: string; lastIndex: number } | null {
  const r = tx.get<{ store_id: string; last_index: number }>(
    "SELECT store_id, last_index FROM unreal_peer_progress WHERE peer = ?",
    peer,
  );
  return r === undefined ? null : { storeId: r.store_id, lastIndex: r.last_index };
}

/**
 * Records how far a peer's history was applied (in the same transaction as the changes).
 *
 * @param tx a write transaction
 * @param peer the peer
 * @param storeId the id of the peer's history
 * @param lastIndex the last index applied
 */
export function setPeerProgress(
  tx: WriteTx,
  peer: PeerName,
  storeId: string,
  lastIndex: number,
): void {
  tx.run(
    "INSERT OR REPLACE INTO unreal_peer_progress (peer, store_id, last_index) VALUES (?, ?, ?)",
    peer,
    storeId,
    lastIndex,
  );
}

/**
 * Applies one notification from a peer (its history, translated by the peer).
 *
 * @param tx a write transaction on the arena database
 * @param peer the peer that sent it
 * @param n the notification
 * @param alloc the arena's inode allocator: nodes for new remote entries are made at once
 *   (without it they are made when first looked up)
 */
export function applyNotification(
  tx: WriteTx,
  peer: PeerName,
  n: Notification,
  alloc: InodeAllocator | null = null,
): void {
  switch (n.kind) {
    case "add":
      return peerAdded(tx, peer, n, alloc);
    case "replace":
      return peerReplaced(tx, peer, n, n.oldHash, alloc);
    case "remove":
      return peerRemoved(tx, peer, n.path, n.oldHash);
    case "drop":
      return peerDropped(tx, peer, n.path, n.oldHash);
    case "rename":
    case "branch":
      return peerMoved(tx, peer, n, alloc);
    default:
      return unreachable(n);
  }
}

/** Deletes the node of a path where nothing exists any more (locally or remotely). */
function dropNodeIfGone(tx: WriteTx, path: Path): void {
  tx.run(
    `DELETE FROM unreal_node WHERE path = ?1
       AND NOT EXISTS (SELECT 1 FROM unreal_default WHERE path = ?1)
       AND NOT EXISTS (SELECT 1 FROM unreal_dir WHERE path = ?1)
       AND NOT EXISTS (SELECT 1 FROM index_file WHERE path = ?1)
       AND NOT EXISTS (SELECT 1 FROM index_dir WHERE path = ?1)
       AND NOT EXISTS (SELECT 1 FROM unreal_node c WHERE c.parent = unreal_node.ino)`,
    path,
  );
}
