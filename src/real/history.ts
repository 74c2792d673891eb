/**
 * The history: an ordered log of local changes that peers subscribe to and resume
 * (upstream.md §3.6).
 *
 * - Entries get indices 1, 2, 3…: the last index ever used is kept in `history_state`,
 *   so indices stay monotonic when entries are trimmed and across restarts.
 * - An entry records *that* a path changed, not the new content: a reader translates
 *   it with the **current** index ({@linkcode translate}), so replaying an old entry
 *   never announces a version that no longer exists.
 * - The store id (a random UUID made when the database is created) tells a subscriber
 *   whether its saved position belongs to this history.
 * - Trimming (seed `#trimhistory`): see {@linkcode trimHistory} and docs/history.md.
 *
 * @module
 */

import {
  HISTORY_MAX_AGE_MS_DEFAULT,
  HISTORY_MAX_ENTRIES_DEFAULT,
  type HistoryBounds,
} from "../config/mod.ts";
import type { Database, ReadTx, Schema, WriteTx } from "../storage/mod.ts";
import { Watermark } from "../storage/mod.ts";
import { Hash, type Notification, type Path, paths, type PeerName } from "../types/mod.ts";
import { assert, unreachable } from "../util/mod.ts";
import { getFile } from "./index.ts";

/** The history tables. */
export const HISTORY_SCHEMA: Schema = {
  name: "history",
  migrations: [
    `CREATE TABLE history_state (
       id INTEGER PRIMARY KEY CHECK (id = 1),
       store_id TEXT NOT NULL,
       last_index INTEGER NOT NULL CHECK (last_index >= 0)
     );
     INSERT INTO history_state (id, store_id, last_index) VALUES (1, lower(hex(randomblob(16))), 0);
     CREATE TABLE history_entry (
       idx INTEGER PRIMARY KEY CHECK (idx > 0),
       kind TEXT NOT NULL CHECK (kind IN ('add', 'replace', 'remove', 'drop', 'branch', 'rename')),
       path TEXT NOT NULL,
       dest TEXT,
       hash BLOB,
       old_hash BLOB,
       time_ms INTEGER NOT NULL
     );
     CREATE TABLE history_peer (
       peer TEXT PRIMARY KEY,
       acked INTEGER NOT NULL CHECK (acked >= 0),
       acked_ms INTEGER NOT NULL,
       needs_catchup INTEGER NOT NULL DEFAULT 0
     ) WITHOUT ROWID;`,
  ],
};

/** A history entry as recorded. */
export type HistoryEntry =
  | { readonly kind: "add"; readonly path: Path }
  | { readonly kind: "replace" | "remove"; readonly path: Path; readonly oldHash: Hash | null }
  | { readonly kind: "drop"; readonly path: Path; readonly oldHash: Hash }
  | {
    readonly kind: "branch" | "rename";
    readonly path: Path;
    readonly dest: Path;
    readonly hash: Hash;
  };

/** A recorded entry with its index and time. */
export type IndexedEntry = HistoryEntry & { readonly index: number; readonly timeMs: number };

interface Row {
  idx: number;
  kind: HistoryEntry["kind"];
  path: string;
  dest: string | null;
  hash: Uint8Array | null;
  old_hash: Uint8Array | null;
  time_ms: number;
}

/** Most entries one {@linkcode historyAfter} call returns. */
export const HISTORY_BATCH_MAX = 10_000;

const watermark = new Watermark("history", (tx) => lastIndex(tx));

function hashOrNull(bytes: Uint8Array | null): Hash | null {
  return bytes === null ? null : Hash.fromBytes(bytes);
}

function fromRow(r: Row): IndexedEntry {
  const base = { index: r.idx, timeMs: r.time_ms, path: paths.parse(r.path) };
  switch (r.kind) {
    case "add":
      return { ...base, kind: r.kind };
    case "replace":
    case "remove":
      return { ...base, kind: r.kind, oldHash: hashOrNull(r.old_hash) };
    case "drop":
      assert(r.old_hash !== null, "a drop entry has an old hash");
      return { ...base, kind: r.kind, oldHash: Hash.fromBytes(r.old_hash) };
    case "branch":
    case "rename":
      assert(r.dest !== null && r.hash !== null, "a move entry has a dest and a hash");
      return { ...base, kind: r.kind, dest: paths.parse(r.dest), hash: Hash.fromBytes(r.hash) };
    default:
      return unreachable(r.kind);
  }
}

/**
 * The id of this history (changes when the database is recreated).
 *
 * @param tx a transaction on the arena database
 * @returns a 32-hex-digit id
 */
export function storeId(tx: ReadTx): string {
  const r = tx.get<{ store_id: string }>("SELECT store_id FROM history_state WHERE id = 1");
  assert(r !== undefined, "history_state has its row");
  return r.store_id;
}

/**
 * The index of the last entry ever recorded (0 when none).
 *
 * @param tx a transaction
 * @returns the index
 */
export function lastIndex(tx: ReadTx): number {
  const r = tx.get<{ last_index: number }>("SELECT last_index FROM history_state WHERE id = 1");
  assert(r !== undefined, "history_state has its row");
  return r.last_index;
}

/**
 * The index of the oldest entry still kept, or `lastIndex + 1` when none is kept.
 *
 * @param tx a transaction
 * @returns the index
 */
export function firstIndex(tx: ReadTx): number {
  const r = tx.get<{ idx: number | null }>("SELECT min(idx) AS idx FROM history_entry");
  return r?.idx ?? lastIndex(tx) + 1;
}

/**
 * Appends an entry. Readers waiting in {@linkcode waitForHistory} wake after the commit.
 *
 * @param tx a write transaction on the arena database
 * @param entry the change
 * @param nowMs the time to record (for trimming by age)
 * @returns its index
 */
export function appendHistory(tx: WriteTx, entry: HistoryEntry, nowMs = Date.now()): number {
  const index = lastIndex(tx) + 1;
  const e = entry as { dest?: Path; hash?: Hash; oldHash?: Hash | null };
  tx.run(
    "INSERT INTO history_entry (idx, kind, path, dest, hash, old_hash, time_ms) VALUES (?, ?, ?, ?, ?, ?, ?)",
    index,
    entry.kind,
    entry.path,
    e.dest ?? null,
    e.hash?.bytes() ?? null,
    e.oldHash?.bytes() ?? null,
    nowMs,
  );
  tx.run("UPDATE history_state SET last_index = ? WHERE id = 1", index);
  const db = tx.database;
  tx.afterCommit(() => watermark.raise(db, index));
  return index;
}

/**
 * Entries after an index, oldest first.
 *
 * @param tx a transaction
 * @param after the last index the reader has seen
 * @param limit at most this many (≤ {@linkcode HISTORY_BATCH_MAX})
 * @returns the entries
 */
export function historyAfter(tx: ReadTx, after: number, limit: number): IndexedEntry[] {
  assert(limit > 0 && limit <= HISTORY_BATCH_MAX, "history batch within limits");
  return tx.all<Row>(
    "SELECT idx, kind, path, dest, hash, old_hash, time_ms FROM history_entry WHERE idx > ? ORDER BY idx LIMIT ?",
    after,
    limit,
  ).map(fromRow);
}

/**
 * Waits until an entry after `after` is committed.
 *
 * @param db the arena database
 * @param after the last index the reader has seen
 * @param options `signal` stops waiting (pass one that aborts on shutdown)
 * @returns a committed index above `after`
 */
export function waitForHistory(
  db: Database,
  after: number,
  options: { signal?: AbortSignal } = {},
): Promise<number> {
  return watermark.wait(db, after, options);
}

/**
 * Translates an entry into what a peer should be told now, from the current index:
 * a file added then deleted is not announced; a replaced file is announced with its
 * current version (which may be pending), or as removed if it is gone.
 *
 * @param tx a transaction
 * @param entry a recorded entry
 * @returns zero, one or two notifications
 */
export function translate(tx: ReadTx, entry: IndexedEntry): Notification[] {
  const index = entry.index;
  switch (entry.kind) {
    case "add": {
      const f = getFile(tx, entry.path);
      if (f === null) return [];
      return [{ kind: "add", index, path: f.path, size: f.size, mtime: f.mtime, hash: f.hash }];
    }
    case "replace":
    case "remove": {
      const f = getFile(tx, entry.path);
      if (f === null) return [{ kind: "remove", index, path: entry.path, oldHash: entry.oldHash }];
      const { size, mtime, hash } = f;
      return [{ kind: "replace", index, path: f.path, size, mtime, hash, oldHash: entry.oldHash }];
    }
    case "drop":
      if (getFile(tx, entry.path) !== null) return [];
      return [{ kind: "drop", index, path: entry.path, oldHash: entry.oldHash }];
    case "branch":
    case "rename":
      return translateMove(tx, entry);
    default:
      return unreachable(entry);
  }
}

function translateMove(
  tx: ReadTx,
  entry: Extract<IndexedEntry, { kind: "branch" | "rename" }>,
): Notification[] {
  const { index, path, dest, hash } = entry;
  const target = getFile(tx, dest);
  const source = getFile(tx, path);
  const sourceOk = entry.kind === "branch" ? source?.hash?.equals(hash) === true : source === null;
  if (target?.hash?.equals(hash) === true && sourceOk) {
    return [{ kind: entry.kind, index, path, dest, hash }];
  }
  // The files changed since: say what is true now instead.
  const out: Notification[] = [];
  if (entry.kind === "rename" && source === null) {
    out.push({ kind: "remove", index, path, oldHash: hash });
  }
  if (target !== null) {
    const { size, mtime } = target;
    out.push({ kind: "add", index, path: dest, size, mtime, hash: target.hash });
  }
  return out;
}

/** How far a peer may lag before it is sent a full catch-up instead of the history. */
export type TrimBounds = HistoryBounds;

/** Default bounds (the configuration's defaults): 100,000 entries or 30 days. */
export const TRIM_BOUNDS_DEFAULT: TrimBounds = {
  maxEntries: HISTORY_MAX_ENTRIES_DEFAULT,
  maxAgeMs: HISTORY_MAX_AGE_MS_DEFAULT,
};

/**
 * Records that a peer has applied the history up to `index`.
 *
 * @param tx a write transaction
 * @param peer the peer
 * @param index the last index it applied (after a full catch-up: the index it ended at)
 * @param nowMs the time
 */
export function ackHistory(tx: WriteTx, peer: PeerName, index: number, nowMs = Date.now()): void {
  assert(index >= 0 && index <= lastIndex(tx), "an ack is within the history");
  tx.run(
    `INSERT INTO history_peer (peer, acked, acked_ms, needs_catchup) VALUES (?, ?, ?, 0)
     ON CONFLICT (peer) DO UPDATE SET acked = max(acked, excluded.acked), acked_ms = excluded.acked_ms,
       needs_catchup = 0`,
    peer,
    index,
    nowMs,
  );
}

/**
 * Whether a peer that saw the history up to `lastSeen` can be sent the entries after it,
 * or needs a full catch-up (its position is unknown, trimmed away, or it lagged too long).
 *
 * @param tx a transaction
 * @param peer the peer
 * @param lastSeen the last index it says it applied, for this store id
 * @returns true when the entries after `lastSeen` are all kept
 */
export function canResume(tx: ReadTx, peer: PeerName, lastSeen: number): boolean {
  if (lastSeen > lastIndex(tx)) return false; // from a history that no longer exists
  const flagged = tx.get<{ n: number }>(
    "SELECT needs_catchup AS n FROM history_peer WHERE peer = ?",
    peer,
  )?.n === 1;
  return !flagged && firstIndex(tx) <= lastSeen + 1;
}

/**
 * Trims the history (seed `#trimhistory`). The rule, in docs/history.md:
 * entries every known peer has acknowledged are deleted; a peer that is more than
 * `maxEntries` behind, or still needs an entry older than `maxAgeMs`, is marked for a
 * full catch-up and no longer holds the history back. A peer never heard from counts
 * as having acknowledged nothing.
 *
 * @param tx a write transaction
 * @param peers every peer configured for the arena
 * @param bounds lag bounds
 * @param nowMs the time
 * @returns how many entries were deleted and which peers were marked for a catch-up
 */
export function trimHistory(
  tx: WriteTx,
  peers: readonly PeerName[],
  bounds: TrimBounds = TRIM_BOUNDS_DEFAULT,
  nowMs = Date.now(),
): { deleted: number; lagging: PeerName[] } {
  const last = lastIndex(tx);
  let keepAfter = last;
  const lagging: PeerName[] = [];
  for (const peer of peers) {
    const row = tx.get<{ acked: number; needs_catchup: number }>(
      "SELECT acked, needs_catchup FROM history_peer WHERE peer = ?",
      peer,
    );
    if (row?.needs_catchup === 1) continue;
    const acked = row?.acked ?? 0;
    const oldestNeeded = tx.get<{ time_ms: number }>(
      "SELECT time_ms FROM history_entry WHERE idx > ? ORDER BY idx LIMIT 1",
      acked,
    );
    const tooFar = last - acked > bounds.maxEntries;
    const tooOld = oldestNeeded !== undefined && nowMs - oldestNeeded.time_ms > bounds.maxAgeMs;
    if (tooFar || tooOld) {
      tx.run(
        `INSERT INTO history_peer (peer, acked, acked_ms, needs_catchup) VALUES (?, ?, ?, 1)
         ON CONFLICT (peer) DO UPDATE SET needs_catchup = 1`,
        peer,
        acked,
        nowMs,
      );
      lagging.push(peer);
    } else {
      keepAfter = Math.min(keepAfter, acked);
    }
  }
  const deleted = tx.run("DELETE FROM history_entry WHERE idx <= ?", keepAfter).changes;
  return { deleted, lagging };
}
