/**
 * A timer that aborts a handshake by closing its socket: a pending read or TLS handshake then
 * fails, and the caller reports a timeout rather than what the close caused.
 *
 * @module
 */

/** An armed deadline. */
export class Deadline {
  #timer: ReturnType<typeof setTimeout>;
  #expired = false;

  /**
   * @param ms when it fires
   * @param onExpire what to do then (close the socket); errors are ignored
   */
  constructor(ms: number, onExpire: () => void) {
    this.#timer = setTimeout(() => {
      this.#expired = true;
      try {
        onExpire();
      } catch {
        // the socket was already closed
      }
    }, ms);
  }

  /** Whether it fired. */
  get expired(): boolean {
    return this.#expired;
  }

  /** Disarms it. */
  clear(): void {
    clearTimeout(this.#timer);
  }
}

/**
 * Closes a socket, ignoring "already closed".
 *
 * @param conn the socket
 */
export function closeQuietly(conn: { close(): void } | null): void {
  try {
    conn?.close();
  } catch {
    // already closed
  }
}
