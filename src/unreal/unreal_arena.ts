/**
 * The unreal of one arena, assembled: the remote tree with its inodes, the filesystem
 * view, and the blob cache. Applying a peer's notifications goes through here so the
 * pieces stay consistent: a batch is one transaction (with the peer's progress), and a
 * version no path shows any more moves its cached blob to the pending-removal area
 * (evicted first, seed `#bloblru`) once the transaction has committed.
 *
 * @module
 */

import type { DiskUsage } from "../config/mod.ts";
import {
  type Database,
  InodeAllocator,
  type ReadTx,
  type Sync,
  type WriteTx,
} from "../storage/mod.ts";
import type { ArenaName, Hash, Notification, Path, PeerName } from "../types/mod.ts";
import { ArenaView } from "./arena_view.ts";
import type { HashFileFn } from "./blob_hash.ts";
import { BlobStore } from "./blob_store.ts";
import {
  applyNotification,
  catchupComplete,
  catchupStart,
  defaultVersion,
  peerAddedMany,
  type RemoteVersion,
  setPeerProgress,
} from "./remote.ts";

/** Options of {@linkcode UnrealArena.open}. */
export interface UnrealArenaOptions {
  /** The arena. */
  readonly name: ArenaName;
  /** Its database (with `ARENA_SCHEMAS`). */
  readonly db: Database;
  /** The global database (inode ranges). */
  readonly globalDb: Database;
  /** The arena's workdir (`blobs/` lives there). */
  readonly workdir: string;
  /** Cache limits (`disk_usage`), or `null` for none. */
  readonly diskUsage: DiskUsage | null;
  /** Hashes a complete blob to verify it (a hash pool); default: inline. */
  readonly hashFile?: HashFileFn;
  /** Inodes per range (tests use small ones). */
  readonly rangeSize?: number;
}

/** One arena's unreal. */
export class UnrealArena {
  readonly name: ArenaName;
  readonly db: Database;
  readonly alloc: InodeAllocator;
  readonly view: ArenaView;
  readonly blobs: BlobStore;

  private constructor(o: UnrealArenaOptions, blobs: BlobStore) {
    this.name = o.name;
    this.db = o.db;
    this.alloc = new InodeAllocator({
      arenaDb: o.db,
      globalDb: o.globalDb,
      arena: o.name,
      ...(o.rangeSize === undefined ? {} : { rangeSize: o.rangeSize }),
    });
    this.view = new ArenaView(o.db, this.alloc);
    this.blobs = blobs;
  }

  /**
   * Opens the unreal of an arena and reconciles its blob files with the database.
   *
   * @param options see {@linkcode UnrealArenaOptions}
   * @returns the arena's unreal
   * @throws {StorageError} when a database fails
   */
  static open(options: UnrealArenaOptions): UnrealArena {
    const blobs = BlobStore.open({
      db: options.db,
      dir: `${options.workdir}/blobs`,
      limits: options.diskUsage,
      ...(options.hashFile === undefined ? {} : { hashFile: options.hashFile }),
    });
    blobs.reconcile();
    return new UnrealArena(options, blobs);
  }

  /**
   * Applies a batch of notifications from a peer in one transaction, and records how
   * far its history was applied.
   *
   * @param peer the peer
   * @param batch its notifications, in order
   * @param progress the peer's history id and the index after this batch, if known
   */
  apply(
    peer: PeerName,
    batch: readonly Notification[],
    progress?: { storeId: string; lastIndex: number },
  ): void {
    this.#write((tx, release) => {
      for (const n of batch) {
        const touched = n.kind === "rename" || n.kind === "branch" ? [n.path, n.dest] : [n.path];
        const before = touched.map((p) => defaultVersion(tx, p)?.hash ?? null);
        applyNotification(tx, peer, n, this.alloc);
        before.forEach((h, i) => release(touched[i]!, h));
      }
      if (progress !== undefined) {
        setPeerProgress(tx, peer, progress.storeId, progress.lastIndex);
      }
    });
  }

  /**
   * Starts a full catch-up from a peer (see `catchupStart`).
   *
   * @param peer the peer
   */
  catchupStart(peer: PeerName): void {
    this.db.write((tx) => catchupStart(tx, peer));
  }

  /**
   * A batch of files a peer reported during a catch-up (as `peerAdded` for each, in a few
   * statements per file).
   *
   * @param peer the peer
   * @param files its files and their versions
   */
  catchupFiles(peer: PeerName, files: readonly ({ path: Path } & RemoteVersion)[]): void {
    this.#write((tx, release) => {
      for (const r of peerAddedMany(tx, peer, files, this.alloc)) release(r.path, r.before);
    });
  }

  /**
   * Ends a full catch-up: what the peer did not report is removed; its progress is set.
   *
   * @param peer the peer
   * @param progress its history id and the index the catch-up ended at
   * @returns how many entries were removed
   */
  catchupComplete(peer: PeerName, progress: { storeId: string; lastIndex: number }): number {
    return this.#write((tx, release) => {
      const stale = tx.all<{ path: string }>(
        "SELECT path FROM unreal_peer_file WHERE peer = ? AND catchup = 1",
        peer,
      ).map((r) => r.path as Path);
      const before = stale.map((p) => defaultVersion(tx, p)?.hash ?? null);
      const n = catchupComplete(tx, peer);
      stale.forEach((p, i) => release(p, before[i]!));
      setPeerProgress(tx, peer, progress.storeId, progress.lastIndex);
      return n;
    });
  }

  /**
   * Runs `fn` in a write transaction; versions it released (no default shows them any
   * more) are retired in the blob cache after the commit.
   */
  #write<T>(
    fn: (tx: WriteTx, release: (path: Path, before: Hash | null) => void) => Sync<T>,
  ): T {
    const released: Hash[] = [];
    const result = this.db.write((tx) => {
      const r = fn(tx, (path, gone) => {
        if (gone === null) return;
        const now = defaultVersion(tx, path)?.hash ?? null;
        if (now !== null && now.equals(gone)) return;
        if (!shownAnywhere(tx, gone)) released.push(gone);
      });
      tx.afterCommit(() => released.forEach((h) => this.blobs.retire(h)));
      return r;
    });
    return result;
  }

  /** Closes the blob store (flushes its bookkeeping). */
  async close(): Promise<void> {
    await this.blobs.close();
  }
}

function shownAnywhere(tx: ReadTx, hash: Hash): boolean {
  return tx.get("SELECT 1 FROM unreal_default WHERE hash = ? LIMIT 1", hash.bytes()) !== undefined;
}
