/**
 * Hashes local files off the main thread, on a bounded pool of Workers.
 *
 * ```ts ignore
 * const pool = new HashPool({ workers: config.maxParallelHashers ?? 0 });
 * const { hash, size, bytesRead } = await pool.hashFile("/data/a.bin", { signal });
 * await pool.close();
 * ```
 *
 * The pool reports what it read; deciding whether the file changed meanwhile (size or
 * mtime before and after) is the caller's job. So is passing regular files: a FIFO is
 * rejected only once open() returns, which for a FIFO without a writer is never. A
 * `signal` (e.g. `AbortSignal.timeout`) bounds such waits: the pool terminates the worker,
 * though the OS thread blocked in open() or read() stays blocked until that call returns.
 *
 * @module
 */

import { Hash } from "../types/mod.ts";
import { assert } from "../util/mod.ts";
import type { HashReply, HashRequest } from "./hash_worker.ts";

/** Most jobs waiting for a worker; further {@linkcode HashPool.hashFile} calls wait for room. */
export const HASH_QUEUE_MAX = 4096;

/** Most workers in one pool (the same bound as `max_parallel_hashers`). */
export const HASH_WORKERS_MAX = 1024;

/** What {@linkcode HashPool.hashFile} found. */
export interface HashResult {
  /** BLAKE3 of the `bytesRead` bytes read. */
  readonly hash: Hash;
  /** The file's size when it was opened. */
  readonly size: number;
  /** Bytes read and hashed; differs from `size` when the file changed meanwhile. */
  readonly bytesRead: number;
}

/** Options of {@linkcode HashPool}. */
export interface HashPoolOptions {
  /** Most files hashed at once; 0 or absent means `navigator.hardwareConcurrency`. */
  readonly workers?: number;
}

/** Options of {@linkcode HashPool.hashFile}. */
export interface HashFileOptions {
  /** Aborting rejects the job with `signal.reason`, and stops its worker if it runs. */
  readonly signal?: AbortSignal;
}

interface Job {
  readonly id: number;
  readonly path: string;
  readonly resolve: (result: HashResult) => void;
  readonly reject: (error: unknown) => void;
  readonly signal: AbortSignal | undefined;
  onAbort: (() => void) | null;
  slot: Slot | null;
}

interface Slot {
  readonly worker: Worker;
  job: Job | null;
}

const WORKER_URL = new URL("./hash_worker.ts", import.meta.url);

function workerCount(workers: number | undefined): number {
  if (workers === undefined || workers === 0) {
    return Math.min(Math.max(navigator.hardwareConcurrency, 1), HASH_WORKERS_MAX);
  }
  if (!Number.isInteger(workers) || workers < 0 || workers > HASH_WORKERS_MAX) {
    const expected = `an integer from 0 to ${HASH_WORKERS_MAX}`;
    throw new RangeError(`Cannot create hash pool: workers must be ${expected}, got ${workers}`);
  }
  return workers;
}

/** Maps a worker's error report back to the `Deno.errors` class of the same name. */
function hashError(path: string, name: string, message: string): Error {
  const cause = new Error(message);
  cause.name = name;
  // "No such file or directory (os error 2): open '/x'" → "No such file or directory"
  const reason = message.replace(/ \(os error \d+\).*$/s, "");
  const errors = Deno.errors as unknown as Record<string, ErrorConstructor>;
  const Kind = Object.hasOwn(errors, name) ? errors[name]! : Error;
  return new Kind(`Cannot hash "${path}": ${name}: ${reason}`, { cause });
}

function untilRoom(room: Promise<void>, signal: AbortSignal | undefined): Promise<void> {
  if (signal === undefined) return room;
  return new Promise((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    void room.then(() => {
      signal.removeEventListener("abort", onAbort);
      resolve();
    });
  });
}

/**
 * A bounded pool of Workers hashing files with BLAKE3. Jobs beyond the worker count wait
 * in a FIFO queue of at most {@linkcode HASH_QUEUE_MAX}; a worker that dies or is stopped
 * by an abort is replaced when the next job needs one.
 */
export class HashPool {
  readonly #size: number;
  readonly #slots = new Set<Slot>();
  readonly #idle: Slot[] = [];
  readonly #queue: Job[] = [];
  #room = Promise.withResolvers<void>();
  #busy = 0;
  /** `#busy`, shared with the workers: they read ahead only while cores are to spare. */
  readonly #running = new Int32Array(new SharedArrayBuffer(4));
  #nextId = 1;
  #closed = false;

  /**
   * Makes a pool; workers start when the first jobs need them.
   *
   * @param options `workers`: most files hashed at once (0 or absent: one per CPU)
   * @throws {RangeError} when `workers` is not an integer from 0 to {@linkcode HASH_WORKERS_MAX}
   */
  constructor(options: HashPoolOptions = {}) {
    this.#size = workerCount(options.workers);
  }

  /**
   * Jobs running on a worker right now.
   *
   * @returns from 0 to the pool's worker count
   */
  get busy(): number {
    return this.#busy;
  }

  /**
   * Hashes a file's content. Waits for a worker, and first for room in the queue when
   * {@linkcode HASH_QUEUE_MAX} jobs already wait.
   *
   * @param path the file to read
   * @param options `signal` to give up; a running job's worker is stopped and replaced
   * @returns the hash, the size at open and the bytes read
   * @throws {Deno.errors.NotFound} (or another `Deno.errors` class, e.g. `PermissionDenied`,
   *   `IsADirectory`, `NotSupported` for a non-regular file) naming the path and the kind
   * @throws {Error} when the pool is closed, or the worker failed
   * @throws the signal's reason when `options.signal` aborts
   */
  async hashFile(path: string, options: HashFileOptions = {}): Promise<HashResult> {
    const { signal } = options;
    signal?.throwIfAborted();
    while (!this.#closed && this.#queue.length >= HASH_QUEUE_MAX) {
      await untilRoom(this.#room.promise, signal);
    }
    signal?.throwIfAborted(); // it may have aborted just as room came
    if (this.#closed) throw new Error(`Cannot hash "${path}": the hash pool is closed`);
    // No await between the check above and the push below: the room is still there.
    return await new Promise<HashResult>((resolve, reject) => {
      const job: Job = {
        id: this.#nextId++,
        path,
        resolve,
        reject,
        signal,
        onAbort: null,
        slot: null,
      };
      if (signal !== undefined) {
        job.onAbort = () => this.#abort(job);
        signal.addEventListener("abort", job.onAbort, { once: true });
      }
      this.#queue.push(job);
      this.#pump();
    });
  }

  /**
   * Stops every worker and rejects running and queued jobs, and later calls. Idempotent.
   *
   * @returns once all workers are terminated
   */
  close(): Promise<void> {
    this.#closed = true;
    for (const slot of [...this.#slots]) {
      const job = this.#retire(slot);
      if (job !== null) this.#settleClosed(job);
    }
    for (const job of this.#queue.splice(0)) this.#settleClosed(job);
    this.#signalRoom();
    assert(this.#busy === 0, "no job runs after close");
    return Promise.resolve();
  }

  #settleClosed(job: Job): void {
    this.#settle(job, new Error(`Cannot hash "${job.path}": the hash pool is closed`));
  }

  /** Starts queued jobs on idle or new workers, oldest first. */
  #pump(): void {
    let started = false;
    while (!this.#closed && this.#queue.length > 0) {
      const slot = this.#idle.pop() ?? (this.#slots.size < this.#size ? this.#spawn() : null);
      if (slot === null) break;
      const job = this.#queue.shift()!;
      assert(slot.job === null, "an idle worker has no job");
      slot.job = job;
      job.slot = slot;
      this.#addBusy(1);
      const request: HashRequest = { id: job.id, path: job.path, running: this.#running };
      slot.worker.postMessage(request);
      started = true;
    }
    if (started) this.#signalRoom();
  }

  #spawn(): Slot {
    const worker = new Worker(WORKER_URL, { type: "module" });
    const slot: Slot = { worker, job: null };
    worker.onmessage = (event: MessageEvent<HashReply>) => this.#onReply(slot, event.data);
    worker.onerror = (event: ErrorEvent) => {
      event.preventDefault(); // or the error would end the process
      this.#onCrash(slot, event.message);
    };
    worker.onmessageerror = () => this.#onCrash(slot, "a reply could not be deserialized");
    this.#slots.add(slot);
    return slot;
  }

  #onReply(slot: Slot, reply: HashReply): void {
    const job = slot.job;
    if (job === null || !this.#slots.has(slot)) return; // a late reply from a retired worker
    assert(job.id === reply.id, "a worker answers the job it was given");
    slot.job = null;
    job.slot = null;
    this.#addBusy(-1);
    this.#idle.push(slot);
    if (reply.ok) {
      const result = {
        hash: Hash.fromBytes(reply.hash),
        size: reply.size,
        bytesRead: reply.bytesRead,
      };
      this.#settle(job, null, result);
    } else {
      this.#settle(job, hashError(job.path, reply.name, reply.message));
    }
    this.#pump();
  }

  #onCrash(slot: Slot, message: string): void {
    if (!this.#slots.has(slot)) return;
    const job = this.#retire(slot);
    if (job !== null) {
      this.#settle(job, new Error(`Cannot hash "${job.path}": hash worker failed: ${message}`));
    }
    this.#pump();
  }

  #abort(job: Job): void {
    if (job.slot !== null) {
      this.#retire(job.slot); // a read cannot be interrupted: stop the whole worker
    } else {
      const index = this.#queue.indexOf(job);
      if (index === -1) return; // already settled
      this.#queue.splice(index, 1);
      this.#signalRoom();
    }
    this.#settle(job, job.signal?.reason);
    this.#pump();
  }

  /** Terminates a worker and forgets it; returns the job it was running, if any. */
  #retire(slot: Slot): Job | null {
    slot.worker.terminate();
    this.#slots.delete(slot);
    const idle = this.#idle.indexOf(slot);
    if (idle !== -1) this.#idle.splice(idle, 1);
    const job = slot.job;
    slot.job = null;
    if (job === null) return null;
    job.slot = null;
    this.#addBusy(-1);
    return job;
  }

  #addBusy(delta: 1 | -1): void {
    this.#busy += delta;
    assert(this.#busy >= 0, "busy never goes negative");
    assert(this.#busy <= this.#size, "busy never exceeds the worker count");
    Atomics.store(this.#running, 0, this.#busy);
  }

  #settle(job: Job, error: unknown, result?: HashResult): void {
    if (job.onAbort !== null) job.signal?.removeEventListener("abort", job.onAbort);
    job.onAbort = null;
    if (result !== undefined) job.resolve(result);
    else job.reject(error);
  }

  /** Wakes `hashFile` calls waiting for room in the queue; each re-checks. */
  #signalRoom(): void {
    this.#room.resolve();
    this.#room = Promise.withResolvers<void>();
  }
}
