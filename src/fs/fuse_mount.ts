/**
 * The FUSE mount, from the main thread: starts the FUSE worker, answers its remote reads,
 * forwards cache invalidations, and unmounts. A stale mount left by a killed daemon is
 * cleared first; a missing `/dev/fuse`, a missing libfuse, a missing or busy mountpoint
 * each fail with a clear error.
 *
 * @module
 */

import { abortDevice, holdFuse3 } from "../../ffi/fuse3/mod.ts";
import { MNT, mountDevice, mountedAt, umount } from "../../ffi/libc/mod.ts";
import type { ArenaName, Mark } from "../types/mod.ts";
import { currentLogSettings, describeError, logger } from "../util/mod.ts";
import { ERRNO, errnoOf } from "./errno.ts";
import type { WorkerConfig, WorkerIn, WorkerOut } from "./fuse_worker.ts";
import type { RemoteReader } from "./remote_reader.ts";
import { WorkerWrites } from "./worker_writes.ts";

const log = logger("fuse");

/** Seconds the kernel may cache attributes and entries (remote changes are invalidated). */
export const TTL_SECONDS_DEFAULT = 1;
/**
 * The kernel's read-ahead for the mount, in KiB (its default is 128). Sequential readers
 * then ask in 1 MiB requests, the most a FUSE request carries (libfuse's `max_pages` 256),
 * instead of 128 KiB ones: a quarter of the round trips to the worker (measured: warm
 * re-reads 0.8 → 1.1 GB/s).
 */
export const READ_AHEAD_KIB = 1024;
/**
 * How long the blob store waits for the worker's cached reads in flight before it punches
 * (a read takes well under a millisecond; a stuck worker must not stop the daemon).
 */
const FENCE_WAIT_MS = 1000;

/** Options of {@linkcode FuseMount.start}. */
export interface FuseMountOptions {
  readonly mountpoint: string;
  readonly globalDb: string;
  readonly arenas: readonly {
    name: ArenaName;
    workdir: string;
    datadir: string | null;
    mark: Mark;
  }[];
  readonly reader: RemoteReader;
  readonly ttlSeconds?: number;
  /** Let other users see the mount (root only, or `user_allow_other`). */
  readonly allowOther?: boolean;
}

/** A mounted realize filesystem. */
export class FuseMount {
  readonly mountpoint: string;
  readonly #worker: Worker;
  readonly #reader: RemoteReader;
  /** Cached reads in flight in the worker (`RealizeFsOptions.readers`). */
  readonly #readers: Int32Array;
  /** Blob writes the worker does for the blob stores. */
  readonly #writes: WorkerWrites;
  #stopped: Promise<void> | null = null;
  #alive = true;
  #passthrough = false;
  /** The worker's FUSE device descriptor once mounted (see `abortDevice`), else -1. */
  #device = -1;

  private constructor(
    mountpoint: string,
    worker: Worker,
    reader: RemoteReader,
    readers: Int32Array,
  ) {
    this.mountpoint = mountpoint;
    this.#worker = worker;
    this.#reader = reader;
    this.#readers = readers;
    this.#writes = new WorkerWrites((m) => {
      if (this.#alive) this.#worker.postMessage(m);
      else this.#writes.fail(new Error("the FUSE worker stopped"));
    }, () => Atomics.load(readers, 1));
  }

  /**
   * Whether the kernel agreed to passthrough: complete, verified blobs are then read by
   * the kernel itself, not through the worker.
   */
  get passthrough(): boolean {
    return this.#passthrough;
  }

  /** Reads of blob files in flight in the worker (0 when idle; for tests and checks). */
  get readsInFlight(): number {
    return Atomics.load(this.#readers, 0);
  }

  /** Whether the worker still serves the mount. */
  get mounted(): boolean {
    return this.#alive && mountedAt(this.mountpoint) !== null;
  }

  /**
   * Mounts the realize filesystem.
   *
   * @param options see {@linkcode FuseMountOptions}
   * @returns the mount
   * @throws {Error} with a clear message when it cannot mount
   */
  static async start(options: FuseMountOptions): Promise<FuseMount> {
    checkMountable(options.mountpoint);
    holdFuse3(); // mapped for good, even if the worker dies (see holdFuse3)
    const worker = new Worker(new URL("./fuse_worker.ts", import.meta.url), { type: "module" });
    const config: WorkerConfig = {
      mountpoint: options.mountpoint,
      globalDb: options.globalDb,
      arenas: options.arenas,
      ttlSeconds: options.ttlSeconds ?? TTL_SECONDS_DEFAULT,
      uid: Deno.uid() ?? 0,
      gid: Deno.gid() ?? 0,
      allowOther: options.allowOther ?? Deno.uid() === 0,
      readers: new SharedArrayBuffer(8),
      passthrough: Deno.env.get("REALIZE_FUSE_PASSTHROUGH") !== "0",
      log: (() => {
        const s = currentLogSettings();
        return { defaultLevel: s.defaultLevel, levels: [...s.levels], format: s.format };
      })(),
    };
    const readers = new Int32Array(config.readers);
    const m = new FuseMount(options.mountpoint, worker, options.reader, readers);
    const ready = Promise.withResolvers<void>();
    worker.onmessage = (e: MessageEvent<WorkerOut>) => m.#onMessage(e.data, ready);
    worker.onerror = (e) => {
      e.preventDefault();
      m.#alive = false;
      m.#detachReader(); // nothing reads blobs there any more
      log.error(`the FUSE worker failed: ${e.message}`);
      m.#abort();
      ready.reject(new Error(`FUSE worker failed: ${e.message}`));
    };
    worker.postMessage({ type: "start", config } satisfies WorkerIn);
    try {
      await ready.promise;
    } catch (error) {
      worker.terminate();
      throw new Error(`Cannot mount the realize filesystem on "${options.mountpoint}"`, {
        cause: error,
      });
    }
    setReadAhead(options.mountpoint, READ_AHEAD_KIB);
    options.reader.setReaderFence({
      invalidate: () => void Atomics.add(readers, 1, 1),
      wait: () => waitForReaders(readers),
    });
    options.reader.setBlobWriter((arena) => m.#writes.for(arena));
    options.reader.setFetchListener((arena, hash, range, over) =>
      m.#post({
        type: over ? "fetched" : "fetching",
        arena,
        hash: hash.toString(),
        start: range.start,
        end: range.end,
      })
    );
    log.info(`mounted on ${options.mountpoint}`);
    return m;
  }

  #onMessage(m: WorkerOut, ready: PromiseWithResolvers<void>): void {
    switch (m.type) {
      case "mounted":
        this.#passthrough = m.passthrough;
        this.#device = m.device;
        return ready.resolve();
      case "error":
        return ready.reject(new Error(m.message));
      case "log":
        // The worker's lines, already formatted.
        Deno.stderr.writeSync(new TextEncoder().encode(m.line + "\n"));
        return;
      case "read":
        void this.#read(m);
        return;
      case "written":
        this.#writes.written(m.id, m.errno);
        return;
      case "touch":
        try {
          const { hits, ahead, passthrough, ...req } = m;
          const note = { hits, ahead, passthrough: passthrough === true };
          this.#reader.touch({ ...req, arena: m.arena as ArenaName }, note);
        } catch (error) {
          log.debug(`cannot touch ${m.arena}/${m.path}: ${describeError(error)}`);
        }
        return;
      case "stopped":
        return;
    }
  }

  async #read(m: Extract<WorkerOut, { type: "read" }>): Promise<void> {
    const req = {
      arena: m.arena as ArenaName,
      path: m.path as never,
      hash: m.hash,
      size: m.size,
      offset: m.offset,
      length: m.length,
    };
    try {
      let bytes = m.copy === true ? null : await this.#reader.ensure(req);
      if (bytes === null && m.copy !== true && this.#reader.holds(req) && this.#alive) {
        // In the blob now: the worker reads it there. Counted as a read in flight for
        // it (the blob store waits for it before punching), until it has replied.
        Atomics.add(this.#readers, 0, 1);
        this.#post({ type: "readResult", id: m.id, stored: true });
        return;
      }
      bytes ??= await this.#reader.read(req);
      // Only bytes the blob could not hold come this way; transferred (a profile shows
      // Deno copying them all the same).
      const whole = bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength;
      const owned = whole ? bytes : bytes.slice();
      this.#post({ type: "readResult", id: m.id, bytes: owned }, [owned.buffer as ArrayBuffer]);
    } catch (error) {
      const errno = errnoOf(error);
      if (errno === ERRNO.EIO) log.warn(`read of ${m.arena}/${m.path} failed`, error);
      this.#post({ type: "readResult", id: m.id, errno });
    }
  }

  /** The reader and its blob stores stop telling the worker and waiting for it. */
  #detachReader(): void {
    this.#reader.setReaderFence(null);
    this.#reader.setBlobWriter(null);
    this.#reader.setFetchListener(null);
    this.#writes.fail(new Error("the FUSE worker stopped"));
  }

  #post(m: WorkerIn, transfer: Transferable[] = []): void {
    if (this.#alive) this.#worker.postMessage(m, transfer);
  }

  /**
   * Drops the kernel's cached data of changed entries.
   *
   * @param inodes inodes whose attributes or content changed
   * @param entries `[parent inode, name]` of names that appeared, vanished or changed
   */
  invalidate(inodes: readonly number[], entries: readonly [number, string][]): void {
    if (inodes.length > 0 || entries.length > 0) {
      this.#post({ type: "invalidate", inodes, entries });
    }
  }

  /**
   * After the worker died: its requests would wait for good, and every program touching the
   * mount with them. Closing its device makes the kernel fail them all (ENOTCONN), and the
   * mount is detached: the mountpoint shows the empty directory beneath until the daemon
   * stops (`/health` says the mount is broken).
   */
  #abort(): void {
    if (this.#device < 0) return;
    abortDevice(this.#device);
    this.#device = -1;
    try {
      umount(this.mountpoint, MNT.DETACH);
    } catch (error) {
      log.warn(`cannot detach ${this.mountpoint}: ${describeError(error)}`);
    }
    log.error(`${this.mountpoint} detached: its readers get errors instead of waiting`);
  }

  /** Tests only: the worker throws from its event loop, as a bug would, and dies. */
  failWorkerForTest(): void {
    this.#worker.postMessage({ type: "fail" } satisfies WorkerIn);
  }

  /** Unmounts (waiting for pending replies) and stops the worker. Idempotent. */
  unmount(): Promise<void> {
    this.#stopped ??= this.#unmount();
    return this.#stopped;
  }

  async #unmount(): Promise<void> {
    // The worker closes its device now: the number may soon name another file of ours.
    this.#device = -1;
    if (this.#alive) {
      const stopped = new Promise<void>((resolve) => {
        const prev = this.#worker.onmessage;
        this.#worker.onmessage = (e: MessageEvent<WorkerOut>) => {
          if (e.data.type === "stopped") resolve();
          else prev?.call(this.#worker, e);
        };
      });
      this.#post({ type: "stop" });
      await Promise.race([stopped, new Promise((r) => setTimeout(r, 10_000))]);
    }
    this.#alive = false;
    this.#worker.terminate();
    this.#detachReader();
    if (mountedAt(this.mountpoint) !== null) {
      try {
        umount(this.mountpoint, MNT.DETACH);
      } catch (error) {
        log.warn(`cannot detach ${this.mountpoint}: ${describeError(error)}`);
      }
    }
    log.info(`unmounted ${this.mountpoint}`);
  }
}

/** Waits (bounded) until the worker has no cached read in flight (`BlobStore.setReaderFence`). */
function waitForReaders(readers: Int32Array): void {
  const deadline = performance.now() + FENCE_WAIT_MS;
  for (;;) {
    const n = Atomics.load(readers, 0);
    if (n === 0) return;
    if (performance.now() > deadline) {
      log.warn(`the FUSE worker has held a cached read for ${FENCE_WAIT_MS} ms; going on`);
      return;
    }
    Atomics.wait(readers, 0, n, 1);
  }
}

/** Sets the read-ahead of the mount's backing device; best effort (needs root). */
function setReadAhead(mountpoint: string, kib: number): void {
  const device = mountDevice(mountpoint);
  if (device === null) return;
  try {
    Deno.writeTextFileSync(`/sys/class/bdi/${device}/read_ahead_kb`, `${kib}`);
  } catch (error) {
    log.debug(`cannot set the read-ahead of ${mountpoint}: ${describeError(error)}`);
  }
}

/** Clear errors before libfuse prints its own; clears a stale mount of a killed daemon. */
function checkMountable(mountpoint: string): void {
  try {
    Deno.statSync("/dev/fuse");
  } catch {
    throw new Error("Cannot mount FUSE: /dev/fuse is missing (load the fuse module)");
  }
  const existing = mountedAt(mountpoint);
  if (existing !== null) {
    if (!existing.startsWith("fuse")) {
      throw new Error(`Cannot mount on "${mountpoint}": ${existing} is mounted there (busy)`);
    }
    log.warn(`clearing a stale FUSE mount on ${mountpoint} (a previous daemon was killed)`);
    umount(mountpoint, MNT.DETACH);
  }
  let st: Deno.FileInfo;
  try {
    st = Deno.statSync(mountpoint);
  } catch (cause) {
    throw new Error(`Cannot mount on "${mountpoint}": the directory does not exist`, { cause });
  }
  if (!st.isDirectory) throw new Error(`Cannot mount on "${mountpoint}": not a directory`);
}
