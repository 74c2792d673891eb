/**
 * Length-prefixed frames over a byte stream (the TLS connection once authenticated):
 *
 * ```text
 * u32 big-endian payload length | u8 kind | payload
 * ```
 *
 * {@linkcode ByteReader} buffers reads and checks a length against the limit *before*
 * allocating anything; {@linkcode FrameWriter} serializes writes so frames never interleave and
 * packs small frames queued together into one write.
 *
 * @module
 */

import { assert } from "../util/mod.ts";
import { ConnectionClosedError, ProtocolError } from "./errors.ts";

/** Largest payload of one frame: a longer length closes the connection unread. */
export const FRAME_BYTES_MAX = 16 * 1024 * 1024;
/** Bytes before each payload: length (4) and kind (1). */
export const FRAME_HEADER_BYTES = 5;
/** Longest reason a `close` frame may carry. */
export const CLOSE_REASON_BYTES_MAX = 1024;
/** Size of the read buffer; frames up to half of it are read through it. */
export const READ_BUFFER_BYTES = 256 * 1024;
/** Small frames queued together are sent in one write of at most this many bytes. */
export const WRITE_BATCH_BYTES = 64 * 1024;

/** Frame kinds (the byte after the length). */
export const FrameKind = {
  /** Application data, delivered by `Connection.frames()`. */
  data: 0,
  /** Keep-alive; empty. */
  ping: 1,
  /** The sender is closing; the payload is its reason, UTF-8. */
  close: 2,
} as const;
/** A frame kind. */
export type FrameKind = typeof FrameKind[keyof typeof FrameKind];

/** Byte counts of one connection, shared by its reader and writer. */
export interface Traffic {
  /** Bytes written to the TLS stream (handshake and frame headers included). */
  sent: number;
  /** Bytes read from the TLS stream (handshake and frame headers included). */
  received: number;
  /** `performance.now()` of the last read that returned data. */
  lastReceivedMs: number;
  /** `performance.now()` of the last completed write. */
  lastSentMs: number;
}

/**
 * A new {@linkcode Traffic} with zero counts.
 *
 * @returns the counters
 */
export function newTraffic(): Traffic {
  const now = performance.now();
  return { sent: 0, received: 0, lastReceivedMs: now, lastSentMs: now };
}

/** A frame read from the stream. */
export interface Frame {
  readonly kind: number;
  readonly payload: Uint8Array<ArrayBufferLike>;
}

/** What {@linkcode ByteReader} reads from. */
export interface Source {
  read(p: Uint8Array): Promise<number | null>;
}

/** What {@linkcode FrameWriter} and {@linkcode writeAll} write to. */
export interface Sink {
  write(p: Uint8Array): Promise<number>;
}

/**
 * Writes all of `bytes`.
 *
 * @param sink the stream
 * @param bytes what to write
 * @param traffic counters to update
 */
export async function writeAll(sink: Sink, bytes: Uint8Array, traffic: Traffic): Promise<void> {
  for (let done = 0; done < bytes.length;) {
    const n = await sink.write(done === 0 ? bytes : bytes.subarray(done));
    done += n;
    traffic.sent += n;
  }
  traffic.lastSentMs = performance.now();
}

/** Buffered reads of exact sizes and of frames. Not safe for concurrent calls. */
export class ByteReader {
  #source: Source;
  #traffic: Traffic;
  #buf = new Uint8Array(READ_BUFFER_BYTES);
  #start = 0;
  #end = 0;

  /**
   * @param source the stream
   * @param traffic counters to update
   */
  constructor(source: Source, traffic: Traffic) {
    this.#source = source;
    this.#traffic = traffic;
  }

  async #readInto(target: Uint8Array): Promise<number | null> {
    const n = await this.#source.read(target);
    if (n !== null && n > 0) {
      this.#traffic.received += n;
      this.#traffic.lastReceivedMs = performance.now();
    }
    return n;
  }

  /** Buffers at least `n` bytes; false at a clean end of stream (nothing buffered). */
  async #fill(n: number): Promise<boolean> {
    assert(n <= this.#buf.length, "a buffered read fits the buffer");
    if (this.#buf.length - this.#start < n) {
      this.#buf.copyWithin(0, this.#start, this.#end);
      this.#end -= this.#start;
      this.#start = 0;
    }
    while (this.#end - this.#start < n) {
      const got = await this.#readInto(this.#buf.subarray(this.#end));
      if (got === null) {
        if (this.#end === this.#start) return false;
        throw new Deno.errors.UnexpectedEof("Connection closed in the middle of a message");
      }
      this.#end += got;
    }
    return true;
  }

  /**
   * Reads exactly `n` bytes.
   *
   * @param n how many (at most half the buffer)
   * @returns a copy of the bytes, or `null` at a clean end of stream
   * @throws {Deno.errors.UnexpectedEof} when the stream ends after some of them
   */
  async readExact(n: number): Promise<Uint8Array<ArrayBuffer> | null> {
    if (!await this.#fill(n)) return null;
    const bytes = this.#buf.slice(this.#start, this.#start + n);
    this.#start += n;
    return bytes;
  }

  /**
   * Reads one frame.
   *
   * @param lengthMax largest payload accepted
   * @param pool where a large payload's buffer comes from (lent: see {@linkcode FramePool});
   *   without it, or when the payload does not fit a pooled buffer, a fresh array
   * @returns the frame, or `null` at a clean end of stream (between frames)
   * @throws {ProtocolError} when the length exceeds `lengthMax`; nothing is allocated
   * @throws {Deno.errors.UnexpectedEof} when the stream ends inside a frame
   */
  async readFrame(lengthMax: number, pool: FramePool | null = null): Promise<Frame | null> {
    if (!await this.#fill(FRAME_HEADER_BYTES)) return null;
    const b = this.#buf;
    const s = this.#start;
    const length = ((b[s]! << 24) | (b[s + 1]! << 16) | (b[s + 2]! << 8) | b[s + 3]!) >>> 0;
    const kind = b[s + 4]!;
    if (length > lengthMax) {
      throw new ProtocolError(`Frame of ${length} bytes exceeds the limit of ${lengthMax} bytes`);
    }
    this.#start += FRAME_HEADER_BYTES;
    if (length <= this.#buf.length / 2) {
      return { kind, payload: (await this.readExact(length)) ?? this.#truncated() };
    }
    const payload = pool?.take(length) ?? new Uint8Array(length);
    let have = Math.min(length, this.#end - this.#start);
    payload.set(this.#buf.subarray(this.#start, this.#start + have));
    this.#start += have;
    while (have < length) {
      const got = await this.#readInto(payload.subarray(have));
      if (got === null) this.#truncated();
      have += got;
    }
    return { kind, payload };
  }

  #truncated(): never {
    throw new Deno.errors.UnexpectedEof("Connection closed in the middle of a frame");
  }
}

/**
 * Reusable buffers for large frame payloads. A payload taken from the pool is *lent*: its
 * consumer hands it back with {@linkcode FramePool.release} once done, and must not touch it
 * afterwards; a payload never released is simply collected. Releasing twice, or releasing
 * an array the pool did not lend, does nothing.
 *
 * The buffers are shared memory (`SharedArrayBuffer`): a consumer may hand a payload's bytes
 * to another thread without a copy (the FUSE worker writes a chunk into its blob), keeping
 * the payload lent until that thread is done with them.
 */
export class FramePool {
  readonly #bufferBytes: number;
  readonly #freeMax: number;
  readonly #free: SharedArrayBuffer[] = [];
  readonly #lent = new WeakSet<SharedArrayBuffer>();
  #takenSinceIdle = false;

  /**
   * @param bufferBytes size of each buffer: payloads up to this size are pooled
   * @param freeMax most idle buffers kept
   */
  constructor(bufferBytes: number, freeMax: number) {
    assert(bufferBytes > 0, "pooled buffers are not empty");
    assert(freeMax >= 0, "freeMax is not negative");
    this.#bufferBytes = bufferBytes;
    this.#freeMax = freeMax;
  }

  /** Idle buffers kept. */
  get free(): number {
    return this.#free.length;
  }

  /**
   * A lent buffer for a payload of `length` bytes.
   *
   * @param length the payload's size
   * @returns a view of `length` bytes of a pooled buffer (its bytes are stale), or `null`
   *   when `length` exceeds the buffer size
   */
  take(length: number): Uint8Array<SharedArrayBuffer> | null {
    if (length > this.#bufferBytes) return null;
    this.#takenSinceIdle = true;
    const buffer = this.#free.pop() ?? new SharedArrayBuffer(this.#bufferBytes);
    this.#lent.add(buffer);
    return new Uint8Array(buffer, 0, length);
  }

  /**
   * Hands a lent payload back for reuse.
   *
   * @param payload a payload from {@linkcode take} (or any array: then nothing happens)
   */
  release(payload: Uint8Array): void {
    const buffer = payload.buffer;
    if (!(buffer instanceof SharedArrayBuffer) || !this.#lent.delete(buffer)) return;
    assert(buffer.byteLength === this.#bufferBytes, "a lent buffer comes back whole");
    if (this.#free.length < this.#freeMax) this.#free.push(buffer);
  }

  /**
   * Called now and then (a connection's heartbeat tick): when nothing was taken since the
   * last call, the idle buffers are dropped. A busy link keeps up to `freeMax`, each one
   * a megabyte to zero and fault in again, and garbage for the collector; a quiet one
   * keeps none.
   */
  idle(): void {
    if (!this.#takenSinceIdle) this.#free.length = 0;
    this.#takenSinceIdle = false;
  }
}

interface Pending {
  readonly header: Uint8Array;
  readonly payload: Uint8Array;
  /** Written after `payload`, without a copy when the frame is written alone. */
  readonly tail: Uint8Array;
  readonly resolve: () => void;
  readonly reject: (error: Error) => void;
}

const EMPTY = new Uint8Array(0);

function header(kind: FrameKind, length: number): Uint8Array {
  const h = new Uint8Array(FRAME_HEADER_BYTES);
  new DataView(h.buffer).setUint32(0, length);
  h[4] = kind;
  return h;
}

/** Serialized frame writes: each `send` resolves once its frame is written. */
export class FrameWriter {
  #sink: Sink;
  #traffic: Traffic;
  #queue: Pending[] = [];
  #running = false;
  #done: Promise<void> = Promise.resolve();
  #failure: Error | null = null;

  /**
   * @param sink the stream
   * @param traffic counters to update
   */
  constructor(sink: Sink, traffic: Traffic) {
    this.#sink = sink;
    this.#traffic = traffic;
  }

  /** Frames queued and not yet written. */
  get queued(): number {
    return this.#queue.length;
  }

  /**
   * Queues a frame whose payload is `payload` followed by `tail`. The caller must not
   * change either until the promise settles.
   *
   * @param kind the frame kind
   * @param payload the payload (or its first part)
   * @param tail the rest of the payload, written from this array (a chunk's bytes); the
   *   two are at most {@linkcode FRAME_BYTES_MAX} bytes
   * @returns resolves once the frame is written
   * @throws {ConnectionClosedError} (rejection) once the writer has failed or closed
   */
  send(kind: FrameKind, payload: Uint8Array, tail: Uint8Array = EMPTY): Promise<void> {
    const length = payload.length + tail.length;
    assert(length <= FRAME_BYTES_MAX, "frames are at most FRAME_BYTES_MAX bytes");
    if (this.#failure !== null) return Promise.reject(this.#failure);
    const { promise, resolve, reject } = Promise.withResolvers<void>();
    this.#queue.push({ header: header(kind, length), payload, tail, resolve, reject });
    if (!this.#running) {
      this.#running = true;
      this.#done = this.#run();
    }
    return promise;
  }

  /** Resolves when nothing is being written. */
  async idle(): Promise<void> {
    while (this.#running) await this.#done;
  }

  /**
   * Rejects every queued frame and every later `send` with `error`.
   *
   * @param error what the senders get
   */
  fail(error: ConnectionClosedError): void {
    this.#failure ??= error;
    for (const p of this.#queue.splice(0)) p.reject(this.#failure);
  }

  async #run(): Promise<void> {
    // `#running` is cleared in the same tick as the last queue check, so a `send` made by a
    // sender woken below always finds either a running loop or none.
    try {
      while (this.#queue.length > 0 && this.#failure === null) {
        const batch = this.#takeBatch();
        try {
          await this.#write(batch);
        } catch (cause) {
          const error = new ConnectionClosedError("Cannot send: the connection failed", { cause });
          for (const p of batch) p.reject(error);
          this.fail(error);
          return;
        }
        for (const p of batch) p.resolve();
      }
    } finally {
      this.#running = false;
    }
  }

  async #write(batch: readonly Pending[]): Promise<void> {
    const only = batch[0]!;
    if (batch.length > 1 || frameBytes(only) <= WRITE_BATCH_BYTES) {
      await writeAll(this.#sink, join(batch), this.#traffic);
    } else if (only.payload.length > WRITE_BATCH_BYTES) {
      await writeAll(this.#sink, only.header, this.#traffic);
      await writeAll(this.#sink, only.payload, this.#traffic);
      if (only.tail.length > 0) await writeAll(this.#sink, only.tail, this.#traffic);
    } else {
      // A small head and a large tail (a chunk): one copy of the head, none of the tail.
      await writeAll(this.#sink, join([{ ...only, tail: EMPTY }]), this.#traffic);
      await writeAll(this.#sink, only.tail, this.#traffic);
    }
  }

  #takeBatch(): Pending[] {
    const first = this.#queue.shift()!;
    const batch = [first];
    let bytes = frameBytes(first);
    while (bytes <= WRITE_BATCH_BYTES && this.#queue.length > 0) {
      const next = this.#queue[0]!;
      bytes += frameBytes(next);
      if (bytes > WRITE_BATCH_BYTES) break;
      batch.push(this.#queue.shift()!);
    }
    return batch;
  }
}

function frameBytes(p: Pending): number {
  return p.header.length + p.payload.length + p.tail.length;
}

function join(batch: readonly Pending[]): Uint8Array {
  let size = 0;
  for (const p of batch) size += frameBytes(p);
  const out = new Uint8Array(size);
  let at = 0;
  for (const p of batch) {
    out.set(p.header, at);
    out.set(p.payload, at + p.header.length);
    out.set(p.tail, at + p.header.length + p.payload.length);
    at += frameBytes(p);
  }
  return out;
}
