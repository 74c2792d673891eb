/**
 * Blob writes done by the FUSE worker for the main thread (`BlobStore.setWriter`). On a cold
 * read the main thread receives every byte from the network; copying them into the page
 * cache as well was a third of its time (docs/benchmarks.md "fuse"), and the worker, which
 * answers the kernel from the blob, then also knows at once which bytes are in it.
 *
 * A write's bytes go in its message, as they are: a chunk's bytes are in shared memory (its
 * frame: `FramePool`), so the worker reads them there, and the caller keeps them unchanged
 * until the write settles; other bytes (small frames) are copied by `postMessage`. The
 * worker writes them, notes the range stored (as of the fence's epoch when they were sent),
 * and answers.
 *
 * @module
 */

import type { ArenaName, Hash } from "../types/mod.ts";
import type { BlobWriter } from "../unreal/mod.ts";
import { ERRNO } from "./errno.ts";
import type { WorkerIn } from "./fuse_worker.ts";

/** An error of a write in the worker, with its errno's name (`"ENOSPC"`) as `code`. */
export class WorkerWriteError extends Error {
  /** Always `"WorkerWriteError"`. */
  override name = "WorkerWriteError";
  /** The errno's name, when known. */
  readonly code: string | undefined;

  /**
   * @param errno the worker's errno
   * @param message what failed
   */
  constructor(errno: number, message: string) {
    super(message);
    this.code = Object.entries(ERRNO).find(([, n]) => n === errno)?.[0];
  }
}

/** The main thread's side: one {@linkcode BlobWriter} per arena, over one worker. */
export class WorkerWrites {
  readonly #post: (m: WorkerIn) => void;
  readonly #epoch: () => number;
  readonly #waiting = new Map<number, PromiseWithResolvers<void>>();
  #nextId = 1;
  #failed: Error | null = null;

  /**
   * @param post sends a message to the worker
   * @param epoch the reader fence's epoch now
   */
  constructor(post: (m: WorkerIn) => void, epoch: () => number) {
    this.#post = post;
    this.#epoch = epoch;
  }

  /**
   * The writer of one arena's blobs.
   *
   * @param arena the arena
   * @returns its writer
   */
  for(arena: ArenaName): BlobWriter {
    return { write: (hash, offset, data) => this.#write(arena, hash, offset, data) };
  }

  #write(arena: ArenaName, hash: Hash, offset: number, data: Uint8Array): Promise<void> {
    if (this.#failed !== null) return Promise.reject(this.#failed);
    const id = this.#nextId++;
    const done = Promise.withResolvers<void>();
    this.#waiting.set(id, done);
    const epoch = this.#epoch();
    this.#post({ type: "write", id, arena, hash: hash.toString(), offset, bytes: data, epoch });
    return done.promise;
  }

  /**
   * The worker's answer to a write.
   *
   * @param id the write
   * @param errno `0` when written, else why not
   */
  written(id: number, errno: number): void {
    const w = this.#waiting.get(id);
    this.#waiting.delete(id);
    const error = errno === 0 ? null : new WorkerWriteError(errno, `blob write failed (${errno})`);
    if (error === null) w?.resolve();
    else w?.reject(error);
  }

  /**
   * Fails every write on its way and every later one (the worker stopped).
   *
   * @param error why
   */
  fail(error: Error): void {
    this.#failed = error;
    for (const w of this.#waiting.values()) w.reject(error);
    this.#waiting.clear();
  }
}
