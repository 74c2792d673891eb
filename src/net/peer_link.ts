/**
 * Our side of a session with one peer: say hello, subscribe to every arena we share with
 * it, apply what it announces to the unreal (and to local files where that is what the
 * marks say), and read byte ranges of its files.
 *
 * Local effects (upstream.md §3.6): when a peer replaces or removes the version of a file
 * that we have locally, unmodified, our copy is outdated. A removal deletes it (deletes
 * propagate). A replacement drops it when its mark is `watch` or `keep` (the file stays
 * visible at the new version, fetched on demand); with `own`, the file is kept and an
 * engine decision `realize` asks for the new version to replace it.
 *
 * @module
 */

import { decompressChunk } from "../delta/mod.ts";
import { getFile, type RealArena } from "../real/mod.ts";
import { type Database, markFor, setDecision } from "../storage/mod.ts";
import type { ArenaName, Hash, Mark, Notification, Path, PeerName } from "../types/mod.ts";
import { logger } from "../util/mod.ts";
import { peerProgress, type UnrealArena } from "../unreal/mod.ts";
import {
  type CatchupFile,
  CHUNK_BYTES_MAX,
  type Hello,
  type Item,
  PeerError,
  type WireNotification,
} from "./messages.ts";
import type { Session } from "./session.ts";

const log = logger("net");

/** An arena on our side of a link. */
export interface LinkedArena {
  /** Its database. */
  readonly db: Database;
  /** Its unreal (where remote changes land). */
  readonly unreal: UnrealArena;
  /** Its real, when it has a datadir (local effects). */
  readonly real: RealArena | null;
  /** The arena's default mark. */
  readonly mark: Mark;
}

/** Something a peer changed, applied here (for events and tests). */
export interface Applied {
  readonly peer: PeerName;
  readonly arena: ArenaName;
  readonly notifications: number;
  readonly catchup: boolean;
  /** Paths the batch touched (for cache invalidation). */
  readonly paths: readonly Path[];
}

/** Options of {@linkcode PeerLink}. */
export interface PeerLinkOptions {
  /** Our arenas. */
  readonly arenas: ReadonlyMap<ArenaName, LinkedArena>;
  /** What we say in our hello (our software, the batch rate we want from the peer). */
  readonly hello: Hello;
  /** Called after each batch is applied. */
  readonly onApplied?: (a: Applied) => void;
}

/** Options of {@linkcode PeerLink.read}. */
export interface ReadOptions {
  /** Background transfer (rate-limited by the peer) rather than a user waiting. */
  readonly batch?: boolean;
  /** Ask for zstd-compressed chunks. */
  readonly compress?: boolean;
  readonly signal?: AbortSignal;
}

/** Our side of one session. */
export class PeerLink {
  readonly #s: Session;
  readonly #o: PeerLinkOptions;
  readonly #stop = new AbortController();
  /** Arenas subscribed to, and the peer's hello. */
  shared: ArenaName[] = [];
  remoteHello: Hello | null = null;

  /**
   * @param session the session with the peer
   * @param options our arenas and hello
   */
  constructor(session: Session, options: PeerLinkOptions) {
    this.#s = session;
    this.#o = options;
  }

  /** The peer. */
  get peer(): PeerName {
    return this.#s.peer;
  }

  /**
   * Says hello and subscribes to every shared arena. Resolves once subscribed (the
   * subscriptions then run until the session ends or {@linkcode stop} is called).
   *
   * @throws {PeerError} when the peer refuses the hello
   */
  async start(): Promise<void> {
    const hello = await this.#s.request({ kind: "hello", ...this.#o.hello });
    if (hello.kind !== "hello") throw new PeerError("malformed", "Expected a hello");
    this.remoteHello = hello;
    const listed = await this.#s.request({ kind: "listArenas" });
    if (listed.kind !== "arenas") throw new PeerError("malformed", "Expected arenas");
    this.shared = listed.arenas.filter((a) => this.#o.arenas.has(a));
    await Promise.all(this.shared.map((a) => this.#subscribe(a)));
  }

  async #subscribe(arena: ArenaName): Promise<void> {
    const linked = this.#o.arenas.get(arena)!;
    const progress = linked.db.read((tx) => peerProgress(tx, this.peer));
    // Items are applied with the store id of the reply: they wait for it.
    const storeId = Promise.withResolvers<string>();
    const reply = await this.#s.request(
      {
        kind: "subscribe",
        arena,
        storeId: progress?.storeId ?? "",
        lastIndex: progress?.lastIndex ?? 0,
      },
      {
        streaming: true,
        signal: this.#stop.signal,
        onItem: async (item, id) => {
          if (item.kind !== "batch") return;
          await this.#apply(arena, linked, await storeId.promise, item);
          await this.#s.ack(id, item.seq);
        },
      },
    );
    if (reply.kind !== "subscribed") throw new PeerError("malformed", "Expected subscribed");
    storeId.resolve(reply.storeId);
    log.debug(`${this.peer}: subscribed to ${arena} (${reply.catchup ? "catch-up" : "resume"})`);
  }

  async #apply(
    arena: ArenaName,
    a: LinkedArena,
    storeId: string,
    item: Extract<Item, { kind: "batch" }>,
  ): Promise<void> {
    let regular: Notification[] = [];
    let files: CatchupFile[] = [];
    let catchup = false;
    const flush = async () => {
      if (files.length > 0) a.unreal.catchupFiles(this.peer, files);
      if (regular.length > 0) {
        const lastIndex = Math.max(...regular.map((n) => n.index));
        a.unreal.apply(this.peer, regular, { storeId, lastIndex });
        await this.#localEffects(a, regular);
      }
      files = [];
      regular = [];
    };
    for (const n of item.notifications as readonly WireNotification[]) {
      if (n.kind === "catchupStart") {
        await flush();
        a.unreal.catchupStart(this.peer);
        catchup = true;
      } else if (n.kind === "catchup") {
        files.push(n);
      } else if (n.kind === "catchupComplete") {
        await flush();
        a.unreal.catchupComplete(this.peer, { storeId, lastIndex: n.index });
        catchup = true;
      } else regular.push(n);
    }
    await flush();
    const count = item.notifications.length;
    const touched: Path[] = [];
    for (const n of item.notifications) {
      if ("path" in n) touched.push(n.path);
      if ("dest" in n) touched.push(n.dest);
    }
    this.#o.onApplied?.({ peer: this.peer, arena, notifications: count, catchup, paths: touched });
  }

  /** Our unmodified local copies of versions a peer replaced or removed. */
  async #localEffects(a: LinkedArena, ns: readonly Notification[]): Promise<void> {
    if (a.real === null) return;
    for (const n of ns) {
      if (n.kind !== "replace" && n.kind !== "remove") continue;
      if (n.oldHash === null) continue;
      const local = a.db.read((tx) => getFile(tx, n.path));
      if (local?.hash === null || local === null || !local.hash.equals(n.oldHash)) continue;
      if (n.kind === "remove") {
        await a.real.deleteLocal(n.path, n.oldHash, "remove");
        continue;
      }
      const mark = a.db.read((tx) => markFor(tx, n.path, a.mark));
      if (mark === "own") a.db.write((tx) => setDecision(tx, n.path, "realize"));
      else await a.real.deleteLocal(n.path, n.oldHash, "drop");
    }
  }

  /**
   * Reads a byte range of the peer's version `hash` of a file; chunks are delivered in
   * order of arrival (in offset order for one request).
   *
   * @param target the arena, path and version
   * @param range offset and length
   * @param onChunk receives each chunk's offset and bytes (decompressed). The bytes are lent:
   *   valid until the call returns (or its promise settles), then reused; copy to keep them
   * @param options batch or interactive, compression, cancellation
   * @throws {PeerError} `versionUnavailable` when the peer no longer has that version
   */
  async read(
    target: { arena: ArenaName; path: Path; hash: Hash },
    range: { offset: number; length: number },
    onChunk: (offset: number, bytes: Uint8Array) => Promise<void> | void,
    options: ReadOptions = {},
  ): Promise<void> {
    const reply = await this.#s.request({
      kind: "read",
      ...target,
      ...range,
      batch: options.batch ?? false,
      compress: options.compress ?? false,
    }, {
      ...(options.signal === undefined ? {} : { signal: options.signal }),
      onItem: (item) => {
        if (item.kind !== "chunk") return;
        const bytes = item.compressed
          ? decompressChunk(item.data, { maxSize: CHUNK_BYTES_MAX })
          : item.data;
        return onChunk(item.offset, bytes);
      },
    });
    if (reply.kind !== "readDone") throw new PeerError("malformed", "Expected readDone");
  }

  /** Ends the subscriptions (the session stays open). */
  stop(): void {
    this.#stop.abort();
  }
}
