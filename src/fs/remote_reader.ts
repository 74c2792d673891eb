/**
 * Reads of remote content for the filesystem (DESIGN §4.4, seed `#largedl`): served from
 * the blob cache when present; otherwise fetched from a peer that has the version in
 * aligned chunks, stored in the blob, and returned. Concurrent readers of the same chunk
 * share one fetch; a sequential reader gets the next chunks fetched ahead. When the cache
 * cannot keep a chunk (a file larger than the quota), the bytes are served from memory.
 * With no peer to ask, a read fails (EIO) after a bounded wait — never hangs.
 *
 * @module
 */

import type { Household } from "../net/mod.ts";
import { markFor } from "../storage/mod.ts";
import { type ArenaName, ByteRange, Hash, type Mark, type Path } from "../types/mod.ts";
import type { BlobHandle, BlobWriter, ReaderFence, UnrealArena } from "../unreal/mod.ts";
import { logger } from "../util/mod.ts";
import { ERRNO, FsError } from "./errno.ts";

const log = logger("fuse");

/** Bytes fetched per request to a peer (aligned). */
export const CHUNK_BYTES = 1 << 20;
/** Chunks fetched ahead of a sequential reader. */
export const READ_AHEAD_CHUNKS = 16;
/**
 * Most chunks fetched ahead in one request, and the least at the far end of the window:
 * fewer, larger requests cost both peers less per byte (measured: 8 and 16 chunks ahead
 * instead of 4 and 8 took a cold read from 0.23–0.27× to 0.30–0.34× raw TLS).
 */
export const AHEAD_RUN_CHUNKS = 8;
/** How long a read waits for a peer that has the version to connect. */
export const PEER_WAIT_MS = 3000;
/** Chunks kept in memory when the cache could not store them (files larger than the quota). */
const MEMORY_CHUNKS_MAX = 32;
const NO_NOTE = { hits: 0, ahead: false };
/** Idle time before an open blob handle is closed. */
const HANDLE_IDLE_MS = 5000;

/** An arena whose remote files can be read. */
export interface ReadableArena {
  readonly unreal: UnrealArena;
  readonly mark: Mark;
}

/** One read. */
export interface RemoteReadRequest {
  readonly arena: ArenaName;
  readonly path: Path;
  /** The version (base64 hash). */
  readonly hash: string;
  readonly size: number;
  readonly offset: number;
  readonly length: number;
}

interface OpenBlob {
  readonly handle: BlobHandle;
  timer: ReturnType<typeof setTimeout> | undefined;
  /** End of the last read, to detect sequential readers. */
  lastEnd: number;
}

/** Hears of a fetch into a blob (see {@linkcode RemoteReader.setFetchListener}). */
export type FetchListener = (arena: ArenaName, hash: Hash, range: ByteRange, over: boolean) => void;

/** Serves the filesystem's remote reads. */
export class RemoteReader {
  readonly #arenas: ReadonlyMap<ArenaName, ReadableArena>;
  readonly #household: () => Household | null;
  readonly #blobs = new Map<string, OpenBlob>();
  readonly #inflight = new Map<string, Promise<Uint8Array | null>>();
  #onFetch: FetchListener | null = null;
  /** Chunks the cache did not keep, by `hash:index`, oldest first. */
  readonly #memory = new Map<string, Uint8Array>();
  readonly #waitMs: number;
  /** Counters for metrics. */
  readonly stats = {
    fromCache: 0,
    fromNetwork: 0,
    bytesFetched: 0,
    failures: 0,
    /** Opens the kernel serves from the blob itself (passthrough). */
    passthroughOpens: 0,
  };

  /**
   * @param arenas the arenas
   * @param household the household (or `null` while offline)
   * @param options `peerWaitMs`: how long to wait for a peer to connect
   */
  constructor(
    arenas: ReadonlyMap<ArenaName, ReadableArena>,
    household: () => Household | null,
    options: { peerWaitMs?: number } = {},
  ) {
    this.#arenas = arenas;
    this.#household = household;
    this.#waitMs = options.peerWaitMs ?? PEER_WAIT_MS;
  }

  /**
   * Reads a range of a remote version.
   *
   * @param req what to read
   * @returns the bytes (fewer only at the end of the file), in a fresh array the caller
   *   owns (it may be transferred to another thread)
   * @throws {FsError} EIO when the bytes are neither cached nor available from a peer
   */
  async read(req: RemoteReadRequest): Promise<Uint8Array> {
    const got = await this.ensure(req);
    if (got !== null) return got;
    const end = Math.min(req.size, req.offset + req.length);
    const out = new Uint8Array(Math.max(0, end - req.offset));
    await this.#fill(req, out, [null]);
    return out;
  }

  /**
   * Makes sure a range of a remote version is in its blob, fetching what is missing, and
   * says whether it is: the FUSE worker then reads the blob itself, and the bytes are not
   * copied here (read back, handed over). Bytes the cache could not keep are returned.
   *
   * @param req what to read
   * @returns `null` when the whole range is in the blob now (see {@linkcode holds}), else
   *   the bytes, in a fresh array the caller owns
   * @throws {FsError} EIO when the bytes are neither cached nor available from a peer
   */
  async ensure(req: RemoteReadRequest): Promise<Uint8Array | null> {
    const arena = this.#arenas.get(req.arena);
    if (arena === undefined) throw new FsError(ERRNO.ENOENT, `no arena ${req.arena}`);
    const hash = Hash.parse(req.hash);
    const blob = this.#blob(arena, req, hash);
    // Forward within the read-ahead window counts too: the FUSE worker serves the reads of
    // a sequential reader that the cache already records, so this side sees gaps.
    const sequential = req.offset >= blob.lastEnd && blob.lastEnd >= 0 &&
      req.offset - blob.lastEnd <= READ_AHEAD_CHUNKS * CHUNK_BYTES;
    blob.lastEnd = req.offset + req.length;
    const end = Math.min(req.size, req.offset + req.length);
    if (end <= req.offset) return new Uint8Array(0);
    if (blob.handle.present().contains(ByteRange.of(req.offset, end))) {
      this.stats.fromCache++;
      blob.handle.touch(); // the worker reads it: it moves up in the LRU order
      if (sequential) this.#readAhead(arena, req, hash, blob);
      return null;
    }
    this.stats.fromNetwork++;
    const firstChunk = Math.floor(req.offset / CHUNK_BYTES);
    const lastChunk = Math.floor((end - 1) / CHUNK_BYTES);
    const parts: Promise<Uint8Array | null>[] = [];
    for (let i = firstChunk; i <= lastChunk; i++) {
      parts.push(this.#chunk(arena, req, hash, blob, i));
    }
    if (sequential || req.offset === 0) this.#readAhead(arena, req, hash, blob);
    const chunks = await Promise.all(parts);
    if (chunks.every((c) => c === null) && this.holds(req)) return null;
    const out = new Uint8Array(end - req.offset);
    await this.#fill(req, out, chunks);
    return out;
  }

  /**
   * Whether the blob open here holds a whole range now (synchronous: true until the next
   * write to the blob, which may trim it when the cache is full).
   *
   * @param req the range
   * @returns true when every byte is present
   */
  holds(req: RemoteReadRequest): boolean {
    const end = Math.min(req.size, req.offset + req.length);
    const present = this.#blobs.get(req.hash)?.handle.present();
    return present !== undefined && present.contains(ByteRange.of(req.offset, end));
  }

  /**
   * Fills `out` with `[req.offset, req.offset + out.length)`: from each chunk's bytes kept
   * in memory (`chunks[k]`, `null` when stored), else from the blob; bytes the cache trimmed
   * meanwhile (a file larger than the quota) are fetched again, not stored.
   */
  async #fill(req: RemoteReadRequest, out: Uint8Array, chunks: (Uint8Array | null)[]) {
    const hash = Hash.parse(req.hash);
    const end = req.offset + out.length;
    const firstChunk = Math.floor(req.offset / CHUNK_BYTES);
    const blob = this.#blobs.get(req.hash);
    for (let at = req.offset; at < end;) {
      const i = Math.floor(at / CHUNK_BYTES);
      const start = i * CHUNK_BYTES;
      const to = Math.min(end, start + CHUNK_BYTES);
      const into = out.subarray(at - req.offset, to - req.offset);
      const kept = chunks[i - firstChunk] ?? this.#memory.get(`${req.hash}:${i}`) ?? null;
      if (kept !== null && kept.length >= to - start) {
        into.set(kept.subarray(at - start, to - start));
      } else {
        const got = blob?.handle.read(at, to - at, { buffer: into });
        if (!(got instanceof Uint8Array)) await this.#fetchInto(req, hash, at, into);
      }
      at = to;
    }
  }

  /** Fetches `[offset, offset + into.length)` into `into` without storing it. */
  async #fetchInto(req: RemoteReadRequest, hash: Hash, offset: number, into: Uint8Array) {
    await this.#fetch(req, hash, { offset, length: into.length }, (at, data) => {
      into.set(data, at - offset);
    });
    this.stats.bytesFetched += into.length;
  }

  /**
   * Notes that the FUSE worker served a read of a cached version itself: the blob moves up
   * in the cache's LRU order and its handle here stays open (an open blob is never
   * evicted). A version that is not cached any more is left alone.
   *
   * @param req the read the worker served
   * @param note how many reads it served since it last said, and whether the reader is
   *   sequential and nearing bytes not cached (then they are fetched ahead)
   */
  touch(
    req: RemoteReadRequest,
    note: { hits: number; ahead: boolean; passthrough?: boolean } = NO_NOTE,
  ): void {
    this.stats.fromCache += note.hits;
    if (note.passthrough === true) this.stats.passthroughOpens++;
    const arena = this.#arenas.get(req.arena);
    if (arena === undefined || req.length === 0) return;
    const hash = Hash.parse(req.hash);
    if (!this.#blobs.has(req.hash) && arena.unreal.blobs.get(hash) === null) return;
    const blob = this.#blob(arena, req, hash);
    blob.lastEnd = req.offset + req.length;
    blob.handle.touch();
    if (note.ahead) this.#readAhead(arena, req, hash, blob);
  }

  #blob(arena: ReadableArena, req: RemoteReadRequest, hash: Hash): OpenBlob {
    let b = this.#blobs.get(req.hash);
    if (b === undefined) {
      const mark = arena.unreal.db.read((tx) => markFor(tx, req.path, arena.mark));
      const area = mark === "watch" ? "working" : "protected";
      b = {
        handle: arena.unreal.blobs.open(hash, req.size, { area }),
        timer: undefined,
        lastEnd: -1,
      };
      this.#blobs.set(req.hash, b);
    }
    clearTimeout(b.timer);
    const key = req.hash;
    const blob = b;
    b.timer = setTimeout(() => {
      this.#blobs.delete(key);
      void blob.handle.close();
    }, HANDLE_IDLE_MS);
    return b;
  }

  #readAhead(arena: ReadableArena, req: RemoteReadRequest, hash: Hash, blob: OpenBlob): void {
    const next = Math.floor((req.offset + req.length) / CHUNK_BYTES);
    const lastChunk = Math.floor((req.size - 1) / CHUNK_BYTES);
    const last = Math.min(lastChunk, next + this.#window(arena) - 1);
    // Consecutive missing chunks go out as one request of up to AHEAD_RUN_CHUNKS: a peer
    // streams one large read faster than several small ones. At the far end of the window a
    // shorter run waits until it is whole (or near the reader, or at the end of the file),
    // unless others go out now: a reader moving one chunk on would otherwise start one
    // request, and its messages, per chunk.
    let run: number[] = [];
    let started = false;
    const flush = () => {
      if (run.length > 0) this.#fetchRun(arena, req, hash, blob, run[0]!, run.length);
      started ||= run.length > 0;
      run = [];
    };
    for (let i = next; i <= last; i++) {
      const start = i * CHUNK_BYTES;
      const range = ByteRange.of(start, Math.min(req.size, start + CHUNK_BYTES));
      const key = `${req.hash}:${i}`;
      if (
        blob.handle.present().contains(range) || this.#inflight.has(key) ||
        this.#memory.has(key)
      ) {
        flush();
        continue;
      }
      run.push(i);
      if (run.length === AHEAD_RUN_CHUNKS) flush();
    }
    if (started || run[0]! < next + AHEAD_RUN_CHUNKS || last === lastChunk) flush();
  }

  /**
   * Chunks to fetch ahead: fewer when the cache is small, because chunks fetched beyond
   * what it can hold would be trimmed before the reader gets to them, then fetched again.
   */
  #window(arena: ReadableArena): number {
    let quota: number | null;
    try {
      quota = arena.unreal.blobs.quota();
    } catch {
      return READ_AHEAD_CHUNKS;
    }
    if (quota === null) return READ_AHEAD_CHUNKS;
    const room = quota - arena.unreal.blobs.usage().protected;
    return Math.max(0, Math.min(READ_AHEAD_CHUNKS, Math.floor(room / CHUNK_BYTES) - 2));
  }

  /**
   * Chunk `i`, fetched once however many readers want it: `null` once it is in the blob,
   * or its bytes when the cache could not keep them.
   */
  #chunk(
    arena: ReadableArena,
    req: RemoteReadRequest,
    hash: Hash,
    blob: OpenBlob,
    i: number,
  ): Promise<Uint8Array | null> {
    const key = `${req.hash}:${i}`;
    const kept = this.#memory.get(key);
    if (kept !== undefined) return Promise.resolve(kept);
    const start = i * CHUNK_BYTES;
    const range = ByteRange.of(start, Math.min(req.size, start + CHUNK_BYTES));
    const p = this.#inflight.get(key);
    if (p !== undefined) return p;
    if (blob.handle.present().contains(range)) return Promise.resolve(null);
    this.#fetchRun(arena, req, hash, blob, i, 1);
    return this.#inflight.get(key)!;
  }

  /**
   * Fetches chunks `first .. first + count - 1` in one request; each chunk's promise (in
   * `#inflight` while it runs) settles as soon as its bytes are in: `null` once stored,
   * or its bytes when the cache could not keep them.
   */
  #fetchRun(
    arena: ReadableArena,
    req: RemoteReadRequest,
    hash: Hash,
    blob: OpenBlob,
    first: number,
    count: number,
  ): void {
    const start = first * CHUNK_BYTES;
    const end = Math.min(req.size, (first + count) * CHUNK_BYTES);
    const chunks = Array.from({ length: count }, (_, k) => {
      const at = start + k * CHUNK_BYTES;
      const range = ByteRange.of(at, Math.min(end, at + CHUNK_BYTES));
      const key = `${req.hash}:${first + k}`;
      const done = Promise.withResolvers<Uint8Array | null>();
      const state = {
        range,
        key,
        done,
        settled: false,
        // Kept in memory only once the cache skips a piece: then the pieces stored before
        // it are copied back too (a trim may take them before the reader comes).
        bytes: null as Uint8Array | null,
        lost: false,
        /** Its pieces on their way into the blob (`BlobHandle.store`). */
        writes: [] as Promise<unknown>[],
      };
      const p = done.promise.finally(() => this.#inflight.delete(key));
      p.catch(() => {}); // read-ahead: nobody may wait for it
      this.#inflight.set(key, p);
      return state;
    });
    const settle = (c: (typeof chunks)[number]) => {
      if (c.settled) return;
      c.settled = true;
      if (c.bytes !== null && !c.lost) this.#remember(c.key, c.bytes);
      c.done.resolve(c.lost ? null : c.bytes);
    };
    // Whoever writes the blob hears what is on its way (the FUSE worker: its readers wait
    // for it there), and when the fetch is over.
    const fetching = ByteRange.of(start, end);
    const onFetch = this.#onFetch;
    onFetch?.(req.arena, hash, fetching, false);
    /** Stores a piece; the promise settles once the blob store is done with `data`. */
    const piece = (offset: number, data: Uint8Array): Promise<unknown> | null => {
      const c = chunks[Math.floor(offset / CHUNK_BYTES) - first];
      if (c === undefined || c.settled) return null;
      // Written by the blob store's writer (the FUSE worker) when it has one: the chunk is
      // settled once its pieces are in. One the cache drops on the way (the blob removed,
      // the disk full) is simply not there: the reader fetches it again.
      const stored = blob.handle.store(offset, data);
      let writing: Promise<unknown> | null = null;
      if (stored !== "skipped") {
        writing = stored.catch((e) => log.warn(`cannot cache ${req.path} at ${offset}`, e));
        c.writes.push(writing);
      } else if (c.bytes === null) {
        c.bytes = new Uint8Array(c.range.end - c.range.start);
        if (offset > c.range.start) {
          const before = blob.handle.read(c.range.start, offset - c.range.start, {
            buffer: c.bytes,
          });
          c.lost = !(before instanceof Uint8Array); // the reader fetches those again
        }
      }
      c.bytes?.set(data, offset - c.range.start);
      if (offset + data.length >= c.range.end) void Promise.all(c.writes).then(() => settle(c));
      return writing;
    };
    void this.#fetch(req, hash, { offset: start, length: end - start }, (offset, data) => {
      // Pieces may cross chunk boundaries: each part goes to its chunk. The bytes are lent
      // until the returned promise settles: the writer may read them in place.
      const writes: Promise<unknown>[] = [];
      for (let at = offset; at < offset + data.length;) {
        const to = Math.min(offset + data.length, (Math.floor(at / CHUNK_BYTES) + 1) * CHUNK_BYTES);
        const writing = piece(at, data.subarray(at - offset, to - offset));
        if (writing !== null) writes.push(writing);
        at = to;
      }
      return writes.length > 0 ? Promise.all(writes).then(() => {}) : undefined;
    }).then(
      async () => {
        this.stats.bytesFetched += end - start;
        await Promise.all(chunks.flatMap((c) => c.writes));
        onFetch?.(req.arena, hash, fetching, true);
        for (const c of chunks) settle(c); // a short read: what is missing is fetched again
        if (blob.handle.isComplete()) {
          arena.unreal.blobs.verify(hash).catch((e) => log.warn(`verifying ${req.path} failed`, e));
        }
      },
      (error) => {
        onFetch?.(req.arena, hash, fetching, true);
        for (const c of chunks) {
          if (!c.settled) {
            c.settled = true;
            c.done.reject(error);
          }
        }
      },
    );
  }

  /** Reads a range of the version from a peer (see `#withPeer`), piece by piece. */
  #fetch(
    req: RemoteReadRequest,
    hash: Hash,
    range: { offset: number; length: number },
    onChunk: Parameters<Household["read"]>[2],
  ): Promise<void> {
    return this.#withPeer(
      req,
      (household) => household.read({ arena: req.arena, path: req.path, hash }, range, onChunk),
    );
  }

  /** Runs `fn` with the household, waiting (bounded) for a peer that has the version. */
  async #withPeer(req: RemoteReadRequest, fn: (h: Household) => Promise<void>): Promise<void> {
    const deadline = Date.now() + this.#waitMs;
    for (;;) {
      const h = this.#household();
      try {
        if (h === null) throw new FsError(ERRNO.EIO, "offline");
        return await fn(h);
      } catch (error) {
        if (Date.now() >= deadline) {
          this.stats.failures++;
          throw new FsError(
            ERRNO.EIO,
            `Cannot read "${req.arena}/${req.path}": not cached and no connected peer has it`,
            { cause: error },
          );
        }
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  }

  #remember(key: string, bytes: Uint8Array): void {
    this.#memory.set(key, bytes);
    while (this.#memory.size > MEMORY_CHUNKS_MAX) {
      this.#memory.delete(this.#memory.keys().next().value!);
    }
  }

  /**
   * Sets the reader fence of every arena's blob store (`BlobStore.setReaderFence`).
   *
   * @param fence waits until no other thread reads blob files; `null` for none
   */
  setReaderFence(fence: ReaderFence | null): void {
    for (const a of this.#arenas.values()) a.unreal.blobs.setReaderFence(fence);
  }

  /**
   * Sets where every arena's blob store writes fetched bytes (`BlobStore.setWriter`).
   *
   * @param writer the writer of an arena; `null` to write on this thread
   */
  setBlobWriter(writer: ((arena: ArenaName) => BlobWriter) | null): void {
    for (const [name, a] of this.#arenas) a.unreal.blobs.setWriter(writer?.(name) ?? null);
  }

  /**
   * Sets what hears of each fetch into a blob: when it starts (`over` false) and when it is
   * over, its bytes written or not (`over` true). The FUSE worker's readers wait for such
   * bytes there instead of asking this thread.
   *
   * @param listener the listener; `null` for none
   */
  setFetchListener(listener: FetchListener | null): void {
    this.#onFetch = listener;
  }

  /** Closes every open blob handle. */
  async close(): Promise<void> {
    for (const b of this.#blobs.values()) {
      clearTimeout(b.timer);
      await b.handle.close();
    }
    this.#blobs.clear();
  }
}
