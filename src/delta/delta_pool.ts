/**
 * Runs the CPU-heavy byte work of this directory on a bounded pool of Workers, so that the
 * main thread never runs a rolling-checksum loop or a zstd call on a large chunk.
 *
 * ```ts ignore
 * using pool = new DeltaPool();
 * const sig = await pool.signature(oldBytes);            // at the receiver
 * const delta = await pool.delta(sig, newBytes);         // at the sender
 * if (!isEmptyDelta(delta, oldBytes.length)) write(patch(oldBytes, delta));
 * ```
 *
 * Inputs are copied to the worker unless `transfer: true` hands their whole `ArrayBuffer`
 * over (the caller's array is then detached). Results come back transferred, never copied.
 *
 * @module
 */

import { abortable } from "../util/mod.ts";
import type { CompressedChunk } from "./compress.ts";
import type { DeltaReply, DeltaRequest } from "./delta_worker.ts";
import { DeltaError } from "./errors.ts";
import { BLOCK_SIZE_DEFAULT } from "./signature.ts";

/** Most jobs waiting for a worker; further calls wait for room. */
export const DELTA_QUEUE_MAX = 256;
/** Most workers in one pool. */
export const DELTA_WORKERS_MAX = 64;

/** Options of {@linkcode DeltaPool}. */
export interface DeltaPoolOptions {
  /** Jobs run at once; 0 or absent means `navigator.hardwareConcurrency`. */
  readonly workers?: number;
}

/** Options of every job. */
export interface JobOptions {
  /** Aborting rejects the job with `signal.reason`, and stops its worker if it runs. */
  readonly signal?: AbortSignal;
  /** Hand the input's whole `ArrayBuffer` to the worker instead of copying the input. */
  readonly transfer?: boolean;
}

/** Options of {@linkcode DeltaPool.signature}. */
export interface SignatureJobOptions extends JobOptions {
  /** Bytes per block; {@linkcode BLOCK_SIZE_DEFAULT} unless told. */
  readonly blockSize?: number;
}

/** Options of {@linkcode DeltaPool.decompressChunk}. */
export interface DecompressJobOptions extends JobOptions {
  /** Most bytes the chunk may hold once decompressed. */
  readonly maxSize: number;
}

/** A job request before it gets its id. */
type Request = DeltaRequest extends infer R ? R extends DeltaRequest ? Omit<R, "id"> : never
  : never;

type Success = Extract<DeltaReply, { ok: true }>;

interface Job {
  readonly request: Request;
  readonly transfer: Transferable[];
  readonly resolve: (reply: Success) => void;
  readonly reject: (error: unknown) => void;
  readonly signal: AbortSignal | undefined;
  onAbort: (() => void) | null;
  slot: Slot | null;
}

interface Slot {
  readonly worker: Worker;
  job: Job | null;
}

const WORKER_URL = new URL("./delta_worker.ts", import.meta.url);

function workerCount(workers: number | undefined): number {
  if (workers === undefined || workers === 0) {
    return Math.min(Math.max(navigator.hardwareConcurrency, 1), DELTA_WORKERS_MAX);
  }
  if (!Number.isInteger(workers) || workers < 0 || workers > DELTA_WORKERS_MAX) {
    const expected = `an integer from 0 to ${DELTA_WORKERS_MAX}`;
    throw new RangeError(`Cannot create delta pool: workers must be ${expected}, got ${workers}`);
  }
  return workers;
}

/** The input as sent: shared memory as is, else transferred or a copy to transfer. */
function payload(bytes: Uint8Array, transfer: boolean, into: Transferable[]): Uint8Array {
  if (!(bytes.buffer instanceof ArrayBuffer)) return bytes;
  // Not `bytes.slice()`: on a node Buffer, slice() is a view, not a copy.
  const sent = transfer ? bytes : new Uint8Array(bytes);
  into.push(sent.buffer as ArrayBuffer);
  return sent;
}

/** The error a worker reported, as the class of the same name where we have it. */
function jobError(name: string, message: string): Error {
  if (name === "DeltaError") return new DeltaError(message);
  if (name === "RangeError") return new RangeError(message);
  if (name === "TypeError") return new TypeError(message);
  const error = new Error(message);
  error.name = name;
  return error;
}

/**
 * A bounded pool of Workers for signatures, deltas and chunk (de)compression. Each worker
 * runs one job at a time; jobs beyond the workers wait in a FIFO queue of at most
 * {@linkcode DELTA_QUEUE_MAX}. A worker that fails or is stopped by an abort is replaced
 * when the next job needs one. Close the pool (or `using` it) to stop its workers.
 */
export class DeltaPool {
  readonly #size: number;
  readonly #slots = new Set<Slot>();
  readonly #idle: Slot[] = [];
  readonly #queue: Job[] = [];
  #room = Promise.withResolvers<void>();
  #nextId = 1;
  #closed = false;

  /**
   * @param options the number of workers
   * @throws {RangeError} for an invalid worker count
   */
  constructor(options: DeltaPoolOptions = {}) {
    this.#size = workerCount(options.workers);
  }

  /** Workers the pool runs at most. */
  get size(): number {
    return this.#size;
  }

  /**
   * Computes a signature on a worker (see `signature()`).
   *
   * @param data the old data
   * @param options block size, signal, transfer
   * @returns the signature
   * @throws {RangeError} for an invalid block size or too much data
   */
  async signature(data: Uint8Array, options: SignatureJobOptions = {}): Promise<Uint8Array> {
    const transfer: Transferable[] = [];
    const sent = payload(data, options.transfer ?? false, transfer);
    const blockSize = options.blockSize ?? BLOCK_SIZE_DEFAULT;
    return (await this.#submit({ op: "signature", data: sent, blockSize }, transfer, options)).data;
  }

  /**
   * Computes a delta on a worker (see `delta()`). The signature is always copied.
   *
   * @param signature the old data's signature
   * @param data the new data
   * @param options signal, transfer (of `data`)
   * @returns the delta
   * @throws {DeltaError} when the signature is malformed
   */
  async delta(
    signature: Uint8Array,
    data: Uint8Array,
    options: JobOptions = {},
  ): Promise<Uint8Array> {
    const transfer: Transferable[] = [];
    const sig = payload(signature, false, transfer);
    const sent = payload(data, options.transfer ?? false, transfer);
    const request = { op: "delta", signature: sig, data: sent } as const;
    return (await this.#submit(request, transfer, options)).data;
  }

  /**
   * Compresses a chunk on a worker (see `compressChunk()`).
   *
   * @param bytes the chunk
   * @param options signal, transfer
   * @returns the chunk, compressed or not; `data` is never the caller's array
   */
  async compressChunk(bytes: Uint8Array, options: JobOptions = {}): Promise<CompressedChunk> {
    const transfer: Transferable[] = [];
    const sent = payload(bytes, options.transfer ?? false, transfer);
    const reply = await this.#submit({ op: "compress", data: sent }, transfer, options);
    return { data: reply.data, compressed: reply.compressed };
  }

  /**
   * Decompresses a chunk on a worker (see `decompressChunk()`).
   *
   * @param data the compressed chunk
   * @param options the output limit, signal, transfer
   * @returns the chunk
   * @throws {DeltaError} when it is malformed or exceeds `maxSize`
   */
  async decompressChunk(data: Uint8Array, options: DecompressJobOptions): Promise<Uint8Array> {
    const transfer: Transferable[] = [];
    const sent = payload(data, options.transfer ?? false, transfer);
    const request = { op: "decompress", data: sent, maxSize: options.maxSize } as const;
    return (await this.#submit(request, transfer, options)).data;
  }

  /** Stops every worker; jobs not finished reject. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    const jobs = [...this.#queue];
    this.#queue.length = 0;
    for (const slot of [...this.#slots]) {
      if (slot.job !== null) jobs.push(slot.job);
      this.#retire(slot);
    }
    for (const job of jobs) this.#settle(job, this.#closedError());
    this.#signalRoom();
  }

  /** Same as {@linkcode DeltaPool.close}. */
  [Symbol.dispose](): void {
    this.close();
  }

  #closedError(): Error {
    return new Error("Cannot run delta job: the pool is closed");
  }

  async #submit(request: Request, transfer: Transferable[], options: JobOptions): Promise<Success> {
    const { signal } = options;
    for (;;) {
      if (this.#closed) throw this.#closedError();
      signal?.throwIfAborted();
      if (this.#queue.length < DELTA_QUEUE_MAX) break;
      await abortable(this.#room.promise, signal);
    }
    const { promise, resolve, reject } = Promise.withResolvers<Success>();
    const job: Job = { request, transfer, resolve, reject, signal, onAbort: null, slot: null };
    if (signal !== undefined) {
      job.onAbort = () => this.#abort(job);
      signal.addEventListener("abort", job.onAbort, { once: true });
    }
    this.#queue.push(job);
    this.#pump();
    return await promise;
  }

  /** Hands queued jobs to idle workers, starting workers up to the pool size. */
  #pump(): void {
    while (this.#queue.length > 0) {
      const slot = this.#idle.pop() ?? (this.#slots.size < this.#size ? this.#spawn() : null);
      if (slot === null) return;
      const job = this.#queue.shift()!;
      this.#signalRoom();
      job.slot = slot;
      slot.job = job;
      const message = { ...job.request, id: this.#nextId++ } as DeltaRequest;
      slot.worker.postMessage(message, job.transfer);
    }
  }

  #spawn(): Slot {
    const worker = new Worker(WORKER_URL, { type: "module" });
    const slot: Slot = { worker, job: null };
    worker.onmessage = (event: MessageEvent<DeltaReply>) => this.#onReply(slot, event.data);
    worker.onerror = (event) => {
      event.preventDefault();
      this.#onFailure(slot, event.message);
    };
    worker.onmessageerror = () => this.#onFailure(slot, "cannot read its reply");
    this.#slots.add(slot);
    return slot;
  }

  #onReply(slot: Slot, reply: DeltaReply): void {
    const job = slot.job;
    slot.job = null;
    this.#idle.push(slot);
    if (job !== null) {
      job.slot = null;
      if (reply.ok) this.#settle(job, null, reply);
      else this.#settle(job, jobError(reply.name, reply.message));
    }
    this.#pump();
  }

  #onFailure(slot: Slot, message: string): void {
    const job = slot.job;
    this.#retire(slot);
    if (job !== null) {
      this.#settle(job, new Error(`Cannot run delta job: worker failed: ${message}`));
    }
    this.#pump();
  }

  /** Drops an aborted job: from the queue, or from its worker, which is stopped. */
  #abort(job: Job): void {
    if (job.slot !== null) {
      this.#retire(job.slot);
    } else {
      const index = this.#queue.indexOf(job);
      if (index === -1) return; // already settled
      this.#queue.splice(index, 1);
      this.#signalRoom();
    }
    this.#settle(job, job.signal?.reason);
    this.#pump();
  }

  /** Terminates a worker and forgets it. */
  #retire(slot: Slot): void {
    slot.worker.terminate();
    this.#slots.delete(slot);
    const idle = this.#idle.indexOf(slot);
    if (idle !== -1) this.#idle.splice(idle, 1);
    if (slot.job !== null) slot.job.slot = null;
    slot.job = null;
  }

  #settle(job: Job, error: unknown, reply?: Success): void {
    if (job.onAbort !== null) job.signal?.removeEventListener("abort", job.onAbort);
    job.onAbort = null;
    if (reply !== undefined) job.resolve(reply);
    else job.reject(error);
  }

  /** Wakes calls waiting for room in the queue; each re-checks. */
  #signalRoom(): void {
    this.#room.resolve();
    this.#room = Promise.withResolvers<void>();
  }
}
