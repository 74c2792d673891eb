/**
 * What this peer serves to the others (docs/protocol.md): its arenas, its history
 * (replayed from a saved position, or a full catch-up), byte ranges of its local files,
 * and rsync deltas. One {@linkcode Store} answers every peer; each session gets a handler
 * that knows which peer asks and how fast it wants background data.
 *
 * Nothing a peer asks can reach outside an arena: paths are validated when decoded, files
 * are opened only through the index (a path must be an indexed local file), and a read
 * checks the file is still the version asked for, before and after reading it.
 *
 * @module
 */

import { type DeltaPool, type RateLimiter, rateLimiter } from "../delta/mod.ts";
import {
  ackHistory,
  canResume,
  filesAfter,
  getFile,
  historyAfter,
  type IndexEntry,
  lastIndex,
  storeId,
  translate,
  waitForHistory,
} from "../real/mod.ts";
import type { Database } from "../storage/mod.ts";
import type { ArenaName, PeerName } from "../types/mod.ts";
import { lstat } from "../../ffi/libc/mod.ts";
import {
  CHUNK_BYTES_MAX,
  type Hello,
  PeerError,
  PROTOCOL_VERSION,
  type Reply,
  type Request,
  RSYNC_BYTES_MAX,
  type WireNotification,
} from "./messages.ts";
import type { RequestContext, RequestHandler } from "./session.ts";

/** Bytes per chunk of a read (several chunks in flight keep the link busy). */
export const READ_CHUNK_BYTES = 256 * 1024;
/** History entries per notification batch. */
export const BATCH_ENTRIES = 256;
/** Files per catch-up batch. */
export const CATCHUP_FILES = 512;
/** Batches a subscriber may leave unacknowledged before the publisher waits. */
export const BATCH_WINDOW = 4;

/** An arena this peer serves. */
export interface ServedArena {
  /** Its database: index and history. */
  readonly db: Database;
  /** Its datadir (absolute), or `null` when nothing is local. */
  readonly datadir: string | null;
}

/** Options of {@linkcode Store}. */
export interface StoreOptions {
  /** The arenas served, by name. */
  readonly arenas: ReadonlyMap<ArenaName, ServedArena>;
  /** Software version, for the hello. */
  readonly software: string;
  /** Computes rsync deltas off the main thread. */
  readonly deltas: DeltaPool;
}

/** Per-session state: who asks, and at what rate they want background data. */
interface Asker {
  readonly peer: PeerName;
  batch: RateLimiter;
}

/** Serves this peer's arenas to the others. */
export class Store {
  readonly #o: StoreOptions;

  /** @param options see {@linkcode StoreOptions} */
  constructor(options: StoreOptions) {
    this.#o = options;
  }

  /**
   * The handler of one session.
   *
   * @param peer the peer of the session
   * @param hello what we tell the peer when it says hello
   * @returns the request handler
   */
  handler(peer: PeerName, hello: Hello): RequestHandler {
    const asker: Asker = { peer, batch: rateLimiter(undefined) };
    return (req, ctx) => this.#handle(asker, hello, req, ctx);
  }

  #handle(asker: Asker, hello: Hello, req: Request, ctx: RequestContext): Promise<Reply | null> {
    switch (req.kind) {
      case "hello":
        if (req.version !== PROTOCOL_VERSION) {
          throw new PeerError(
            "unsupported",
            `Protocol version ${req.version} is not ${PROTOCOL_VERSION}`,
          );
        }
        asker.batch = rateLimiter(req.batchRateLimit > 0 ? req.batchRateLimit : undefined);
        return Promise.resolve({ kind: "hello", ...hello });
      case "listArenas":
        return Promise.resolve({ kind: "arenas", arenas: [...this.#o.arenas.keys()] });
      case "subscribe":
        return this.#subscribe(asker, req, ctx);
      case "read":
        return this.#read(asker, req, ctx);
      case "rsync":
        return this.#rsync(req, ctx);
    }
  }

  #arena(name: ArenaName): ServedArena {
    const a = this.#o.arenas.get(name);
    if (a === undefined) throw new PeerError("unknownArena", `Unknown arena "${name}"`);
    return a;
  }

  async #subscribe(
    asker: Asker,
    req: Extract<Request, { kind: "subscribe" }>,
    ctx: RequestContext,
  ): Promise<null> {
    const { db } = this.#arena(req.arena);
    const peer = asker.peer;
    const start = db.read((tx) => {
      const id = storeId(tx);
      return { id, resume: req.storeId === id && canResume(tx, peer, req.lastIndex) };
    });
    await ctx.reply({ kind: "subscribed", storeId: start.id, catchup: !start.resume });
    const stream = new BatchStream(db, peer, asker, ctx);
    let last = start.resume ? req.lastIndex : await stream.catchup();
    while (!ctx.signal.aborted) {
      const notes = db.read((tx) => {
        const entries = historyAfter(tx, last, BATCH_ENTRIES);
        const out = entries.flatMap((e) => translate(tx, e));
        return { out, next: entries.at(-1)?.index ?? last };
      });
      if (notes.next === last) {
        await waitForHistory(db, last, { signal: ctx.signal }).catch(() => {});
        continue;
      }
      last = notes.next;
      await stream.send(notes.out, last);
    }
    return null;
  }

  async #read(
    asker: Asker,
    req: Extract<Request, { kind: "read" }>,
    ctx: RequestContext,
  ): Promise<Reply> {
    const arena = this.#arena(req.arena);
    const entry = arena.db.read((tx) => getFile(tx, req.path));
    if (arena.datadir === null || entry === null) {
      throw new PeerError("notFound", `No local file "${req.arena}/${req.path}"`);
    }
    const abs = `${arena.datadir}/${req.path}`;
    if (entry.hash === null || !entry.hash.equals(req.hash) || !unchanged(abs, entry)) {
      throw new PeerError(
        "versionUnavailable",
        `"${req.arena}/${req.path}" is not version ${req.hash} here`,
      );
    }
    const end = Math.min(entry.size, req.offset + req.length);
    using file = await Deno.open(abs, { read: true });
    const buffer = new Uint8Array(Math.min(READ_CHUNK_BYTES, CHUNK_BYTES_MAX));
    for (let at = req.offset; at < end && !ctx.signal.aborted;) {
      const n = await readAt(file, buffer.subarray(0, Math.min(buffer.length, end - at)), at);
      if (n === 0) break;
      const raw = buffer.subarray(0, n);
      // Compression runs in the pool: 1 MiB inline stalls the main thread 7–15 ms.
      const c = req.compress
        ? await this.#o.deltas.compressChunk(raw.slice(), { signal: ctx.signal })
        : { data: raw, compressed: false };
      if (req.batch) await asker.batch.take(c.data.length, { signal: ctx.signal });
      await ctx.item({
        kind: "chunk",
        offset: at,
        data: c.data,
        compressed: c.compressed,
        rawLength: n,
      });
      at += n;
    }
    if (!unchanged(abs, entry)) {
      throw new PeerError("versionUnavailable", `"${req.arena}/${req.path}" changed while read`);
    }
    return { kind: "readDone" };
  }

  async #rsync(req: Extract<Request, { kind: "rsync" }>, ctx: RequestContext): Promise<Reply> {
    if (req.length > RSYNC_BYTES_MAX) {
      throw new PeerError("tooLarge", `An rsync range is at most ${RSYNC_BYTES_MAX} bytes`);
    }
    const arena = this.#arena(req.arena);
    const entry = arena.db.read((tx) => getFile(tx, req.path));
    const abs = arena.datadir === null ? null : `${arena.datadir}/${req.path}`;
    if (
      abs === null || entry === null || entry.hash === null || !entry.hash.equals(req.hash) ||
      !unchanged(abs, entry)
    ) {
      throw new PeerError(
        "versionUnavailable",
        `"${req.arena}/${req.path}" is not version ${req.hash} here`,
      );
    }
    const end = Math.min(entry.size, req.offset + req.length);
    const bytes = new Uint8Array(Math.max(0, end - req.offset));
    using file = await Deno.open(abs, { read: true });
    for (let at = 0; at < bytes.length;) {
      const n = await readAt(file, bytes.subarray(at), req.offset + at);
      if (n === 0) break;
      at += n;
    }
    const delta = await this.#o.deltas.delta(req.signature, bytes, { signal: ctx.signal });
    return { kind: "delta", delta };
  }
}

/** Sends a subscription's batches with a window of unacknowledged ones. */
class BatchStream {
  #seq = 0;
  #acked = 0;
  readonly #indexOf = new Map<number, number>();
  #wake: (() => void) | null = null;

  constructor(
    readonly db: Database,
    readonly peer: PeerName,
    readonly asker: Asker,
    readonly ctx: RequestContext,
  ) {
    ctx.onAck((seq) => {
      if (seq <= this.#acked || seq > this.#seq) return; // stale or invented
      this.#acked = seq;
      const index = this.#indexOf.get(seq);
      for (const s of this.#indexOf.keys()) if (s <= seq) this.#indexOf.delete(s);
      if (index !== undefined) db.write((tx) => ackHistory(tx, peer, index));
      this.#wake?.();
    });
    ctx.signal.addEventListener("abort", () => this.#wake?.(), { once: true });
  }

  /** Sends one batch; `index` is acknowledged for the history when the peer acks it. */
  async send(notifications: readonly WireNotification[], index: number | null): Promise<void> {
    while (this.#seq - this.#acked >= BATCH_WINDOW && !this.ctx.signal.aborted) {
      await new Promise<void>((r) => this.#wake = r);
    }
    if (this.ctx.signal.aborted) return;
    const seq = ++this.#seq;
    if (index !== null) this.#indexOf.set(seq, index);
    await this.asker.batch.take(64 * notifications.length, { signal: this.ctx.signal });
    await this.ctx.item({ kind: "batch", seq, notifications });
  }

  /** A full catch-up; returns the history index it corresponds to. */
  async catchup(): Promise<number> {
    const start = this.db.read((tx) => lastIndex(tx));
    await this.send([{ kind: "catchupStart", index: start }], null);
    for (let after = "";;) {
      const page = this.db.read((tx) => filesAfter(tx, after, CATCHUP_FILES));
      if (page.length === 0) break;
      after = page.at(-1)!.path;
      await this.send(page.map(toCatchup), null);
      if (this.ctx.signal.aborted) return start;
    }
    await this.send([{ kind: "catchupComplete", index: start }], start);
    return start;
  }
}

function toCatchup(e: IndexEntry): WireNotification {
  return { kind: "catchup", index: 0, path: e.path, size: e.size, mtime: e.mtime, hash: e.hash };
}

/** Whether the file on disk is still the indexed version. */
function unchanged(abs: string, e: IndexEntry): boolean {
  const st = lstat(abs);
  return st !== null && st.kind === "file" && st.size === e.size && st.ino === e.ino &&
    st.mtimeSecs === e.mtime.secs && st.mtimeNsecs === e.mtime.nsecs;
}

async function readAt(file: Deno.FsFile, into: Uint8Array, offset: number): Promise<number> {
  await file.seek(offset, Deno.SeekMode.Start);
  let n = 0;
  while (n < into.length) {
    const r = await file.read(into.subarray(n));
    if (r === null) break;
    n += r;
  }
  return n;
}
