/**
 * The household seen from this peer: the listener and dialers, one session per connected
 * peer (serving our store to it, and our link subscribing to it), and reads of remote
 * file ranges from whichever connected peer has the wanted version.
 *
 * @module
 */

import type { HostPort, PeerConfig } from "../config/mod.ts";
import type { DeltaPool } from "../delta/mod.ts";
import type { KeyPair } from "../keys/mod.ts";
import type { ArenaName, Hash, Path, PeerName } from "../types/mod.ts";
import { peersWith } from "../unreal/mod.ts";
import { logger } from "../util/mod.ts";
import type { ConnectionOptions } from "./connection.ts";
import { Connections, type PeerEvent } from "./connections.ts";
import { type Backoff, PeerDialer } from "./dialer.ts";
import { listen, type PeerListener } from "./listen.ts";
import { type Hello, PeerError, PROTOCOL_VERSION } from "./messages.ts";
import { type Applied, type LinkedArena, PeerLink, type ReadOptions } from "./peer_link.ts";
import { Session } from "./session.ts";
import { type ServedArena, Store } from "./store.ts";

const log = logger("net");

/** An arena in the household: served to peers and kept in sync from them. */
export interface HouseholdArena extends ServedArena, LinkedArena {}

/** Options of {@linkcode Household.start}. */
export interface HouseholdOptions {
  /** This peer's keys. */
  readonly keys: KeyPair;
  /** The `[[peer]]` entries. */
  readonly peers: readonly PeerConfig[];
  /** Where to listen, or `null` to only dial. */
  readonly listen: HostPort | null;
  /** The arenas, by name. */
  readonly arenas: ReadonlyMap<ArenaName, HouseholdArena>;
  /** Software version, for hellos. */
  readonly software: string;
  /** rsync and compression workers. */
  readonly deltas: DeltaPool;
  /** Connection tunables (tests shorten the heartbeat). */
  readonly connection?: ConnectionOptions;
  /** Redial backoff (tests shorten it). */
  readonly backoff?: Backoff;
  /** Called after each batch a peer sent is applied. */
  readonly onApplied?: (a: Applied) => void;
}

/** What `peers` reports of a peer. */
export interface PeerState {
  readonly name: PeerName;
  readonly address: string | null;
  readonly connected: boolean;
  readonly direction: "incoming" | "outgoing" | null;
  /** Arenas subscribed to on this peer. */
  readonly arenas: readonly ArenaName[];
  readonly bytesSent: number;
  readonly bytesReceived: number;
}

/** This peer's part in the household. */
export class Household {
  readonly connections: Connections;
  readonly #o: HouseholdOptions;
  readonly #store: Store;
  readonly #links = new Map<PeerName, { session: Session; link: PeerLink }>();
  readonly #dialers = new Map<PeerName, PeerDialer>();
  #listener: PeerListener | null = null;
  #unsubscribe: () => void = () => {};

  private constructor(o: HouseholdOptions) {
    this.#o = o;
    this.connections = new Connections(o.keys.publicKey.raw);
    this.#store = new Store({ arenas: o.arenas, software: o.software, deltas: o.deltas });
  }

  /**
   * Listens (when an address is given) and dials every peer with an address.
   *
   * @param options see {@linkcode HouseholdOptions}
   * @returns the running household
   * @throws {Error} when the listen address cannot be bound
   */
  static async start(options: HouseholdOptions): Promise<Household> {
    const h = new Household(options);
    h.#unsubscribe = h.connections.subscribe((e) => h.#onPeer(e));
    const identities = options.peers.map((p) => ({ name: p.name, pubkey: p.pubkey }));
    if (options.listen !== null) {
      h.#listener = await listen({
        address: options.listen,
        keys: options.keys,
        peers: identities,
        onConnection: (c) => void h.connections.add(c),
        ...(options.connection === undefined ? {} : { connection: options.connection }),
      });
    }
    for (const p of options.peers) if (p.address !== null) h.#dial(p);
    return h;
  }

  /** The port listened on, or `null`. */
  get port(): number | null {
    return this.#listener?.port ?? null;
  }

  #dial(p: PeerConfig): void {
    if (p.address === null || this.#dialers.has(p.name)) return;
    this.#dialers.set(
      p.name,
      new PeerDialer({ name: p.name, pubkey: p.pubkey, address: p.address }, {
        keys: this.#o.keys,
        connections: this.connections,
        ...(this.#o.backoff === undefined ? {} : { backoff: this.#o.backoff }),
        ...(this.#o.connection === undefined ? {} : { connection: this.#o.connection }),
      }),
    );
  }

  #hello(peer: PeerName): Hello {
    const rate = this.#o.peers.find((p) => p.name === peer)?.batchRateLimitBytesPerSec ?? 0;
    return { version: PROTOCOL_VERSION, batchRateLimit: rate, software: this.#o.software };
  }

  #onPeer(e: PeerEvent): void {
    this.#links.get(e.peer)?.link.stop();
    this.#links.delete(e.peer);
    if (e.type !== "connected") return;
    const hello = this.#hello(e.peer);
    const session = new Session(e.connection, this.#store.handler(e.peer, hello));
    const link = new PeerLink(session, {
      arenas: this.#o.arenas,
      hello,
      ...(this.#o.onApplied === undefined ? {} : { onApplied: this.#o.onApplied }),
    });
    this.#links.set(e.peer, { session, link });
    link.start().catch((error) => {
      if (!session.closed) log.warn(`${e.peer}: cannot start syncing`, error);
    });
  }

  /**
   * Reads a byte range of version `hash` of a remote file from a connected peer that has
   * it (trying the next one if a peer fails).
   *
   * @param target arena, path and version
   * @param range offset and length
   * @param onChunk receives each chunk's offset and bytes, lent: valid until the call
   *   returns (or its promise settles), then reused; copy to keep them
   * @param options batch or interactive, compression, cancellation
   * @throws {PeerError} `versionUnavailable` when no connected peer has that version
   */
  async read(
    target: { arena: ArenaName; path: Path; hash: Hash },
    range: { offset: number; length: number },
    onChunk: (offset: number, bytes: Uint8Array) => Promise<void> | void,
    options: ReadOptions = {},
  ): Promise<void> {
    const arena = this.#o.arenas.get(target.arena);
    const owners = arena === undefined
      ? []
      : arena.db.read((tx) => peersWith(tx, target.path, target.hash));
    let last: unknown = null;
    for (const peer of owners) {
      const l = this.#links.get(peer);
      if (l === undefined || l.session.closed) continue;
      try {
        return await l.link.read(target, range, onChunk, options);
      } catch (error) {
        if (options.signal?.aborted === true) throw error;
        last = error;
        log.debug(`${peer}: read of ${target.arena}/${target.path} failed; trying another peer`);
      }
    }
    throw new PeerError(
      "versionUnavailable",
      `No connected peer has "${target.arena}/${target.path}" version ${target.hash}`,
      last === null ? undefined : { cause: last },
    );
  }

  /**
   * The peers and their connections.
   *
   * @returns one entry per configured peer
   */
  peers(): PeerState[] {
    return this.#o.peers.map((p) => {
      const c = this.connections.get(p.name);
      const open = c !== undefined && c.end === null;
      return {
        name: p.name,
        address: p.address === null ? null : `${p.address.host}:${p.address.port}`,
        connected: open,
        direction: open ? c.direction : null,
        arenas: this.#links.get(p.name)?.link.shared ?? [],
        bytesSent: c?.bytesSent ?? 0,
        bytesReceived: c?.bytesReceived ?? 0,
      };
    });
  }

  /**
   * Dials a peer now (or again, after {@linkcode disconnect}).
   *
   * @param peer the peer
   * @throws {PeerError} when the peer is not configured
   */
  connect(peer: PeerName): void {
    const p = this.#o.peers.find((x) => x.name === peer);
    if (p === undefined) throw new PeerError("notFound", `Unknown peer "${peer}"`);
    const d = this.#dialers.get(peer);
    if (d !== undefined) d.connectNow();
    else this.#dial(p);
  }

  /**
   * Drops the connection to a peer and stops dialling it until {@linkcode connect}.
   *
   * @param peer the peer
   */
  async disconnect(peer: PeerName): Promise<void> {
    const d = this.#dialers.get(peer);
    this.#dialers.delete(peer);
    await d?.stop();
    await this.connections.get(peer)?.close("disconnected by the user");
  }

  /** Stops listening and dialling and closes every connection. */
  async stop(): Promise<void> {
    await this.#listener?.close();
    await Promise.all([...this.#dialers.values()].map((d) => d.stop()));
    this.#dialers.clear();
    for (const { link } of this.#links.values()) link.stop();
    await this.connections.close();
    await Promise.all([...this.#links.values()].map(({ session }) => session.done));
    this.#unsubscribe();
  }
}
