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

import { Hash, HASH_SIZE } from "../types/mod.ts";
import { abortable, assert } from "../util/mod.ts";
import type { HashReply, HashRequest } from "./hash_worker.ts";

/**
 * Most jobs waiting for a worker; further {@linkcode HashPool.hashFile} calls wait for room.
 * Jobs a worker hands back unprocessed go back to the front of the queue even when it is
 * full: at most {@linkcode HASH_BATCH_JOBS_MAX} per worker more.
 */
export const HASH_QUEUE_MAX = 4096;

/**
 * Most jobs handed to a worker in one message. Small files cost one message round trip per
 * batch instead of one per file; the worker reads them one after the other.
 */
export const HASH_BATCH_JOBS_MAX = 64;

/** Most workers in one pool (the same bound as `max_parallel_hashers`). */
export const HASH_WORKERS_MAX = 1024;

/** Where a job of a batch stands, in the array a pool shares with each worker. */
export const JOB_PENDING = 0;
/** The worker is reading the job's file (or blocked opening it). */
export const JOB_STARTED = 1;
/** The worker has the job's outcome; the pool may not have it yet. */
export const JOB_DONE = 2;
/** The pool dropped the job before it started (it was aborted): the worker skips it. */
export const JOB_SKIPPED = 3;

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
  /** The worker whose batch holds the job, if any. */
  slot: Slot | null;
  /** The job's place in that batch: its element of `slot.states`. */
  index: number;
}

interface Slot {
  readonly worker: Worker;
  /** Whether the worker has a batch (until its last reply). */
  busy: boolean;
  /** The batch's jobs not settled yet, by id, in batch order. */
  readonly batch: Map<number, Job>;
  /** Shared with the worker: element i tells where the batch's job i stands. */
  readonly states: Int32Array<SharedArrayBuffer>;
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

/**
 * A bounded pool of Workers hashing files with BLAKE3. Jobs beyond what the workers hold
 * wait in a FIFO queue of at most {@linkcode HASH_QUEUE_MAX}; a free worker takes up to
 * {@linkcode HASH_BATCH_JOBS_MAX} of them in one message. A worker that dies or is stopped
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
  #batches = 0;
  #closed = false;
  /** A pump to come (see `#pumpSoon`): jobs submitted meanwhile leave in one batch. */
  #pumpTimer: ReturnType<typeof setTimeout> | undefined;

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
   * Workers running a batch right now; each reads one file at a time.
   *
   * @returns from 0 to the pool's worker count
   */
  get busy(): number {
    return this.#busy;
  }

  /**
   * Batches handed to workers so far, one message each (with one or more replies).
   *
   * @returns a count that only grows
   */
  get batches(): number {
    return this.#batches;
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
      await abortable(this.#room.promise, signal);
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
        index: 0,
      };
      if (signal !== undefined) {
        job.onAbort = () => this.#abort(job);
        signal.addEventListener("abort", job.onAbort, { once: true });
      }
      this.#queue.push(job);
      this.#pumpSoon();
    });
  }

  /**
   * Stops every worker and rejects running and queued jobs, and later calls. Idempotent.
   *
   * @returns once all workers are terminated
   */
  close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#pumpTimer);
    this.#pumpTimer = undefined;
    for (const slot of [...this.#slots]) {
      for (const job of this.#retire(slot)) this.#settleClosed(job);
    }
    for (const job of this.#queue.splice(0)) this.#settleClosed(job);
    this.#signalRoom();
    assert(this.#busy === 0, "no job runs after close");
    return Promise.resolve();
  }

  #settleClosed(job: Job): void {
    this.#settle(job, new Error(`Cannot hash "${job.path}": the hash pool is closed`));
  }

  /**
   * Starts a new job now when no worker is busy; otherwise at the end of this turn of the
   * event loop, so that jobs submitted one at a time (each as an earlier one ends) leave
   * together, in one batch, rather than one message each.
   */
  #pumpSoon(): void {
    if (this.#busy === 0) return this.#pump();
    this.#pumpTimer ??= setTimeout(() => this.#pump(), 0);
  }

  /**
   * Hands queued jobs to idle or new workers, oldest first, in batches: a fair share of the
   * queue per free worker, at most {@linkcode HASH_BATCH_JOBS_MAX}.
   */
  #pump(): void {
    clearTimeout(this.#pumpTimer);
    this.#pumpTimer = undefined;
    let started = false;
    while (!this.#closed && this.#queue.length > 0) {
      const free = this.#idle.length + this.#size - this.#slots.size;
      if (free === 0) break;
      const slot = this.#idle.pop() ?? this.#spawn();
      const count = Math.min(HASH_BATCH_JOBS_MAX, Math.ceil(this.#queue.length / free));
      this.#start(slot, this.#queue.splice(0, count));
      started = true;
    }
    if (started) this.#signalRoom();
  }

  #start(slot: Slot, jobs: readonly Job[]): void {
    assert(!slot.busy && slot.batch.size === 0, "an idle worker has no batch");
    assert(jobs.length > 0 && jobs.length <= HASH_BATCH_JOBS_MAX, "a batch fits its limit");
    slot.busy = true;
    this.#addBusy(1);
    this.#batches++;
    const ids: number[] = [];
    const paths: string[] = [];
    for (const [index, job] of jobs.entries()) {
      job.slot = slot;
      job.index = index;
      slot.batch.set(job.id, job);
      Atomics.store(slot.states, index, JOB_PENDING);
      ids.push(job.id);
      paths.push(job.path);
    }
    const request: HashRequest = { ids, paths, states: slot.states, running: this.#running };
    slot.worker.postMessage(request);
  }

  #spawn(): Slot {
    const worker = new Worker(WORKER_URL, { type: "module" });
    const states = new Int32Array(new SharedArrayBuffer(4 * HASH_BATCH_JOBS_MAX));
    const slot: Slot = { worker, busy: false, batch: new Map(), states };
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
    if (!this.#slots.has(slot)) return; // a late reply from a retired worker
    assert(slot.busy, "a worker answers only while it has a batch");
    for (const [i, id] of reply.ids.entries()) {
      const job = slot.batch.get(id);
      if (job === undefined) continue; // aborted once the worker had it done
      slot.batch.delete(id);
      job.slot = null;
      this.#settleDone(job, reply, i);
    }
    this.#requeue(this.#takeBack(slot, reply.returned));
    if (!reply.last) return this.#pump();
    // Whatever the worker did not report, it handed back: files past its budget.
    this.#requeue(this.#unbatch(slot));
    slot.busy = false;
    this.#addBusy(-1);
    this.#idle.push(slot);
    this.#pump();
  }

  /** Settles a job with the `i`th outcome of a reply. */
  #settleDone(job: Job, reply: HashReply, i: number): void {
    const error = reply.errors[i];
    if (error) {
      this.#settle(job, hashError(job.path, error.name, error.message));
      return;
    }
    const hash = Hash.fromBytes(reply.hashes.subarray(i * HASH_SIZE, (i + 1) * HASH_SIZE));
    this.#settle(job, null, { hash, size: reply.sizes[i]!, bytesRead: reply.bytesRead[i]! });
  }

  /**
   * A dead worker fails the job it was reading (or, when it read none, its batch's first,
   * so that a worker failing at start-up cannot loop); its other jobs are queued again.
   */
  #onCrash(slot: Slot, message: string): void {
    if (!this.#slots.has(slot)) return;
    const jobs = this.#retire(slot);
    const failed = jobs.find((job) => Atomics.load(slot.states, job.index) === JOB_STARTED) ??
      jobs[0];
    this.#requeue(jobs.filter((job) => job !== failed));
    if (failed !== undefined) {
      const error = new Error(`Cannot hash "${failed.path}": hash worker failed: ${message}`);
      this.#settle(failed, error);
    }
    this.#pump();
  }

  /**
   * Drops an aborted job: from the queue, or from its batch. Only when its worker is reading
   * it right now is the worker stopped (a read cannot be interrupted), and the batch's other
   * jobs queued again.
   */
  #abort(job: Job): void {
    const slot = job.slot;
    if (slot === null) {
      const index = this.#queue.indexOf(job);
      if (index === -1) return; // already settled
      this.#queue.splice(index, 1);
      this.#signalRoom();
    } else {
      const was = Atomics.compareExchange(slot.states, job.index, JOB_PENDING, JOB_SKIPPED);
      if (was === JOB_STARTED) {
        this.#requeue(this.#retire(slot).filter((other) => other !== job));
      } else {
        slot.batch.delete(job.id); // skipped, or done: its outcome will be ignored
        job.slot = null;
      }
    }
    this.#settle(job, job.signal?.reason);
    this.#pump();
  }

  /** Puts jobs back at the front of the queue, in their order. */
  #requeue(jobs: readonly Job[]): void {
    assert(jobs.length <= HASH_BATCH_JOBS_MAX, "at most one batch comes back at once");
    this.#queue.unshift(...jobs);
  }

  /** Takes jobs a worker handed back out of its batch (those not aborted meanwhile). */
  #takeBack(slot: Slot, ids: readonly number[]): Job[] {
    const jobs: Job[] = [];
    for (const id of ids) {
      const job = slot.batch.get(id);
      if (job === undefined) continue;
      slot.batch.delete(id);
      job.slot = null;
      jobs.push(job);
    }
    return jobs;
  }

  /** Takes the unsettled jobs out of a worker's batch. */
  #unbatch(slot: Slot): Job[] {
    const jobs = [...slot.batch.values()];
    slot.batch.clear();
    for (const job of jobs) job.slot = null;
    return jobs;
  }

  /** Terminates a worker and forgets it; returns its batch's unsettled jobs. */
  #retire(slot: Slot): Job[] {
    slot.worker.terminate();
    this.#slots.delete(slot);
    const idle = this.#idle.indexOf(slot);
    if (idle !== -1) this.#idle.splice(idle, 1);
    if (slot.busy) this.#addBusy(-1);
    slot.busy = false;
    return this.#unbatch(slot);
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
