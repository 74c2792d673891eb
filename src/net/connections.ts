/**
 * {@linkcode Connections}: at most one connection per peer, carrying both directions.
 *
 * Two connections with the same peer happen when both sides dial at once, or when a peer
 * redials while we still hold its previous connection. The rule, applied independently and
 * identically on both sides:
 *
 * - same direction (both dialled by the same side): keep the newer one. A dialler only
 *   redials after losing its connection, so the older one is dead or dying;
 * - opposite directions: keep the one dialled by the peer with the smaller public key
 *   (bytewise). Both sides compare the same two keys, so both keep the same connection.
 *
 * @module
 */

import type { PeerName } from "../types/mod.ts";
import { formatHostPort } from "../config/mod.ts";
import { logger } from "../util/mod.ts";
import type { Connection, ConnectionEnd } from "./connection.ts";

const log = logger("net");

/** A change of a peer's state. `connected` may replace a previous connection of the peer. */
export type PeerEvent =
  | { readonly type: "connected"; readonly peer: PeerName; readonly connection: Connection }
  | { readonly type: "disconnected"; readonly peer: PeerName; readonly end: ConnectionEnd };

/**
 * Compares two keys bytewise.
 *
 * @param a a key
 * @param b another key of the same length
 * @returns negative, zero or positive, like a sort comparator
 */
export function compareKeys(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    if (a[i] !== b[i]) return a[i]! - b[i]!;
  }
  return a.length - b.length;
}

/** The current connection of each peer. */
export class Connections {
  #localKey: Uint8Array;
  #current = new Map<PeerName, Connection>();
  #listeners = new Set<(event: PeerEvent) => void>();
  #closing = false;

  /** @param localPublicKey this peer's 32-byte public key (for the tie-break rule) */
  constructor(localPublicKey: Uint8Array) {
    this.#localKey = localPublicKey;
  }

  /**
   * Registers a new authenticated connection; if the peer already has one, keeps one of the
   * two by the rule above and closes the other.
   *
   * @param connection a connection just made by `connect` or `listen`
   * @returns true when `connection` is now the peer's connection, false when it was closed
   */
  add(connection: Connection): boolean {
    if (this.#closing || connection.end !== null) {
      void connection.close("shutting down");
      return false;
    }
    const existing = this.#current.get(connection.peer);
    if (existing !== undefined && existing.end === null) {
      const keepNew = this.#prefer(connection, existing);
      const loser = keepNew ? existing : connection;
      const same = connection.direction === existing.direction;
      const reason = same ? "replaced by a newer connection" : "duplicate connection";
      log.info(`closing ${loser.direction} connection with ${loser}: ${reason}`);
      void loser.close(reason);
      if (!keepNew) return false;
    }
    this.#current.set(connection.peer, connection);
    void connection.closed.then((end) => this.#closed(connection, end));
    const addr = formatHostPort(connection.remoteAddress);
    log.info(`${connection.peer} connected (${connection.direction}, ${addr})`);
    this.#emit({ type: "connected", peer: connection.peer, connection });
    return true;
  }

  #prefer(added: Connection, existing: Connection): boolean {
    if (added.direction === existing.direction) return true;
    const dialler = (c: Connection) =>
      c.direction === "outgoing" ? this.#localKey : c.remotePublicKey;
    return compareKeys(dialler(added), dialler(existing)) < 0;
  }

  #closed(connection: Connection, end: ConnectionEnd): void {
    if (this.#current.get(connection.peer) !== connection) return;
    this.#current.delete(connection.peer);
    log.info(`${connection.peer} disconnected (${end.by}): ${end.reason}`);
    this.#emit({ type: "disconnected", peer: connection.peer, end });
  }

  #emit(event: PeerEvent): void {
    for (const listener of [...this.#listeners]) {
      try {
        listener(event);
      } catch (error) {
        log.error(`a listener of ${event.type} ${event.peer} failed`, error);
      }
    }
  }

  /**
   * The peer's current connection.
   *
   * @param peer a peer name
   * @returns the connection, or `undefined` when the peer is not connected
   */
  get(peer: PeerName): Connection | undefined {
    return this.#current.get(peer);
  }

  /** The connected peers. */
  get peers(): PeerName[] {
    return [...this.#current.keys()];
  }

  /**
   * Calls `listener` on every change from now on.
   *
   * @param listener receives events; it must not throw (errors are logged)
   * @returns a function that unsubscribes
   */
  subscribe(listener: (event: PeerEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /**
   * Waits until the peer has no connection.
   *
   * @param peer a peer name
   * @param signal stops waiting (the promise then resolves too)
   * @returns resolves at once when the peer is not connected
   */
  waitDisconnected(peer: PeerName, signal?: AbortSignal): Promise<void> {
    if (!this.#current.has(peer) || signal?.aborted) return Promise.resolve();
    const { promise, resolve } = Promise.withResolvers<void>();
    const done = () => {
      unsubscribe();
      signal?.removeEventListener("abort", done);
      resolve();
    };
    const unsubscribe = this.subscribe((e) => {
      if (e.type === "disconnected" && e.peer === peer) done();
    });
    signal?.addEventListener("abort", done);
    return promise;
  }

  /**
   * Closes every connection and refuses new ones.
   *
   * @param reason told to the peers
   */
  async close(reason = "shutting down"): Promise<void> {
    this.#closing = true;
    await Promise.all([...this.#current.values()].map((c) => c.close(reason)));
  }
}
