/**
 * The daemon (DESIGN §4.3): every arena's real and unreal, the household, the FUSE mount
 * and the control endpoint, started and stopped in order.
 *
 * Start: databases → control endpoint (so `realize status` answers during a long scan) →
 * each arena's catch-up scan → household → FUSE. Stop, the reverse: control, FUSE
 * (pending replies drained, unmounted), household, watchers and hashers, caches, databases.
 *
 * @module
 */

import type { ArenaConfig, Config, HostPort } from "../config/mod.ts";
import { type ControlServer, readControlToken, serveControl } from "../control/mod.ts";
import { DeltaPool } from "../delta/mod.ts";
import { FuseMount, RemoteReader } from "../fs/mod.ts";
import type { KeyPair } from "../keys/mod.ts";
import { Household } from "../net/mod.ts";
import { HashPool, RealArena, trimHistory } from "../real/mod.ts";
import {
  type Database,
  GLOBAL_INODE_SCHEMA,
  openArenaDatabase,
  openGlobalDatabase,
} from "../storage/mod.ts";
import type { ArenaName, Path, PeerName } from "../types/mod.ts";
import {
  ARENA_SCHEMAS,
  GLOBAL_TREE_SCHEMA,
  nodeByPath,
  shownHash,
  UnrealArena,
} from "../unreal/mod.ts";
import { describeError, logger } from "../util/mod.ts";
import { VERSION } from "../version.ts";
import { DaemonControl } from "./control_api.ts";

const log = logger("daemon");

/** How often caches are brought back under their quota (others fill the disk too). */
export const CACHE_ENFORCE_MS = 60_000;
/** How often the history is trimmed. */
export const HISTORY_TRIM_MS = 10 * 60_000;

/** Options of {@linkcode Daemon.start}. */
export interface DaemonOptions {
  readonly config: Config;
  /** This peer's keys, or `null` to run without the network. */
  readonly keys: KeyPair | null;
  /** Where to listen for peers (`--address` or `[network] address`), or `null`. */
  readonly listen: HostPort | null;
  /** Where to mount the FUSE view (`--fuse`), or `null`. */
  readonly fuse: string | null;
  /** Shorter connection tunables in tests. */
  readonly backoff?: { initialMs: number; maxMs: number };
  /**
   * Stops a start under way (a signal while a catch-up scan runs or the mount comes up):
   * the step running ends or finishes, what was started is stopped again, and `start`
   * rejects with the signal's reason. Nothing is left mounted.
   */
  readonly signal?: AbortSignal;
}

/** One arena, running. */
export interface RunningArena {
  readonly config: ArenaConfig;
  readonly db: Database;
  readonly real: RealArena | null;
  readonly unreal: UnrealArena;
}

/** A running daemon. */
export class Daemon {
  readonly options: DaemonOptions;
  readonly startedAt = Date.now();
  readonly arenas = new Map<ArenaName, RunningArena>();
  globalDb: Database | null = null;
  household: Household | null = null;
  mount: FuseMount | null = null;
  reader: RemoteReader | null = null;
  #control: ControlServer | null = null;
  #hashes: HashPool | null = null;
  #deltas: DeltaPool | null = null;
  #timers: ReturnType<typeof setInterval>[] = [];
  #stopping: Promise<void> | null = null;

  private constructor(options: DaemonOptions) {
    this.options = options;
  }

  /**
   * Starts everything. On failure, what was started is stopped again.
   *
   * @param options see {@linkcode DaemonOptions}
   * @returns the running daemon
   * @throws {Error} the first failure, with its cause
   */
  static async start(options: DaemonOptions): Promise<Daemon> {
    const d = new Daemon(options);
    try {
      await d.#start();
    } catch (error) {
      await d.stop().catch((e) => log.warn("stopping after a failed start", e));
      throw error;
    }
    return d;
  }

  async #start(): Promise<void> {
    const { signal } = this.options;
    signal?.throwIfAborted();
    // A catch-up scan can take minutes: stopping an arena ends its scan.
    const endScans = () => this.arenas.forEach((a) => void a.real?.stop());
    signal?.addEventListener("abort", endScans, { once: true });
    try {
      await this.#startSteps(signal);
    } catch (error) {
      throw signal?.aborted ? signal.reason : error; // an ended scan's error is the stop
    } finally {
      signal?.removeEventListener("abort", endScans);
    }
  }

  async #startSteps(signal: AbortSignal | undefined): Promise<void> {
    const { config } = this.options;
    this.globalDb = openGlobalDatabase(config.cache.db, {
      schemas: [GLOBAL_INODE_SCHEMA, GLOBAL_TREE_SCHEMA],
    });
    const hashers = Math.max(1, ...config.arenas.map((a) => a.maxParallelHashers ?? 0));
    this.#hashes = new HashPool({ workers: Math.min(hashers, navigator.hardwareConcurrency) });
    this.#deltas = new DeltaPool({});
    for (const a of config.arenas) this.#openArena(a);
    const token = config.control.tokenFile === null
      ? null
      : await readControlToken(config.control.tokenFile);
    this.#control = await serveControl({
      socket: config.control.socket,
      http: config.control.http,
      token,
      api: new DaemonControl(this),
    });
    for (const a of this.arenas.values()) {
      signal?.throwIfAborted();
      await a.real?.start();
    }
    signal?.throwIfAborted();
    if (this.options.keys !== null) await this.#startHousehold(this.options.keys);
    else if (config.peers.length > 0) log.warn("no private key: not connecting to peers");
    signal?.throwIfAborted();
    if (this.options.fuse !== null) await this.#mountFuse(this.options.fuse);
    signal?.throwIfAborted();
    this.#timers.push(setInterval(() => this.#enforceCaches(), CACHE_ENFORCE_MS));
    this.#timers.push(setInterval(() => this.#trimHistories(), HISTORY_TRIM_MS));
    log.info(`realize ${VERSION} running: ${this.arenas.size} arena(s), pid ${Deno.pid}`);
  }

  #openArena(a: ArenaConfig): void {
    const { config } = this.options;
    const db = openArenaDatabase(a.workdir, a.name, { schemas: ARENA_SCHEMAS });
    const unreal = UnrealArena.open({
      name: a.name,
      db,
      globalDb: this.globalDb!,
      workdir: a.workdir,
      diskUsage: a.diskUsage,
      // Verifying a downloaded blob reads all of it: in the pool, never on this thread.
      hashFile: (path, options) => this.#hashes!.hashFile(path, options),
    });
    // Never index our own files when they sit inside a datadir.
    const db0 = config.cache.db;
    const excluded = [db0, `${db0}-wal`, `${db0}-shm`, ...config.arenas.map((x) => x.workdir)];
    const real = a.datadir === null ? null : new RealArena({
      name: a.name,
      db,
      datadir: a.datadir,
      excluded,
      overlayUpper: a.mountpoint !== null,
      // Under an overlay a new file at a remote file's path is that file, edited.
      ...(a.mountpoint === null ? {} : { baseOf: shownHash }),
      debounceMs: a.debounceMs,
      pool: this.#hashes!,
      hashersMax: a.maxParallelHashers ?? navigator.hardwareConcurrency,
      trashDir: `${a.workdir}/trash`,
    });
    this.arenas.set(a.name, { config: a, db, real, unreal });
  }

  async #startHousehold(keys: KeyPair): Promise<void> {
    const { config } = this.options;
    const arenas = new Map([...this.arenas].map(([name, a]) => [name, {
      db: a.db,
      datadir: a.config.datadir,
      unreal: a.unreal,
      real: a.real,
      mark: a.config.mark,
    }]));
    this.household = await Household.start({
      keys,
      peers: config.peers,
      listen: this.options.listen,
      arenas,
      software: `realize ${VERSION}`,
      deltas: this.#deltas!,
      ...(this.options.backoff === undefined ? {} : { backoff: this.options.backoff }),
      onApplied: (applied) => this.#invalidate(applied.arena, applied.paths),
    });
  }

  async #mountFuse(mountpoint: string): Promise<void> {
    const readable = new Map([...this.arenas].map(([name, a]) => [name, {
      unreal: a.unreal,
      mark: a.config.mark,
    }]));
    this.reader = new RemoteReader(readable, () => this.household);
    this.mount = await FuseMount.start({
      mountpoint,
      globalDb: this.options.config.cache.db,
      arenas: [...this.arenas.values()].map((a) => ({
        name: a.config.name,
        workdir: a.config.workdir,
        datadir: a.config.datadir,
        mark: a.config.mark,
      })),
      reader: this.reader,
    });
  }

  /** Drops the kernel's caches of paths a peer changed. */
  #invalidate(arena: ArenaName, touched: readonly Path[]): void {
    const a = this.arenas.get(arena);
    if (this.mount === null || a === undefined || touched.length === 0) return;
    const inodes: number[] = [];
    const entries: [number, string][] = [];
    a.db.read((tx) => {
      for (const path of touched) {
        const node = nodeByPath(tx, path);
        if (node === null) continue;
        inodes.push(node.ino);
        if (node.parent !== null) {
          entries.push([node.parent, path.slice(path.lastIndexOf("/") + 1)]);
        }
      }
    });
    this.mount.invalidate(inodes, entries);
  }

  async #enforceCaches(): Promise<void> {
    for (const a of this.arenas.values()) {
      await a.unreal.blobs.enforce().catch((e) => log.warn(`${a.config.name}: cache cleaner`, e));
    }
  }

  #trimHistories(): void {
    const peers = this.options.config.peers.map((p) => p.name as PeerName);
    for (const a of this.arenas.values()) {
      try {
        const r = a.db.write((tx) => trimHistory(tx, peers, a.config.history));
        if (r.lagging.length > 0) {
          log.info(`${a.config.name}: ${r.lagging.join(", ")} will get a full catch-up`);
        }
      } catch (error) {
        log.warn(`${a.config.name}: cannot trim the history: ${describeError(error)}`);
      }
    }
  }

  /** Stops everything, in order. Idempotent. */
  stop(): Promise<void> {
    this.#stopping ??= this.#stop();
    return this.#stopping;
  }

  async #stop(): Promise<void> {
    for (const t of this.#timers) clearInterval(t);
    const step = async (what: string, fn: () => Promise<unknown> | unknown) => {
      try {
        await fn();
      } catch (error) {
        log.warn(`stopping: ${what} failed`, error);
      }
    };
    await step("control endpoint", () => this.#control?.close());
    await step("FUSE", () => this.mount?.unmount());
    await step("reader", () => this.reader?.close());
    await step("household", () => this.household?.stop());
    for (const a of this.arenas.values()) {
      await step(`${a.config.name} watcher`, () => a.real?.stop());
      await step(`${a.config.name} cache`, () => a.unreal.close());
      await step(`${a.config.name} database`, () => a.db.close());
    }
    await step("hashers", () => this.#hashes?.close());
    await step("delta workers", () => this.#deltas?.close());
    await step("global database", () => this.globalDb?.close());
    log.info("stopped");
  }
}
