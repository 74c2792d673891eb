/**
 * Two connected in-memory frame channels, for unit tests of the protocol (the real
 * transport is tested on sockets). A released frame is overwritten at once, so a consumer
 * that keeps a lent chunk past its callback reads garbage in tests.
 *
 * @module
 */

import type { PeerName } from "../types/mod.ts";
import type { FrameChannel } from "./session.ts";

class Pipe implements FrameChannel {
  readonly #queue: Uint8Array[] = [];
  #wake: (() => void) | null = null;
  #closed = false;
  other!: Pipe;
  /** Frames passed to send (for assertions). */
  sent = 0;

  constructor(readonly peer: PeerName) {}

  push(frame: Uint8Array): void {
    this.#queue.push(frame);
    this.#wake?.();
  }

  /** Frames handed back with `release` (for assertions). */
  released = 0;

  send(frame: Uint8Array, tail?: Uint8Array): Promise<void> {
    if (this.#closed) return Promise.reject(new Error("closed"));
    this.sent++;
    const copy = new Uint8Array(frame.length + (tail?.length ?? 0));
    copy.set(frame);
    if (tail !== undefined) copy.set(tail, frame.length);
    this.other.push(copy);
    return Promise.resolve();
  }

  /** Overwrites a released frame, as a reused buffer would be: late readers see garbage. */
  release(frame: Uint8Array): void {
    this.released++;
    frame.fill(0xee);
  }

  async *frames(): AsyncIterable<Uint8Array> {
    while (true) {
      const f = this.#queue.shift();
      if (f !== undefined) yield f;
      else if (this.#closed) return;
      else await new Promise<void>((r) => this.#wake = r);
    }
  }

  end(): void {
    this.#closed = true;
    this.#wake?.();
  }

  close(): Promise<void> {
    this.end();
    this.other.end();
    return Promise.resolve();
  }
}

/**
 * A pair of channels: what one sends, the other receives.
 *
 * @param a the peer name seen by the second channel's user
 * @param b the peer name seen by the first channel's user
 * @returns `[channel to b, channel to a]`
 */
export function memoryChannels(a: PeerName, b: PeerName): [Pipe, Pipe] {
  const toB = new Pipe(b);
  const toA = new Pipe(a);
  toB.other = toA;
  toA.other = toB;
  return [toB, toA];
}
