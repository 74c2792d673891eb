/**
 * Waiting that an `AbortSignal` can cut short.
 *
 * @module
 */

/**
 * Waits for `promise`, or rejects with the signal's reason as soon as it aborts (at once
 * when it already has). The promise itself is not cancelled.
 *
 * @param promise what to wait for
 * @param signal the abort signal, or `undefined` to wait unconditionally
 * @returns the promise's value
 */
export function abortable<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (signal === undefined) return promise;
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener("abort", onAbort);
        resolve(value);
      },
      (error) => {
        signal.removeEventListener("abort", onAbort);
        reject(error);
      },
    );
  });
}
