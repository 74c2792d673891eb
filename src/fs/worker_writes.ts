/**
 * Blob writes done by the FUSE worker for the main thread (`BlobStore.setWriter`). On a cold
 * read the main thread receives every byte from the network; copying them into the page
 * cache as well was a third of its time (docs/benchmarks.md "fuse"), and the worker, which
 * answers the kernel from the blob, then also knows at once which bytes are in it.
 *
 * Bytes already in shared memory (a received frame: `FramePool`) are posted as they are:
 * the worker reads them there, and the caller keeps them unchanged until the write settles.
 * Other bytes are copied into a slot of memory shared with the worker, and the worker is
 * told which: a transferred buffer would be copied once more by `postMessage` (measured:
 * posting 1 MiB that way costs as much as the copy). With every slot taken (or a write
 * larger than a slot) the bytes go in the message. The worker writes them, notes the range stored (as
 * of the fence's epoch when they were sent), and answers; the slot is then free again.
 *
 * @module
 */

import type { ArenaName, Hash } from "../types/mod.ts";
import type { BlobWriter } from "../unreal/mod.ts";
import { ERRNO } from "./errno.ts";
import type { WorkerIn } from "./fuse_worker.ts";

/** Bytes a shared slot holds: a chunk of a remote read. */
export const WRITE_SLOT_BYTES = 1 << 20;
/** Slots: more than the chunks a sequential reader has on their way at once. */
export const WRITE_SLOTS = 16;
/**
 * Slack at the start of a slot: the bytes go at the source's offset modulo 8, since V8 copies
 * into shared memory byte by byte when source and target are not aligned alike (measured:
 * 0.40 ms per MiB instead of 0.05; a chunk's bytes start at an odd place in their frame).
 */
const SLOT_SLACK = 8;
const SLOT_STRIDE = WRITE_SLOT_BYTES + SLOT_SLACK;

/**
 * The memory the slots share with the worker (`WorkerConfig.writeSlots`).
 *
 * @returns a fresh one (its pages are touched only when used)
 */
export function writeSlots(): SharedArrayBuffer {
  return new SharedArrayBuffer(WRITE_SLOTS * SLOT_STRIDE);
}

/**
 * Where a write's bytes are: `length` bytes at `start` of the shared memory, or `bytes`.
 *
 * @param slots the shared memory
 * @param m the message
 * @returns the bytes
 */
export function writeBytes(
  slots: SharedArrayBuffer,
  m: { readonly start: number; readonly length: number; readonly bytes?: Uint8Array },
): Uint8Array {
  return m.bytes ?? new Uint8Array(slots, m.start, m.length);
}

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
  readonly #post: (m: WorkerIn, transfer: Transferable[]) => void;
  readonly #epoch: () => number;
  readonly #waiting = new Map<number, PromiseWithResolvers<void>>();
  readonly #slots: SharedArrayBuffer;
  /** Free slots, and the slot of each write on its way. */
  readonly #free: number[] = Array.from({ length: WRITE_SLOTS }, (_, i) => WRITE_SLOTS - 1 - i);
  readonly #slotOf = new Map<number, number>();
  #nextId = 1;
  #failed: Error | null = null;

  /**
   * @param slots the memory shared with the worker ({@linkcode writeSlots})
   * @param post sends a message to the worker
   * @param epoch the reader fence's epoch now
   */
  constructor(
    slots: SharedArrayBuffer,
    post: (m: WorkerIn, transfer: Transferable[]) => void,
    epoch: () => number,
  ) {
    this.#slots = slots;
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
    const m = {
      type: "write",
      id,
      arena,
      hash: hash.toString(),
      offset,
      epoch: this.#epoch(),
    } as const;
    if (data.buffer instanceof SharedArrayBuffer) {
      // Shared already (a received frame, kept lent until this settles): no copy at all.
      this.#post({ ...m, start: -1, length: data.length, bytes: data }, []);
      return done.promise;
    }
    const slot = data.length <= WRITE_SLOT_BYTES ? this.#free.pop() : undefined;
    if (slot === undefined) {
      const bytes = data.slice();
      this.#post({ ...m, start: -1, length: data.length, bytes }, [bytes.buffer]);
    } else {
      this.#slotOf.set(id, slot);
      const start = slot * SLOT_STRIDE + (data.byteOffset % SLOT_SLACK);
      new Uint8Array(this.#slots, start, data.length).set(data);
      this.#post({ ...m, start, length: data.length }, []);
    }
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
    const slot = this.#slotOf.get(id);
    if (slot !== undefined) {
      this.#slotOf.delete(id);
      this.#free.push(slot);
    }
    if (errno === 0) w?.resolve();
    else {w?.reject(
        new WorkerWriteError(errno, `the FUSE worker could not write a blob (${errno})`),
      );}
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
