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
import { assert } from "../util/mod.ts";
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
import { ChunkBuffers } from "./chunk_buffers.ts";
import type { RequestContext, RequestHandler } from "./session.ts";

/** Bytes per chunk of a read: the protocol's largest (fewer, larger writes are cheaper). */
export const READ_CHUNK_BYTES = CHUNK_BYTES_MAX;
/**
 * Chunk buffers one session's reads may hold at once. A read needs one and takes up to
 * {@linkcode READ_PIPELINE_BUFFERS} when they are free; reads beyond that wait their turn.
 */
export const READ_BUFFERS_MAX = 32;
/** Buffers one read uses when they are free: one being read, the others being written. */
export const READ_PIPELINE_BUFFERS = 3;
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

/** Per-session state: who asks, at what rate they want background data, read buffers. */
interface Asker {
  readonly peer: PeerName;
  batch: RateLimiter;
  readonly buffers: ChunkBuffers;
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
    const asker: Asker = {
      peer,
      batch: rateLimiter(undefined),
      buffers: new ChunkBuffers(READ_BUFFERS_MAX, READ_CHUNK_BYTES),
    };
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
    if (req.offset < end) await this.#stream(asker, req, ctx, { abs, end });
    if (!unchanged(abs, entry)) {
      throw new PeerError("versionUnavailable", `"${req.arena}/${req.path}" changed while read`);
    }
    return { kind: "readDone" };
  }

  /**
   * Sends `[req.offset, end)` of a file in chunks, read sequentially from one seek. With
   * buffers to spare, the next chunk is read while earlier ones are written, and up to
   * {@linkcode READ_PIPELINE_BUFFERS}` - 1` chunks wait in the connection's write queue, so
   * the link never waits for the file.
   */
  async #stream(
    asker: Asker,
    req: Extract<Request, { kind: "read" }>,
    ctx: RequestContext,
    range: { abs: string; end: number },
  ): Promise<void> {
    const { end } = range;
    const buffers = [await asker.buffers.take({ signal: ctx.signal })];
    // A compressed or throttled chunk is queued only once the one before it is: at most one
    // is sent while the next is read, so they cannot overtake each other.
    const depth = req.compress || req.batch ? 2 : READ_PIPELINE_BUFFERS;
    for (let b = asker.buffers.tryTake(); b !== null; b = asker.buffers.tryTake()) {
      buffers.push(b);
      if (buffers.length === depth) break;
    }
    const free = [...buffers];
    const sending: Promise<Uint8Array<ArrayBuffer>>[] = [];
    try {
      using file = await Deno.open(range.abs, { read: true });
      await file.seek(req.offset, Deno.SeekMode.Start);
      for (let at = req.offset; at < end && !ctx.signal.aborted;) {
        if (free.length === 0) free.push(await sending.shift()!);
        const buffer = free.pop();
        assert(buffer !== undefined, "a buffer is free once a send is done");
        const n = await readFull(file, buffer.subarray(0, Math.min(buffer.length, end - at)));
        if (n === 0) break;
        // Uncompressed, unthrottled: the chunk is queued before this call returns, in order.
        const sent = this.#sendChunk(asker, req, ctx, at, buffer.subarray(0, n))
          .then(() => buffer);
        sent.catch(() => {}); // awaited in order below
        sending.push(sent);
        at += n;
      }
      for (const sent of sending) await sent;
    } finally {
      // A buffer is free once its chunk is written (or failed): only then is it given back.
      await Promise.allSettled(sending);
      for (const b of buffers) asker.buffers.give(b);
    }
  }

  async #sendChunk(
    asker: Asker,
    req: Extract<Request, { kind: "read" }>,
    ctx: RequestContext,
    at: number,
    raw: Uint8Array,
  ): Promise<void> {
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
      rawLength: raw.length,
    });
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
  return await readFull(file, into);
}

/** Reads from the current position until `into` is full or the file ends. */
async function readFull(file: Deno.FsFile, into: Uint8Array): Promise<number> {
  let n = 0;
  while (n < into.length) {
    const r = await file.read(into.subarray(n));
    if (r === null) break;
    n += r;
  }
  return n;
}
