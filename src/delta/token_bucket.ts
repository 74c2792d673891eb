/**
 * Rate limiting for a peer's batch traffic (`batch_rate_limit`): a token bucket with a
 * fair FIFO of waiters.
 *
 * Tokens are bytes. They flow in at `bytesPerSec`; while nobody waits, at most `burstBytes`
 * are kept. {@linkcode TokenBucket.take} resolves once its bytes are paid for, in the order
 * the calls were made. While a caller waits, tokens accumulate past the burst for it, so a
 * request larger than the burst waits `n / bytesPerSec` and never deadlocks. The bucket
 * starts empty (unless told otherwise), so that from the start, bytes granted never exceed
 * `initialBytes + bytesPerSec × elapsed`.
 *
 * @module
 */

/** A timer handle of {@linkcode Clock.setTimeout}. */
export type TimerHandle = ReturnType<typeof setTimeout>;

/** Time for the bucket; tests pass a fake one (STYLE habit 13). */
export interface Clock {
  /** Milliseconds on a monotonic scale, e.g. `performance.now()`. */
  now(): number;
  /** Calls `fn` after `ms` milliseconds; returns a handle for {@linkcode Clock.clearTimeout}. */
  setTimeout(fn: () => void, ms: number): TimerHandle;
  /** Cancels a call planned by {@linkcode Clock.setTimeout}. */
  clearTimeout(handle: TimerHandle): void;
}

/** The real clock: `performance.now()` and the global timers. */
export const REAL_CLOCK: Clock = {
  now: () => performance.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (handle) => clearTimeout(handle),
};

/** Most callers waiting on one bucket; more is a bug (callers are a peer's streams). */
export const TOKEN_WAITERS_MAX = 65536;

/**
 * Default burst: 50 ms of traffic, at least 16 KiB (deno-network.md Q6: a timer waits
 * about 2 ms, so a burst under 2 ms of traffic cannot keep up).
 */
export const BURST_SECONDS_DEFAULT = 0.05;
/** See {@linkcode BURST_SECONDS_DEFAULT}. */
export const BURST_BYTES_MIN_DEFAULT = 16 << 10;

/** Rounding slack when comparing tokens, in bytes: rates times milliseconds are inexact. */
const TOKEN_EPSILON = 1e-6;

/** Options of {@linkcode RateLimiter.take}. */
export interface TakeOptions {
  /** Aborting rejects the call with `signal.reason` and gives its place to the next. */
  readonly signal?: AbortSignal;
}

/** Something that lets bytes through at some rate. */
export interface RateLimiter {
  /**
   * Waits until `n` bytes may be sent.
   *
   * @param n bytes, a non-negative safe integer
   * @param options an abort signal
   * @returns once the bytes are granted
   * @throws {RangeError} for an invalid `n`
   */
  take(n: number, options?: TakeOptions): Promise<void>;
}

/** Options of {@linkcode TokenBucket}. */
export interface TokenBucketOptions {
  /** The rate, in bytes per second; positive and finite. */
  readonly bytesPerSec: number;
  /** Tokens kept while idle; defaults to 50 ms of traffic, at least 16 KiB. */
  readonly burstBytes?: number;
  /** Tokens at the start, up to `burstBytes`; 0 unless told. */
  readonly initialBytes?: number;
  /** Time source; {@linkcode REAL_CLOCK} unless told. */
  readonly clock?: Clock;
}

interface Waiter {
  readonly need: number;
  readonly resolve: () => void;
  readonly reject: (reason: unknown) => void;
  readonly signal: AbortSignal | undefined;
  onAbort: (() => void) | null;
}

function checkBytes(n: number): void {
  if (!Number.isSafeInteger(n) || n < 0) {
    throw new RangeError(`Invalid byte count ${n}: expected a non-negative safe integer`);
  }
}

function checkPositive(value: number, what: string): void {
  if (!Number.isFinite(value) || value <= 0) {
    throw new RangeError(`Invalid ${what} ${value}: expected a positive finite number`);
  }
}

/** A rate limiter that never waits: a peer without `batch_rate_limit`. */
export class Unlimited implements RateLimiter {
  /**
   * Grants `n` bytes at once.
   *
   * @param n bytes, a non-negative safe integer
   * @param options an abort signal: an aborted one rejects
   */
  take(n: number, options: TakeOptions = {}): Promise<void> {
    checkBytes(n);
    if (options.signal?.aborted) return Promise.reject(options.signal.reason);
    return Promise.resolve();
  }
}

/**
 * The limiter for a configured rate: a {@linkcode TokenBucket}, or {@linkcode Unlimited}
 * when the rate is absent or at most 0 (as `batch_rate_limit ≤ 0` disables it upstream).
 *
 * @param bytesPerSec the rate, or undefined
 * @returns the limiter
 */
export function rateLimiter(bytesPerSec: number | undefined): RateLimiter {
  if (bytesPerSec === undefined || bytesPerSec <= 0) return new Unlimited();
  return new TokenBucket({ bytesPerSec });
}

/** A token bucket of bytes with a fair FIFO of waiters. */
export class TokenBucket implements RateLimiter {
  readonly #rate: number;
  readonly #burst: number;
  readonly #clock: Clock;
  readonly #waiters: Waiter[] = [];
  #tokens: number;
  #updated: number;
  #timer: TimerHandle | null = null;

  /**
   * @param options the rate, the burst, and optionally the clock
   * @throws {RangeError} for a rate, burst or initial amount that is not valid
   */
  constructor(options: TokenBucketOptions) {
    checkPositive(options.bytesPerSec, "rate");
    const burst = options.burstBytes ??
      Math.max(BURST_BYTES_MIN_DEFAULT, options.bytesPerSec * BURST_SECONDS_DEFAULT);
    checkPositive(burst, "burst");
    const initial = options.initialBytes ?? 0;
    if (!(initial >= 0 && initial <= burst)) {
      throw new RangeError(`Invalid initial bytes ${initial}: expected 0 to the burst, ${burst}`);
    }
    this.#rate = options.bytesPerSec;
    this.#burst = burst;
    this.#clock = options.clock ?? REAL_CLOCK;
    this.#tokens = initial;
    this.#updated = this.#clock.now();
  }

  /** Tokens available now (bytes), for reports and tests. */
  get tokens(): number {
    this.#refill();
    return this.#tokens;
  }

  /** Callers waiting. */
  get waiting(): number {
    return this.#waiters.length;
  }

  /**
   * Waits until `n` bytes are paid for, after every earlier call. `take(0)` waits its turn
   * too; a request larger than the burst waits for all its tokens.
   *
   * @param n bytes, a non-negative safe integer
   * @param options an abort signal
   * @returns once the bytes are granted
   * @throws {RangeError} for an invalid `n`, or when {@linkcode TOKEN_WAITERS_MAX} callers
   *   already wait
   */
  take(n: number, options: TakeOptions = {}): Promise<void> {
    checkBytes(n);
    const { signal } = options;
    if (signal?.aborted) return Promise.reject(signal.reason);
    this.#refill();
    if (this.#waiters.length === 0 && this.#tokens + TOKEN_EPSILON >= n) {
      this.#tokens -= n;
      return Promise.resolve();
    }
    if (this.#waiters.length >= TOKEN_WAITERS_MAX) {
      throw new RangeError(`Cannot take bytes: ${TOKEN_WAITERS_MAX} callers already wait`);
    }
    const { promise, resolve, reject } = Promise.withResolvers<void>();
    const waiter: Waiter = { need: n, resolve, reject, signal, onAbort: null };
    if (signal !== undefined) {
      waiter.onAbort = () => this.#abort(waiter);
      signal.addEventListener("abort", waiter.onAbort, { once: true });
    }
    this.#waiters.push(waiter);
    this.#pump();
    return promise;
  }

  /** Adds the tokens that flowed in since the last update; caps them while nobody waits. */
  #refill(): void {
    const now = this.#clock.now();
    const elapsed = Math.max(0, now - this.#updated);
    this.#updated = now;
    this.#tokens += (elapsed * this.#rate) / 1000;
    if (this.#waiters.length === 0) this.#tokens = Math.min(this.#tokens, this.#burst);
  }

  /** Grants the waiters at the head that are paid for; plans a wake-up for the next one. */
  #pump(): void {
    if (this.#timer !== null) this.#clock.clearTimeout(this.#timer);
    this.#timer = null;
    this.#refill();
    while (this.#waiters.length > 0 && this.#tokens + TOKEN_EPSILON >= this.#waiters[0]!.need) {
      const waiter = this.#waiters.shift()!;
      this.#tokens -= waiter.need;
      this.#settle(waiter);
      waiter.resolve();
    }
    if (this.#waiters.length === 0) {
      this.#tokens = Math.min(this.#tokens, this.#burst);
      return;
    }
    const deficit = this.#waiters[0]!.need - this.#tokens;
    const ms = Math.max(1, Math.ceil((deficit * 1000) / this.#rate));
    this.#timer = this.#clock.setTimeout(() => {
      this.#timer = null;
      this.#pump();
    }, ms);
  }

  #abort(waiter: Waiter): void {
    const index = this.#waiters.indexOf(waiter);
    if (index === -1) return;
    this.#refill();
    this.#waiters.splice(index, 1);
    this.#settle(waiter);
    waiter.reject(waiter.signal?.reason);
    this.#pump();
  }

  #settle(waiter: Waiter): void {
    if (waiter.onAbort !== null) waiter.signal?.removeEventListener("abort", waiter.onAbort);
    waiter.onAbort = null;
  }
}
