/**
 * {@linkcode ChunkBuffers}: the buffers a peer's reads are served from, reused across
 * requests and limited in number, so many reads at once cost a bounded amount of memory.
 *
 * @module
 */

import { assert } from "../util/mod.ts";

/** A fixed number of equal buffers, taken and given back. */
export class ChunkBuffers {
  readonly #bytes: number;
  readonly #max: number;
  readonly #free: Uint8Array<ArrayBuffer>[] = [];
  readonly #waiters: ((buffer: Uint8Array<ArrayBuffer>) => void)[] = [];
  #made = 0;

  /**
   * @param max most buffers in existence at once
   * @param bytes size of each buffer
   */
  constructor(max: number, bytes: number) {
    assert(Number.isSafeInteger(max) && max > 0, "at least one buffer");
    assert(Number.isSafeInteger(bytes) && bytes > 0, "buffers are not empty");
    this.#max = max;
    this.#bytes = bytes;
  }

  /** Buffers in use now. */
  get inUse(): number {
    return this.#made - this.#free.length;
  }

  /**
   * A buffer, if one is free or may be made.
   *
   * @returns the buffer (its bytes are stale), or `null` when all are in use
   */
  tryTake(): Uint8Array<ArrayBuffer> | null {
    const free = this.#free.pop();
    if (free !== undefined) return free;
    if (this.#made >= this.#max) return null;
    this.#made++;
    return new Uint8Array(this.#bytes);
  }

  /**
   * A buffer, waiting (in turn) for one to be given back when all are in use.
   *
   * @param options `signal` stops waiting
   * @returns the buffer
   * @throws the signal's reason when it aborts first
   */
  take(options: { signal?: AbortSignal } = {}): Promise<Uint8Array<ArrayBuffer>> {
    const { signal } = options;
    if (signal?.aborted === true) return Promise.reject(signal.reason);
    const buffer = this.#waiters.length === 0 ? this.tryTake() : null;
    if (buffer !== null) return Promise.resolve(buffer);
    return new Promise((resolve, reject) => {
      const onAbort = () => {
        const i = this.#waiters.indexOf(handOver);
        if (i >= 0) this.#waiters.splice(i, 1);
        reject(signal?.reason);
      };
      const handOver = (b: Uint8Array<ArrayBuffer>) => {
        signal?.removeEventListener("abort", onAbort);
        resolve(b);
      };
      this.#waiters.push(handOver);
      signal?.addEventListener("abort", onAbort, { once: true });
    });
  }

  /**
   * Gives a buffer back (to the first waiting `take`, if any). The caller must not use it
   * afterwards.
   *
   * @param buffer a buffer from this pool
   */
  give(buffer: Uint8Array<ArrayBuffer>): void {
    assert(buffer.length === this.#bytes, "a buffer comes back whole");
    assert(this.#free.length < this.#made, "a buffer is given back once");
    const waiter = this.#waiters.shift();
    if (waiter !== undefined) waiter(buffer);
    else this.#free.push(buffer);
  }
}
