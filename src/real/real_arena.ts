/**
 * The real of one arena, alive: a start-up catch-up of the datadir against the index,
 * then live watching; pending files are hashed in the hash pool and their hashes
 * recorded with the matching history entries.
 *
 * Hashing never records a stale hash: the file's version (size, nanosecond mtime,
 * inode) is compared before and after reading it, and a file changed (ctime) so recently
 * that the filesystem's coarse clock could hide a later write is hashed again a little
 * later (the "racy" window, as git does).
 *
 * @module
 */

import type { Database } from "../storage/mod.ts";
import { type Hash, type Path, paths } from "../types/mod.ts";
import { logger } from "../util/mod.ts";
import { applyXattrMark, type BaseOf, recordGone, recordHash } from "./changes.ts";
import { lstat } from "../../ffi/libc/mod.ts";
import { Datadir } from "./datadir.ts";
import type { HashFileOptions, HashResult } from "./hash_pool.ts";
import { getFile, type IndexEntry, indexStats, pendingFiles, sameVersion } from "./index.ts";
import { Reconciler } from "./reconciler.ts";
import { Watcher, type WatchEvent, type WatchFactory, WatchLimitError } from "./watcher.ts";

const log = logger("real");

/** Pending files read per query by the hashing loop. */
const PENDING_BATCH = 256;
/** A file modified less than this long before it was hashed is hashed again later. */
export const RACY_WINDOW_MS = 20;
/** How long to wait before hashing again a file that could not be read. */
const HASH_RETRY_MS = 30_000;
/**
 * Files in flight in the hash pool per hasher: enough queued for the pool to hand each
 * worker a batch of small files per message (its worker count still bounds parallelism).
 */
const HASH_JOBS_PER_HASHER = 32;
/** Most hashes recorded in one transaction. */
const HASHES_PER_COMMIT = 256;
/** Longest a finished hash waits to be recorded. */
const HASH_COMMIT_DELAY_MS = 10;
/** Full-scan interval when inotify cannot watch the tree. */
export const POLL_INTERVAL_MS_DEFAULT = 60_000;
/** How long events are gathered before a batch is handled. */
const COALESCE_MS = 10;
/** Progress lines during long work, at most this often. */
const PROGRESS_EVERY_MS = 5_000;

/** Options of a {@linkcode RealArena}. */
export interface RealArenaOptions {
  /** The arena's name, for logs. */
  readonly name: string;
  /** The arena database (schemas: index, history, marks). */
  readonly db: Database;
  /** Absolute path of the datadir. */
  readonly datadir: string;
  /** Absolute paths never to index (the global database when inside the datadir). */
  readonly excluded?: readonly string[];
  /**
   * The datadir is an overlay's upper layer (the arena has a mountpoint): a file overlayfs
   * copied up as metadata only holds none of its content and is not indexed.
   */
  readonly overlayUpper?: boolean;
  /**
   * The version a new local file replaces (an arena under an overlay: the version shown
   * from a peer at its path), announced as `replace` of it instead of `add`.
   */
  readonly baseOf?: BaseOf;
  /** Wait after a file's last change before hashing it. */
  readonly debounceMs: number;
  /** The hash workers (a `HashPool`, shared by arenas). */
  readonly pool: FileHasher;
  /** How many files this arena hashes at once. */
  readonly hashersMax: number;
  /** Starts inotify; tests inject failures. */
  readonly watch?: WatchFactory;
  /** Full-scan interval when inotify is unavailable. */
  readonly pollIntervalMs?: number;
  /**
   * Where local files are parked before deletion (on the datadir's filesystem, e.g.
   * `<workdir>/trash`); without it they are deleted in place.
   */
  readonly trashDir?: string;
}

/** What hashes files for an arena: a `HashPool`, or a twin in tests. */
export interface FileHasher {
  /** Hashes a file (see `HashPool.hashFile`). */
  hashFile(path: string, options?: HashFileOptions): Promise<HashResult>;
}

/** What a {@linkcode RealArena} is doing. */
export interface RealStatus {
  /** `scanning` during the catch-up, then `watching` (inotify) or `polling`. */
  readonly state: "starting" | "scanning" | "watching" | "polling" | "stopped";
  /** Indexed files. */
  readonly files: number;
  /** Files waiting for their hash. */
  readonly pending: number;
  /** Files handed to the hash pool (hashing or queued there). */
  readonly hashing: number;
}

/** One arena's datadir, indexed and watched. */
export class RealArena {
  readonly #o: RealArenaOptions;
  readonly #dir: Datadir;
  readonly #rec: Reconciler;
  readonly #stop = new AbortController();
  readonly #events: WatchEvent[] = [];
  readonly #notBefore = new Map<Path, number>();
  readonly #hashing = new Map<Path, Promise<void>>();
  #state: RealStatus["state"] = "starting";
  #stopping: Promise<void> | null = null;
  #watcher: Watcher | null = null;
  readonly #sleepers = new Set<() => void>();
  #loops: Promise<unknown>[] = [];
  #busy = 0;
  /** Hashes computed but not yet recorded (still pending in the database). */
  readonly #hashed = new Map<Path, { entry: IndexEntry; hash: Hash }>();
  #flushTimer: ReturnType<typeof setTimeout> | undefined;

  /** @param options see {@linkcode RealArenaOptions} */
  constructor(options: RealArenaOptions) {
    this.#o = options;
    this.#stop.signal.addEventListener("abort", () => this.#wake(), { once: true });
    this.#dir = new Datadir(options.datadir, options.excluded ?? [], {
      overlayUpper: options.overlayUpper ?? false,
    });
    this.#rec = new Reconciler(options.db, this.#dir, options.baseOf);
  }

  /** The datadir. */
  get datadir(): Datadir {
    return this.#dir;
  }

  /**
   * Starts watching, catches up with the datadir, then keeps up with live changes.
   * Resolves when the catch-up scan is done (hashing continues in the background).
   *
   * @throws {Error} when the datadir cannot be scanned
   */
  async start(): Promise<void> {
    this.#startWatching();
    this.#state = "scanning";
    this.#busy++;
    try {
      await this.#scan(paths.ROOT);
    } catch (error) {
      await this.stop();
      throw error;
    } finally {
      this.#busy--;
    }
    if (this.#stop.signal.aborted) return; // stopped as the scan ended: nothing to run
    this.#state = this.#watcher === null ? "polling" : "watching";
    this.#loops = [this.#eventLoop(), this.#hashLoop()];
    if (this.#watcher === null) this.#loops.push(this.#pollLoop());
  }

  #startWatching(): void {
    try {
      this.#watcher = new Watcher(this.#dir, (e) => this.#push(e), this.#o.watch);
    } catch (error) {
      if (!(error instanceof WatchLimitError)) throw error;
      const every = (this.#o.pollIntervalMs ?? POLL_INTERVAL_MS_DEFAULT) / 1000;
      log.warn(`${this.#o.name}: ${error.message}; scanning every ${every} s instead`);
    }
  }

  #push(e: WatchEvent): void {
    this.#events.push(e);
    this.#wake();
  }

  #wake(): void {
    const sleepers = [...this.#sleepers];
    this.#sleepers.clear();
    for (const s of sleepers) s();
  }

  /** Resolves at the next wake-up, or after `ms`. */
  #sleep(ms: number | null): Promise<void> {
    if (this.#stop.signal.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        this.#sleepers.delete(wake);
        resolve();
      };
      const timer = ms === null ? undefined : setTimeout(wake, Math.max(0, ms));
      this.#sleepers.add(wake);
    });
  }

  async #scan(root: Path): Promise<void> {
    const started = Date.now();
    let reported = started;
    const done = await this.#rec.scanTree(root, {
      signal: this.#stop.signal,
      onProgress: (p) => {
        if (Date.now() - reported < PROGRESS_EVERY_MS) return;
        reported = Date.now();
        log.info(`${this.#o.name}: scanning: ${p.entries} entries in ${p.dirs} directories`);
      },
    });
    const ms = Date.now() - started;
    log.debug(`${this.#o.name}: scanned "${root}": ${done.entries} entries in ${ms} ms`);
    this.#wake();
  }

  async #eventLoop(): Promise<void> {
    while (!this.#stop.signal.aborted) {
      if (this.#events.length === 0) {
        await this.#sleep(null);
        continue;
      }
      // inotify reports a rename as "remove old", "rename new", then the pair: wait for the
      // pair so the batch sees all three.
      await new Promise((r) => setTimeout(r, COALESCE_MS));
      const batch = this.#events.splice(0);
      this.#busy++;
      try {
        await this.#handle(batch);
      } catch (error) {
        if (this.#stop.signal.aborted) return;
        log.error(`${this.#o.name}: cannot apply local changes; rescanning`, error);
        this.#events.push({ kind: "rescan" });
      } finally {
        this.#busy--;
      }
      this.#wake();
    }
  }

  async #handle(batch: WatchEvent[]): Promise<void> {
    if (batch.some((e) => e.kind === "rescan")) return await this.#scan(paths.ROOT);
    const toScan: Path[] = [];
    const now = Date.now();
    // Renames first: the checks that accompany them then find everything in place.
    for (const e of batch) {
      if (e.kind !== "rename") continue;
      const dir = this.#rec.renamed(e.from, e.to);
      if (dir !== null) toScan.push(dir);
      this.#notBefore.set(e.to, now + this.#o.debounceMs);
    }
    const checked = new Set<Path>();
    for (const e of batch) {
      if (e.kind !== "check" || checked.has(e.path)) continue;
      checked.add(e.path);
      if (e.path === paths.ROOT) {
        this.#o.db.write((tx) => applyXattrMark(tx, paths.ROOT, this.#dir.readMark(paths.ROOT)));
        continue;
      }
      const dir = this.#rec.checkPath(e.path);
      if (dir !== null) toScan.push(dir);
      this.#notBefore.set(e.path, now + this.#o.debounceMs);
    }
    for (const dir of toScan) await this.#scan(dir);
  }

  async #pollLoop(): Promise<void> {
    const every = this.#o.pollIntervalMs ?? POLL_INTERVAL_MS_DEFAULT;
    while (!this.#stop.signal.aborted) {
      await new Promise((r) => setTimeout(r, every));
      if (!this.#stop.signal.aborted) this.#push({ kind: "rescan" });
    }
  }

  async #hashLoop(): Promise<void> {
    let after = "";
    let reported = Date.now();
    while (!this.#stop.signal.aborted) {
      const batch = this.#o.db.read((tx) => pendingFiles(tx, after, PENDING_BATCH));
      let next: number | null = null;
      for (const e of batch) {
        after = e.path;
        const due = this.#notBefore.get(e.path) ?? 0;
        if (this.#hashing.has(e.path) || this.#hashed.has(e.path)) continue;
        if (due > Date.now()) {
          next = Math.min(next ?? Infinity, due);
          continue;
        }
        const inFlightMax = this.#o.hashersMax * HASH_JOBS_PER_HASHER;
        while (this.#hashing.size >= inFlightMax && !this.#stop.signal.aborted) {
          await this.#sleep(null); // each job's end wakes it (a race over them all is O(n))
        }
        if (this.#stop.signal.aborted) return;
        const job = this.#hashOne(e).finally(() => {
          this.#hashing.delete(e.path);
          this.#wake();
        });
        this.#hashing.set(e.path, job);
      }
      if (Date.now() - reported > PROGRESS_EVERY_MS) {
        reported = Date.now();
        const s = this.status();
        if (s.pending > 0) log.info(`${this.#o.name}: hashing: ${s.pending} files to go`);
      }
      if (batch.length < PENDING_BATCH) {
        after = "";
        await this.#sleep(next === null ? null : next - Date.now());
      }
    }
  }

  async #hashOne(e: IndexEntry): Promise<void> {
    const before = this.#dir.stat(e.path, true);
    if (before.kind !== "file" || !sameVersion(before.version, e)) {
      this.#push({ kind: "check", path: e.path }); // changed since it was recorded
      return;
    }
    const started = Date.now();
    let hash;
    try {
      const r = await this.#o.pool.hashFile(this.#dir.abs(e.path), { signal: this.#stop.signal });
      if (r.bytesRead !== e.size) throw new Error(`read ${r.bytesRead} of ${e.size} bytes`);
      hash = r.hash;
    } catch (error) {
      if (this.#stop.signal.aborted) return;
      log.warn(`${this.#o.name}: cannot hash "${e.path}"; looking again`, error);
      this.#notBefore.set(e.path, Date.now() + HASH_RETRY_MS);
      this.#push({ kind: "check", path: e.path });
      return;
    }
    const after = this.#dir.stat(e.path, true);
    // ctime, unlike mtime, cannot be set by users: a file whose last change is this
    // close to the read may have changed again within the same coarse clock tick.
    const racy = before.changedMs >= started - RACY_WINDOW_MS;
    if (after.kind !== "file" || !sameVersion(after.version, e) || racy) {
      this.#notBefore.set(e.path, Date.now() + RACY_WINDOW_MS);
      this.#push({ kind: "check", path: e.path });
      return;
    }
    this.#notBefore.delete(e.path);
    this.#hashed.set(e.path, { entry: e, hash });
    if (this.#hashed.size >= HASHES_PER_COMMIT) this.#flushHashes();
    else this.#flushTimer ??= setTimeout(() => this.#flushHashes(), HASH_COMMIT_DELAY_MS);
  }

  /** Records finished hashes, many per transaction (one commit per file is the bottleneck). */
  #flushHashes(): void {
    clearTimeout(this.#flushTimer);
    this.#flushTimer = undefined;
    const done = [...this.#hashed.values()];
    this.#hashed.clear();
    if (done.length === 0 || this.#o.db.closed) return;
    this.#o.db.write((tx) => {
      for (const { entry, hash } of done) recordHash(tx, entry.path, entry, hash, this.#o.baseOf);
    });
    this.#wake();
  }

  /**
   * Deletes a local file that a peer deleted (`remove`) or replaced with a newer version
   * (`drop`), only if it is still exactly version `hash` as indexed. The index and the
   * history change first; the file is then moved to the trash directory (same filesystem
   * as the datadir), checked once more, and deleted — or put back if it changed in the
   * meantime, in which case it is indexed again as a new file. Nothing a user wrote is
   * ever deleted.
   *
   * @param path the file
   * @param hash the version it must be
   * @param kind `remove` (a peer deleted it) or `drop` (a newer version exists)
   * @returns true when the file was deleted
   */
  async deleteLocal(path: Path, hash: Hash, kind: "drop" | "remove"): Promise<boolean> {
    const entry = this.#o.db.read((tx) => getFile(tx, path));
    const found = this.#dir.stat(path, true);
    if (entry?.hash?.equals(hash) !== true) return false;
    if (found.kind !== "file" || !sameVersion(found.version, entry)) return false;
    if (!this.#o.db.write((tx) => recordGone(tx, path, hash, kind))) return false;
    const trash = this.#o.trashDir;
    if (trash === undefined) {
      await Deno.remove(this.#dir.abs(path)).catch(() => {});
      return true;
    }
    await Deno.mkdir(trash, { recursive: true });
    const parked = `${trash}/${crypto.randomUUID()}`;
    try {
      await Deno.rename(this.#dir.abs(path), parked);
    } catch {
      return true; // gone already
    }
    const moved = lstat(parked);
    const same = moved !== null && moved.ino === entry.ino && moved.size === entry.size &&
      moved.mtimeSecs === entry.mtime.secs && moved.mtimeNsecs === entry.mtime.nsecs;
    if (!same) {
      // Written to between the check and the move: put it back; it is indexed anew.
      await Deno.rename(parked, this.#dir.abs(path));
      this.#push({ kind: "check", path });
      return false;
    }
    await Deno.remove(parked);
    return true;
  }

  /**
   * What the arena is doing.
   *
   * @returns state and counts
   */
  status(): RealStatus {
    const s = this.#o.db.read((tx) => indexStats(tx));
    return { state: this.#state, files: s.files, pending: s.pending, hashing: this.#hashing.size };
  }

  /**
   * Whether nothing is left to do: no queued events, no scan, no pending file.
   *
   * @returns true when idle
   */
  idle(): boolean {
    return this.#events.length === 0 && this.#busy === 0 && this.#hashing.size === 0 &&
      this.#hashed.size === 0 && this.status().pending === 0;
  }

  /**
   * Stops watching and hashing (a catch-up scan under way too); resolves when every loop
   * has ended. Idempotent: every call waits for the same stop.
   */
  stop(): Promise<void> {
    this.#stopping ??= this.#stopNow();
    return this.#stopping;
  }

  async #stopNow(): Promise<void> {
    this.#state = "stopped";
    this.#stop.abort();
    this.#wake();
    await this.#watcher?.close();
    await Promise.allSettled([...this.#loops, ...this.#hashing.values()]);
    this.#flushHashes();
  }
}
