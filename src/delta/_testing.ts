/**
 * Test helpers of this directory: a fake clock, a seeded PRNG and byte helpers. Not used
 * by product code.
 *
 * @module
 */

import type { Clock, TimerHandle } from "./token_bucket.ts";

interface Timer {
  readonly at: number;
  readonly seq: number;
  readonly fn: () => void;
}

/** A clock that moves only when told; timers fire in time order, then in creation order. */
export class FakeClock implements Clock {
  readonly #timers = new Map<number, Timer>();
  #now = 0;
  #seq = 1;

  /** Milliseconds since the clock was made, as advanced. */
  now(): number {
    return this.#now;
  }

  /** Plans `fn` at `now() + ms`. */
  setTimeout(fn: () => void, ms: number): TimerHandle {
    const seq = this.#seq++;
    this.#timers.set(seq, { at: this.#now + Math.max(0, ms), seq, fn });
    return seq as unknown as TimerHandle;
  }

  /** Cancels a planned call. */
  clearTimeout(handle: TimerHandle): void {
    this.#timers.delete(handle as unknown as number);
  }

  /** Timers planned and not fired. */
  get pending(): number {
    return this.#timers.size;
  }

  /** When the next timer fires, or null. */
  get nextAt(): number | null {
    return this.#next()?.at ?? null;
  }

  /** Moves time on by `ms`, firing each timer due at its own time. */
  advance(ms: number): void {
    const end = this.#now + ms;
    for (let timer = this.#next(); timer !== null && timer.at <= end; timer = this.#next()) {
      this.#timers.delete(timer.seq);
      this.#now = timer.at;
      timer.fn();
    }
    this.#now = end;
  }

  #next(): Timer | null {
    let first: Timer | null = null;
    for (const timer of this.#timers.values()) {
      if (
        first === null || timer.at < first.at || (timer.at === first.at && timer.seq < first.seq)
      ) {
        first = timer;
      }
    }
    return first;
  }
}

/** Lets promise callbacks run (those resolved by a fake timer). */
export async function settle(): Promise<void> {
  for (let i = 0; i < 10; i++) await Promise.resolve();
}

/** A seeded PRNG (mulberry32): the same seed gives the same sequence. */
export class Prng {
  #state: number;

  /** @param seed any 32-bit integer */
  constructor(seed: number) {
    this.#state = seed >>> 0;
  }

  /** A 32-bit unsigned integer. */
  u32(): number {
    this.#state = (this.#state + 0x6d2b79f5) >>> 0;
    let t = this.#state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }

  /** An integer from `min` to `max`, both included. */
  int(min: number, max: number): number {
    return min + (this.u32() % (max - min + 1));
  }

  /** `n` bytes. */
  bytes(n: number): Uint8Array {
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i++) out[i] = this.u32() & 0xff;
    return out;
  }
}

/** `n` random bytes from the system generator (fast, for large inputs). */
export function randomBytes(n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i += 65536) {
    crypto.getRandomValues(out.subarray(i, Math.min(n, i + 65536)));
  }
  return out;
}

/** Joins byte arrays. */
export function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

/** Whether two byte arrays hold the same bytes. */
export function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) {
    if (a[i] !== b[i]) return false;
  }
  return true;
}
