/**
 * {@linkcode PeerDialer}: keeps one peer connected. It dials when the peer has no connection
 * (in either direction), and after a failure or a short-lived connection waits an exponential
 * backoff with jitter before the next attempt; a connection that lasted resets the backoff, so
 * its loss is redialled at once.
 *
 * @module
 */

import type { HostPort } from "../config/mod.ts";
import type { KeyPair } from "../keys/mod.ts";
import { logger } from "../util/mod.ts";
import { connect } from "./connect.ts";
import type { ConnectionOptions, PeerIdentity } from "./connection.ts";
import type { Connections } from "./connections.ts";

/** First backoff after a failure. */
export const BACKOFF_INITIAL_MS = 500;
/** Longest backoff. */
export const BACKOFF_MAX_MS = 5 * 60_000;
/** A connection that lasted this long resets the backoff. */
export const CONNECTION_STABLE_MS = 30_000;

const log = logger("net");

/** Backoff parameters. */
export interface Backoff {
  /** Default {@linkcode BACKOFF_INITIAL_MS}. */
  readonly initialMs?: number;
  /** Default {@linkcode BACKOFF_MAX_MS}. */
  readonly maxMs?: number;
  /** Default {@linkcode CONNECTION_STABLE_MS}. */
  readonly stableMs?: number;
  /** Jitter source in [0, 1); default `Math.random`. */
  readonly random?: () => number;
}

/**
 * The wait before the next attempt: none after no failure, then `initialMs` doubling up to
 * `maxMs`, with "equal jitter" (a random point in the upper half) so peers that lost each other
 * at the same moment do not redial in lockstep.
 *
 * @param failures consecutive failed attempts (short-lived connections count)
 * @param backoff parameters
 * @returns milliseconds to wait
 */
export function backoffDelayMs(failures: number, backoff: Backoff = {}): number {
  if (failures <= 0) return 0;
  const initial = backoff.initialMs ?? BACKOFF_INITIAL_MS;
  const max = backoff.maxMs ?? BACKOFF_MAX_MS;
  const base = Math.min(max, initial * 2 ** Math.min(failures - 1, 52));
  return base / 2 + (backoff.random ?? Math.random)() * base / 2;
}

/** A peer with an address to dial. */
export interface DialTarget extends PeerIdentity {
  /** Where to dial it. */
  readonly address: HostPort;
}

/** Options of {@linkcode PeerDialer}. */
export interface DialerOptions {
  /** This peer's keys. */
  readonly keys: KeyPair;
  /** Where connections go; the dialer waits while it holds one for the peer. */
  readonly connections: Connections;
  /** Backoff parameters. */
  readonly backoff?: Backoff;
  /** Bound on each attempt; default `HANDSHAKE_TIMEOUT_MS`. */
  readonly timeoutMs?: number;
  /** Tunables of the connections made. */
  readonly connection?: ConnectionOptions;
}

/** Keeps one peer connected until stopped. Starts dialling when constructed. */
export class PeerDialer {
  /** The peer. */
  readonly peer: DialTarget;
  #options: DialerOptions;
  #stop = new AbortController();
  #wake: (() => void) | null = null;
  #failures = 0;
  #loop: Promise<void>;

  /**
   * @param peer the peer and its address
   * @param options see {@linkcode DialerOptions}
   */
  constructor(peer: DialTarget, options: DialerOptions) {
    this.peer = peer;
    this.#options = options;
    this.#loop = this.#run();
  }

  /** Consecutive failed attempts (reset by a connection that lasted). */
  get failures(): number {
    return this.#failures;
  }

  /** Ends a backoff wait now, so the next attempt starts at once. */
  connectNow(): void {
    this.#wake?.();
  }

  /** Stops dialling and aborts an attempt in progress; the peer's connection stays open. */
  async stop(): Promise<void> {
    this.#stop.abort();
    this.#wake?.();
    await this.#loop;
  }

  async #run(): Promise<void> {
    const { connections } = this.#options;
    const signal = this.#stop.signal;
    while (!signal.aborted) {
      await connections.waitDisconnected(this.peer.name, signal);
      const delayMs = backoffDelayMs(this.#failures, this.#options.backoff);
      if (delayMs > 0) {
        log.debug(`next attempt to reach ${this.peer.name} in ${Math.round(delayMs)} ms`);
        await this.#sleep(delayMs);
      }
      if (signal.aborted) return;
      let startedMs: number;
      try {
        const connection = await connect(this.peer, this.peer.address, {
          keys: this.#options.keys,
          signal,
          ...(this.#options.timeoutMs !== undefined && { timeoutMs: this.#options.timeoutMs }),
          ...(this.#options.connection && { connection: this.#options.connection }),
        });
        connections.add(connection);
        startedMs = performance.now();
      } catch {
        // connect() logged the attempt
        this.#failures++;
        continue;
      }
      await connections.waitDisconnected(this.peer.name, signal);
      const stableMs = this.#options.backoff?.stableMs ?? CONNECTION_STABLE_MS;
      this.#failures = performance.now() - startedMs >= stableMs ? 0 : this.#failures + 1;
    }
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.#wake = null;
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.#wake = done;
    });
  }
}

/**
 * Starts a dialer for every peer that has an address; peers without one only reach us.
 *
 * @param peers the `[[peer]]` entries
 * @param options see {@linkcode DialerOptions}
 * @returns the dialers started, in `peers` order
 */
export function dialPeers(
  peers: readonly (PeerIdentity & { readonly address: HostPort | null })[],
  options: DialerOptions,
): PeerDialer[] {
  const dialers: PeerDialer[] = [];
  for (const peer of peers) {
    if (peer.address !== null) {
      dialers.push(new PeerDialer({ ...peer, address: peer.address }, options));
    }
  }
  return dialers;
}
