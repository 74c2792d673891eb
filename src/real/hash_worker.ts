/**
 * The worker side of {@linkcode HashPool}: hashes one file per request and answers with
 * the digest or the error. Runs only as a Worker module; the pool imports its types only.
 *
 * While cores are to spare, reads are double-buffered: as BLAKE3 hashes one chunk on this
 * thread, Deno reads the next on its blocking-I/O thread, so the two overlap. When the
 * pool's running jobs fill the cores, this thread reads and hashes in turn instead: the
 * hand-over between threads then costs more than the overlap gains (docs/benchmarks.md).
 * The choice is made again before every read, from a counter the pool shares.
 *
 * @module
 */

import { Hasher } from "../types/mod.ts";

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

/** What the pool sends: one file to hash. */
export interface HashRequest {
  /** Matches the reply to the request. */
  readonly id: number;
  /** The file to hash. */
  readonly path: string;
  /** Element 0: jobs the pool runs right now, kept up to date by the pool. */
  readonly running: Int32Array<SharedArrayBuffer>;
}

/** What the worker answers: the digest, or the error's kind and message. */
export type HashReply =
  | {
    readonly id: number;
    readonly ok: true;
    /** The 32 digest bytes; their buffer is transferred. */
    readonly hash: Uint8Array;
    /** The file's size when it was opened. */
    readonly size: number;
    /** Bytes actually read and hashed. */
    readonly bytesRead: number;
  }
  | {
    readonly id: number;
    readonly ok: false;
    /** The error's name, e.g. `NotFound`. */
    readonly name: string;
    /** The error's message, as thrown. */
    readonly message: string;
  };

/** The part of the worker global scope used here (the type checker sees the window one). */
interface WorkerScope {
  onmessage: ((event: MessageEvent<HashRequest>) => void) | null;
  postMessage(message: HashReply, transfer: Transferable[]): void;
}

// Reused by every request: a worker hashes one file at a time.
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

async function hashContent(
  file: Deno.FsFile,
  size: number,
  running: Int32Array<SharedArrayBuffer>,
): Promise<Content> {
  const hasher = new Hasher();
  let bytesRead = 0;
  let ahead: Promise<number | null> | null = null;
  try {
    for (;;) {
      const n = ahead === null ? readHere(file, buffer) : await ahead;
      ahead = null;
      if (n === null) break;
      bytesRead += n;
      [buffer, spare] = [spare, buffer];
      // Past the size seen at open, the next read most likely finds the end: no need to
      // ask another thread (most files are small). Otherwise it overlaps update() below.
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

async function hashPath(request: HashRequest): Promise<HashReply> {
  const { id, path } = request;
  try {
    const opened = openRegular(path);
    using file = opened.file;
    const { size } = opened;
    const { hash, bytesRead } = await hashContent(file, size, request.running);
    return { id, ok: true, hash, size, bytesRead };
  } catch (error) {
    const name = error instanceof Error ? error.name : "Error";
    const message = error instanceof Error ? error.message : String(error);
    return { id, ok: false, name, message };
  }
}

const scope = globalThis as unknown as WorkerScope;
scope.onmessage = (event) => {
  void hashPath(event.data).then((reply) => {
    scope.postMessage(reply, reply.ok ? [reply.hash.buffer as ArrayBuffer] : []);
  });
};
