/**
 * A committed, monotonically increasing counter per database that async consumers can
 * wait on (the dirty log's counter, the history's last index). Producers raise it from
 * `tx.afterCommit`, so a rolled-back change wakes nobody.
 *
 * @module
 */

import { assert } from "../util/mod.ts";
import type { Database, ReadTx } from "./database.ts";

/** Most concurrent waiters per database and watermark. */
export const WATERMARK_WAITERS_MAX = 1_000;

interface Waiter {
  readonly after: number;
  readonly resolve: (value: number) => void;
}

/** One kind of counter (e.g. "history index"), tracked separately for every database. */
export class Watermark {
  readonly #name: string;
  readonly #read: (tx: ReadTx) => number;
  readonly #waiters = new WeakMap<Database, Set<Waiter>>();

  /**
   * @param name what the counter is, for assertion messages
   * @param read reads the committed value in a transaction
   */
  constructor(name: string, read: (tx: ReadTx) => number) {
    this.#name = name;
    this.#read = read;
  }

  /**
   * Wakes the waiters of `db` whose value is below `value`. Call it from
   * `tx.afterCommit`.
   *
   * @param db the database
   * @param value the newly committed value
   */
  raise(db: Database, value: number): void {
    const set = this.#waiters.get(db);
    if (set === undefined) return;
    for (const waiter of set) {
      if (value <= waiter.after) continue;
      set.delete(waiter);
      waiter.resolve(value);
    }
  }

  /**
   * Waits until a value above `after` is committed. Waiters are not released when the
   * database closes: pass a signal that aborts on shutdown.
   *
   * @param db the database
   * @param after the last value the caller has seen
   * @param options `signal` stops waiting
   * @returns a committed value above `after` (not necessarily the newest)
   * @throws the signal's reason when it is aborted
   */
  wait(db: Database, after: number, options: { signal?: AbortSignal } = {}): Promise<number> {
    assert(Number.isSafeInteger(after), `${this.#name}: after is an integer`);
    assert(!db.inTransaction, `${this.#name}: wait() runs outside transactions`);
    const { signal } = options;
    if (signal?.aborted === true) return Promise.reject(signal.reason);
    const current = db.read((tx) => this.#read(tx));
    if (current > after) return Promise.resolve(current);
    let set = this.#waiters.get(db);
    if (set === undefined) this.#waiters.set(db, set = new Set());
    assert(set.size < WATERMARK_WAITERS_MAX, `${this.#name}: too many waiters`);
    const pending = set;
    return new Promise<number>((resolve, reject) => {
      const onAbort = () => {
        pending.delete(waiter);
        reject(signal?.reason);
      };
      const waiter: Waiter = {
        after,
        resolve: (value) => {
          signal?.removeEventListener("abort", onAbort);
          resolve(value);
        },
      };
      pending.add(waiter);
      signal?.addEventListener("abort", onAbort, { once: true });
    });
  }
}
