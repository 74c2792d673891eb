/**
 * The worker side of {@linkcode HashPool}: hashes a batch of files per request, one after
 * the other, and answers with each digest or error. Runs only as a Worker module; the pool
 * imports its types only.
 *
 * A batch costs one message each way however many small files it holds (one round trip per
 * file was the bound on small files). Large files must not hold up small ones: a file over
 * {@linkcode HASH_DEFER_BYTES} waits until the batch's small files are hashed and reported;
 * then the worker keeps one large file and hands the others back to the pool, for any free
 * worker. Past {@linkcode HASH_BATCH_BYTES_MAX} bytes hashed, the rest of the batch goes
 * back too.
 *
 * While cores are to spare, reads are double-buffered: as BLAKE3 hashes one chunk on this
 * thread, Deno reads the next on its blocking-I/O thread, so the two overlap. When the
 * pool's running jobs fill the cores, this thread reads and hashes in turn instead: the
 * hand-over between threads then costs more than the overlap gains (docs/benchmarks.md).
 * The choice is made again before every read, from a counter the pool shares.
 *
 * @module
 */

import { blake3 } from "@napi-rs/blake-hash";
import { Buffer } from "node:buffer";
import { HASH_SIZE, Hasher } from "../types/mod.ts";
import { assert } from "../util/mod.ts";
import { HASH_BATCH_JOBS_MAX, JOB_DONE, JOB_PENDING, JOB_STARTED } from "./hash_pool.ts";

/**
 * Bytes per read while reading ahead. Measured against 1 MiB: 4 MiB gave 1.42× b3sum and
 * 1 MiB 1.20× for one file alone (fewer hand-overs between threads).
 */
export const HASH_READ_AHEAD_BYTES = 4 << 20;

/**
 * Bytes per read in turn, when all cores are busy: small enough to stay in the core's cache
 * between read and hash (0.83× b3sum against 0.79× for 4 MiB, two files on two cores).
 */
export const HASH_READ_IN_TURN_BYTES = 256 << 10;

/**
 * Bytes a worker hashes in one batch before it hands the rest back to the pool, so that
 * other workers share a batch of medium files.
 */
export const HASH_BATCH_BYTES_MAX = 8 << 20;

/**
 * Files larger than this are large: one per batch, read once the small files before and
 * after it are reported. Reading 1 MiB costs several times a message.
 */
export const HASH_DEFER_BYTES = 1 << 20;

/**
 * What the pool sends: a batch of files, hashed one after the other. The worker answers
 * with one or more {@linkcode HashReply}, the last one marked `last`; jobs it did not
 * report by then go back to the pool's queue. Messages hold columns, not one object per
 * job: a reply of 64 objects cost four times as much to pass between threads.
 */
export interface HashRequest {
  /** The jobs' ids, from 1 to `HASH_BATCH_JOBS_MAX` of them. */
  readonly ids: readonly number[];
  /** `paths[i]`: the file to hash for `ids[i]`. */
  readonly paths: readonly string[];
  /**
   * Element i: where job i stands (`JOB_PENDING`, `JOB_STARTED`, `JOB_DONE`, or
   * `JOB_SKIPPED` when the pool dropped it before it started). Shared with the pool, which
   * learns from it whether an aborted job is being read right now.
   */
  readonly states: Int32Array<SharedArrayBuffer>;
  /** Element 0: workers running a batch right now, kept up to date by the pool. */
  readonly running: Int32Array<SharedArrayBuffer>;
}

/** Why a job failed: the error's kind and message. */
export interface HashFailure {
  /** The error's name, e.g. `NotFound`. */
  readonly name: string;
  /** The error's message, as thrown. */
  readonly message: string;
}

/** What the worker answers: the jobs of the current batch done since its previous reply. */
export interface HashReply {
  /** Their ids, in the order they were done. */
  readonly ids: readonly number[];
  /** `ids[i]`'s digest in bytes `32 i` to `32 i + 32` (zeros when it failed). */
  readonly hashes: Uint8Array;
  /** `ids[i]`'s size when it was opened. */
  readonly sizes: readonly number[];
  /** `ids[i]`'s bytes actually read and hashed. */
  readonly bytesRead: readonly number[];
  /** `ids[i]`'s error, or null when it was hashed. */
  readonly errors: readonly (HashFailure | null)[];
  /** Jobs handed back unread (large files, for any free worker): the pool queues them again. */
  readonly returned: readonly number[];
  /** The worker is through with the batch: the jobs it did not report go back to the pool. */
  readonly last: boolean;
}

/** The part of the worker global scope used here (the type checker sees the window one). */
interface WorkerScope {
  onmessage: ((event: MessageEvent<HashRequest>) => void) | null;
  postMessage(message: HashReply): void;
}

// Reused by every job: a worker hashes one file at a time.
let buffer = new Uint8Array(HASH_READ_AHEAD_BYTES);
let spare = new Uint8Array(HASH_READ_AHEAD_BYTES);

interface Content {
  readonly hash: Uint8Array;
  readonly bytesRead: number;
}

/** Whether a second thread per running job still fits on the cores. */
function coresToSpare(running: Int32Array<SharedArrayBuffer>): boolean {
  return Atomics.load(running, 0) * 2 <= navigator.hardwareConcurrency;
}

/** A read on this thread. Blocking it is the point: this worker has nothing else to do. */
function readHere(file: Deno.FsFile, into: Uint8Array): number | null {
  return file.readSync(into.subarray(0, HASH_READ_IN_TURN_BYTES));
}

/** The digest of bytes held whole: one native call (a `Hasher` per small file cost 3×). */
function hashOnce(bytes: Uint8Array): Uint8Array {
  return blake3(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
}

/**
 * Hashes a file from its current offset on. With `size` under one read in turn (most files),
 * it is read whole, and hashed in one call once a second read finds the end.
 */
function hashContent(
  file: Deno.FsFile,
  size: number,
  running: Int32Array<SharedArrayBuffer>,
): Content | Promise<Content> {
  if (size >= HASH_READ_IN_TURN_BYTES) return hashChunks(file, size, running, new Hasher(), 0);
  const n = readHere(file, buffer) ?? 0;
  const more = readHere(file, spare);
  if (more === null) return { hash: hashOnce(buffer.subarray(0, n)), bytesRead: n };
  // It grew since it was opened: on in chunks.
  const hasher = new Hasher().update(buffer.subarray(0, n)).update(spare.subarray(0, more));
  return hashChunks(file, size, running, hasher, n + more);
}

/** Hashes the rest of a file in chunks, `bytesRead` bytes of it already in `hasher`. */
async function hashChunks(
  file: Deno.FsFile,
  size: number,
  running: Int32Array<SharedArrayBuffer>,
  hasher: Hasher,
  bytesRead: number,
): Promise<Content> {
  let ahead: Promise<number | null> | null = null;
  try {
    for (;;) {
      const n = ahead === null ? readHere(file, buffer) : await ahead;
      ahead = null;
      if (n === null) break;
      bytesRead += n;
      [buffer, spare] = [spare, buffer];
      // Past the size seen at open, the next read most likely finds the end: no need to
      // ask another thread. Otherwise it overlaps update() below.
      if (bytesRead < size && coresToSpare(running)) ahead = file.read(buffer);
      hasher.update(spare.subarray(0, n));
    }
  } finally {
    // Never leave a read running into a buffer the next request reuses.
    if (ahead !== null) await ahead.catch(() => null);
  }
  return { hash: hasher.digest().bytes(), bytesRead };
}

/**
 * Opens a file for hashing and returns it with its size. Blocking this thread is the
 * point, as in {@linkcode readHere}, and saves two thread hand-overs per small file.
 */
function openRegular(path: string): { file: Deno.FsFile; size: number } {
  const file = Deno.openSync(path, { read: true });
  try {
    const info = file.statSync();
    if (info.isDirectory) throw new Deno.errors.IsADirectory("Is a directory");
    if (!info.isFile) throw new Deno.errors.NotSupported("Not a regular file");
    return { file, size: info.size };
  } catch (error) {
    file.close();
    throw error;
  }
}

/** How one job ended. */
type Outcome = Content & { readonly size: number } | HashFailure;

/** Hashes one file; a large one is left alone when `deferLarge` (null is returned). */
async function hashJob(
  path: string,
  running: Int32Array<SharedArrayBuffer>,
  deferLarge: boolean,
): Promise<Outcome | null> {
  try {
    const opened = openRegular(path);
    using file = opened.file;
    const { size } = opened;
    if (deferLarge && size > HASH_DEFER_BYTES) return null;
    return { ...await hashContent(file, size, running), size };
  } catch (error) {
    const name = error instanceof Error ? error.name : "Error";
    const message = error instanceof Error ? error.message : String(error);
    return { name, message };
  }
}

/** Outcomes gathered for the next reply, in its columns. */
interface Gathered {
  readonly ids: number[];
  readonly hashes: Uint8Array;
  readonly sizes: number[];
  readonly bytesRead: number[];
  readonly errors: (HashFailure | null)[];
}

/** An empty reply to fill. */
function gathered(): Gathered {
  const hashes = new Uint8Array(HASH_BATCH_JOBS_MAX * HASH_SIZE);
  return { ids: [], hashes, sizes: [], bytesRead: [], errors: [] };
}

/** Adds a job's outcome to the next reply. */
function gather(into: Gathered, id: number, outcome: Outcome): void {
  const at = into.ids.push(id) - 1;
  assert(at < HASH_BATCH_JOBS_MAX, "a reply holds at most one batch");
  if ("hash" in outcome) {
    into.hashes.set(outcome.hash, at * HASH_SIZE);
    into.sizes.push(outcome.size);
    into.bytesRead.push(outcome.bytesRead);
    into.errors.push(null);
  } else {
    into.sizes.push(0);
    into.bytesRead.push(0);
    into.errors.push({ name: outcome.name, message: outcome.message });
  }
}

/** The reply of gathered outcomes; `returned`: jobs handed back unread. */
function replyOf(done: Gathered, returned: readonly number[], last: boolean): HashReply {
  const hashes = done.hashes.slice(0, done.ids.length * HASH_SIZE);
  return { ...done, hashes, returned, last };
}

/** Whether the pool still wants job `i`: if so it is marked started, and read now. */
function claim(states: Int32Array<SharedArrayBuffer>, i: number): boolean {
  return Atomics.compareExchange(states, i, JOB_PENDING, JOB_STARTED) === JOB_PENDING;
}

/**
 * Hashes a batch: its small files in order until the batch is done or
 * {@linkcode HASH_BATCH_BYTES_MAX} bytes are hashed, then at most one large file, once the
 * outcomes so far are sent and the other large files handed back for any free worker.
 */
async function hashBatch(
  request: HashRequest,
  reply: (message: HashReply) => void,
): Promise<void> {
  const { ids, paths, states, running } = request;
  const done = gathered();
  const large: number[] = [];
  let hashed = 0;
  for (const i of ids.keys()) {
    if (hashed >= HASH_BATCH_BYTES_MAX) break; // the rest goes back with the last reply
    if (!claim(states, i)) continue; // dropped by the pool
    const outcome = await hashJob(paths[i]!, running, true);
    if (outcome === null) {
      Atomics.store(states, i, JOB_PENDING); // not being read: an abort needs no stop
      large.push(i);
      continue;
    }
    Atomics.store(states, i, JOB_DONE);
    gather(done, ids[i]!, outcome);
    if ("hash" in outcome) hashed += outcome.bytesRead;
  }
  const next = hashed < HASH_BATCH_BYTES_MAX ? large.shift() : undefined;
  if (next === undefined) return reply(replyOf(done, [], true));
  if (done.ids.length > 0 || large.length > 0) {
    reply(replyOf(done, large.map((i) => ids[i]!), false));
  }
  const last = gathered();
  if (claim(states, next)) {
    const outcome = (await hashJob(paths[next]!, running, false))!; // never deferred
    Atomics.store(states, next, JOB_DONE);
    gather(last, ids[next]!, outcome);
  }
  reply(replyOf(last, [], true));
}

const scope = globalThis as unknown as WorkerScope;
scope.onmessage = (event) => {
  void hashBatch(event.data, (message) => scope.postMessage(message));
};
