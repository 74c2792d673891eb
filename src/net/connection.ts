/**
 * {@linkcode Connection}: an authenticated link to one peer, carrying frames both ways, with
 * back-pressure, a heartbeat and byte counters. Made by `connect()` and `listen()`.
 *
 * @module
 */

import type { HostPort } from "../config/mod.ts";
import { formatHostPort } from "../config/mod.ts";
import type { PublicKeyBytes } from "../keys/mod.ts";
import type { PeerName } from "../types/mod.ts";
import { assert, describeError, logger } from "../util/mod.ts";
import { ConnectionClosedError, ProtocolError } from "./errors.ts";
import {
  type ByteReader,
  CLOSE_REASON_BYTES_MAX,
  type Frame,
  FRAME_BYTES_MAX,
  FrameKind,
  FramePool,
  FrameWriter,
  type Traffic,
} from "./framing.ts";

/** How often a connection sends a ping when it has sent nothing else. */
export const HEARTBEAT_INTERVAL_MS = 15_000;
/** A connection that receives nothing for this long is closed as dead. */
export const HEARTBEAT_TIMEOUT_MS = 45_000;
/** Received frames buffered for the consumer before reading from the peer pauses. */
export const RECEIVE_QUEUE_BYTES_MAX = 4 * 1024 * 1024;
/** How long `close()` waits for queued frames and the goodbye to be written. */
export const CLOSE_FLUSH_TIMEOUT_MS = 1_000;
/**
 * Size of the reusable buffers received frames are read into (see `release`): a 1 MiB
 * chunk and its message header fit.
 */
export const POOLED_FRAME_BYTES = (1 << 20) + 64 * 1024;
/**
 * Most idle pooled buffers a connection keeps while busy: a sequential read has up to 16
 * chunks on their way (`READ_AHEAD_CHUNKS`); with 8, one chunk in six was read into a new
 * buffer. Dropped after a heartbeat tick without large frames (`FramePool.idle`).
 */
export const POOLED_FRAMES_FREE_MAX = 24;

const log = logger("net");
const EMPTY = new Uint8Array(0);

/** A peer as the transport knows it: a name and the key that proves it. */
export interface PeerIdentity {
  /** The `[[peer]] name`. */
  readonly name: PeerName;
  /** Its ED25519 public key. */
  readonly pubkey: PublicKeyBytes;
}

/** Tunables of a connection; the defaults suit the daemon, tests shorten them. */
export interface ConnectionOptions {
  /** Default {@linkcode HEARTBEAT_INTERVAL_MS}. */
  readonly heartbeatIntervalMs?: number;
  /** Default {@linkcode HEARTBEAT_TIMEOUT_MS}. */
  readonly heartbeatTimeoutMs?: number;
  /** Default {@linkcode RECEIVE_QUEUE_BYTES_MAX}. */
  readonly receiveQueueBytesMax?: number;
}

/** Who dialled: `outgoing` when we did. */
export type Direction = "incoming" | "outgoing";

/** How a connection ended. */
export interface ConnectionEnd {
  /** `local`: `close()` was called; `remote`: the peer closed it; `error`: it failed. */
  readonly by: "local" | "remote" | "error";
  /** A human sentence: the reason given to `close()`, the peer's reason, or the error. */
  readonly reason: string;
  /** The failure, when `by` is `error`. */
  readonly error: Error | null;
}

/** What the handshake hands over to a new {@linkcode Connection}. */
export interface ConnectionInit {
  /** The authenticated TLS stream. */
  readonly conn: Deno.Conn;
  /** The reader the handshake used (it may hold bytes already). */
  readonly reader: ByteReader;
  /** The counters the handshake started. */
  readonly traffic: Traffic;
  readonly peer: PeerIdentity;
  readonly remoteAddress: HostPort;
  readonly direction: Direction;
  readonly options?: ConnectionOptions;
}

/**
 * An authenticated connection with one peer. Frames are byte arrays of at most
 * `FRAME_BYTES_MAX` bytes; `send` resolves once the frame is written (back-pressure) and
 * frames never interleave; `frames()` yields received frames in order to one consumer and stops
 * reading from the peer while `receiveQueueBytesMax` bytes wait unconsumed.
 */
export class Connection {
  /** The peer's name, from the `[[peer]]` entry its key matched. */
  readonly peer: PeerName;
  /** The peer's 32-byte public key. */
  readonly remotePublicKey: Uint8Array<ArrayBuffer>;
  /** The peer's address (IPv4-mapped IPv6 addresses shown as IPv4). */
  readonly remoteAddress: HostPort;
  /** Who dialled. */
  readonly direction: Direction;
  /** `Date.now()` when the handshake completed. */
  readonly openedAt: number = Date.now();
  /** Settles (never rejects) once the connection is closed and its socket released. */
  readonly closed: Promise<ConnectionEnd>;

  #conn: Deno.Conn;
  #reader: ByteReader;
  #writer: FrameWriter;
  #traffic: Traffic;
  #intervalMs: number;
  #timeoutMs: number;
  #queueMax: number;
  #queue: Uint8Array<ArrayBufferLike>[] = [];
  #head = 0;
  #queuedBytes = 0;
  #consumer: (() => void) | null = null;
  #space: (() => void) | null = null;
  #end: ConnectionEnd | null = null;
  #resolveClosed: (end: ConnectionEnd) => void;
  #timer: ReturnType<typeof setInterval>;
  #pingQueued = false;
  #pumpDone: Promise<void>;
  readonly #pool = new FramePool(POOLED_FRAME_BYTES, POOLED_FRAMES_FREE_MAX);

  /** @param init what the handshake hands over */
  constructor(init: ConnectionInit) {
    this.peer = init.peer.name;
    this.remotePublicKey = init.peer.pubkey.raw;
    this.remoteAddress = init.remoteAddress;
    this.direction = init.direction;
    this.#conn = init.conn;
    this.#reader = init.reader;
    this.#traffic = init.traffic;
    this.#writer = new FrameWriter(init.conn, init.traffic);
    this.#intervalMs = init.options?.heartbeatIntervalMs ?? HEARTBEAT_INTERVAL_MS;
    this.#timeoutMs = init.options?.heartbeatTimeoutMs ?? HEARTBEAT_TIMEOUT_MS;
    this.#queueMax = init.options?.receiveQueueBytesMax ?? RECEIVE_QUEUE_BYTES_MAX;
    assert(this.#intervalMs > 0 && this.#timeoutMs > 0, "heartbeat periods are positive");
    const { promise, resolve } = Promise.withResolvers<ConnectionEnd>();
    this.closed = promise;
    this.#resolveClosed = resolve;
    init.traffic.lastReceivedMs = performance.now();
    const tickMs = Math.min(this.#intervalMs, this.#timeoutMs / 3);
    this.#timer = setInterval(() => this.#tick(), tickMs);
    this.#pumpDone = this.#pump();
  }

  /** Bytes written to the peer so far (TLS payload: handshake, frame headers and payloads). */
  get bytesSent(): number {
    return this.#traffic.sent;
  }

  /** Bytes read from the peer so far (TLS payload: handshake, frame headers and payloads). */
  get bytesReceived(): number {
    return this.#traffic.received;
  }

  /** How the connection ended, or `null` while it is open. */
  get end(): ConnectionEnd | null {
    return this.#end;
  }

  /** `laptop at 192.168.1.2:9771`, for messages. */
  toString(): string {
    return `${this.peer} at ${formatHostPort(this.remoteAddress)}`;
  }

  /**
   * Sends one frame: `frame`, followed by `tail` when given (written from that array, not
   * copied: a chunk's bytes). Frames are written whole and in call order. The caller must
   * not change `frame` or `tail` until the promise settles.
   *
   * @param frame the frame, or its first part
   * @param tail the rest of the frame; the two are at most `FRAME_BYTES_MAX` bytes
   * @returns resolves once the frame is written to the socket
   * @throws {RangeError} (rejection) when the frame is too large
   * @throws {ConnectionClosedError} (rejection) when the connection is closed or fails first
   */
  send(frame: Uint8Array, tail?: Uint8Array): Promise<void> {
    const length = frame.length + (tail?.length ?? 0);
    if (length > FRAME_BYTES_MAX) {
      const message = `Cannot send a frame of ${length} bytes: the limit is ${FRAME_BYTES_MAX}`;
      return Promise.reject(new RangeError(message));
    }
    if (this.#end !== null) {
      const message = `Cannot send to ${this}: the connection is closed (${this.#end.reason})`;
      return Promise.reject(new ConnectionClosedError(message));
    }
    return this.#writer.send(FrameKind.data, frame, tail);
  }

  /**
   * Hands a received frame's buffer back for reuse by a later frame. Optional: a frame
   * never released is the consumer's to keep. After it, the frame (and any view of it)
   * must not be used: its bytes will be overwritten.
   *
   * @param frame a frame `frames()` yielded
   */
  release(frame: Uint8Array): void {
    this.#pool.release(frame);
  }

  /**
   * The received frames, in order. One consumer at a time; the iteration ends once the
   * connection is closed and every frame received before is delivered (see `closed` for why).
   * Breaking out of the loop leaves the connection open.
   *
   * @returns an async iterator of frames; each frame is the consumer's to keep, unless
   *   it hands it back with {@linkcode Connection.release}
   */
  async *frames(): AsyncGenerator<Uint8Array<ArrayBufferLike>, void, undefined> {
    while (true) {
      const frame = this.#shift();
      if (frame !== undefined) {
        yield frame;
      } else if (this.#end !== null) {
        return;
      } else {
        assert(this.#consumer === null, "frames() has one consumer at a time");
        await new Promise<void>((resolve) => this.#consumer = resolve);
      }
    }
  }

  /**
   * Closes the connection: frames already passed to `send` are written (for at most
   * {@linkcode CLOSE_FLUSH_TIMEOUT_MS}), then the peer is told `reason` and the socket closed.
   * Idempotent.
   *
   * @param reason why, for the peer and the logs
   * @returns `closed`
   */
  close(reason = "closed"): Promise<ConnectionEnd> {
    this.#finish({ by: "local", reason, error: null }, true);
    return this.closed;
  }

  /** Closes the connection (`using` support). */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  #shift(): Uint8Array<ArrayBufferLike> | undefined {
    if (this.#head === this.#queue.length) return undefined;
    const frame = this.#queue[this.#head++]!;
    if (this.#head === this.#queue.length) {
      this.#queue = [];
      this.#head = 0;
    }
    this.#queuedBytes -= frame.length;
    if (this.#queuedBytes < this.#queueMax) this.#wake("space");
    return frame;
  }

  #wake(which: "consumer" | "space"): void {
    const resolve = which === "consumer" ? this.#consumer : this.#space;
    if (which === "consumer") this.#consumer = null;
    else this.#space = null;
    resolve?.();
  }

  async #pump(): Promise<void> {
    try {
      while (this.#end === null) {
        const frame = await this.#reader.readFrame(FRAME_BYTES_MAX, this.#pool);
        if (this.#end !== null) return;
        if (frame === null) {
          this.#finish({ by: "remote", reason: "end of stream", error: null }, false);
          return;
        }
        if (!this.#handle(frame)) return;
        if (this.#queuedBytes >= this.#queueMax) {
          await new Promise<void>((resolve) => this.#space = resolve);
          // Waiting for our consumer is not the peer's silence.
          this.#traffic.lastReceivedMs = performance.now();
        }
      }
    } catch (thrown) {
      if (this.#end !== null) return; // our own close interrupted the read
      const error = lost(thrown);
      const reason = error.cause === undefined ? describeError(error) : error.message;
      this.#finish({ by: "error", reason, error }, error instanceof ProtocolError);
    }
  }

  /** Handles one frame; false when it ended the connection. */
  #handle(frame: Frame): boolean {
    switch (frame.kind) {
      case FrameKind.data:
        this.#queue.push(frame.payload);
        this.#queuedBytes += frame.payload.length;
        this.#wake("consumer");
        return true;
      case FrameKind.ping:
        if (frame.payload.length !== 0) throw new ProtocolError("Ping frame with a payload");
        return true;
      case FrameKind.close: {
        const text = new TextDecoder().decode(frame.payload.subarray(0, CLOSE_REASON_BYTES_MAX));
        this.#finish({ by: "remote", reason: printable(text), error: null }, false);
        return false;
      }
      default:
        throw new ProtocolError(`Unknown frame kind ${frame.kind}`);
    }
  }

  #tick(): void {
    this.#pool.idle();
    const now = performance.now();
    if (this.#space !== null) this.#traffic.lastReceivedMs = now;
    const silentMs = now - this.#traffic.lastReceivedMs;
    if (silentMs >= this.#timeoutMs) {
      const limit = `heartbeat timeout ${this.#timeoutMs} ms`;
      const message = `No data from ${this.peer} for ${Math.round(silentMs)} ms (${limit})`;
      const error = new Deno.errors.TimedOut(message);
      this.#finish({ by: "error", reason: message, error }, true);
      return;
    }
    if (now - this.#traffic.lastSentMs >= this.#intervalMs && !this.#pingQueued) {
      this.#pingQueued = true;
      this.#writer.send(FrameKind.ping, EMPTY)
        .catch(() => {/* the connection failed: its end is recorded elsewhere */})
        .finally(() => this.#pingQueued = false);
    }
  }

  #finish(end: ConnectionEnd, goodbye: boolean): void {
    if (this.#end !== null) return;
    this.#end = end;
    clearInterval(this.#timer);
    const who = end.by === "remote" ? "the peer" : "us";
    if (end.by === "error") log.warn(`connection with ${this} failed: ${end.reason}`);
    else log.debug(`connection with ${this} closed by ${who}: ${end.reason}`);
    this.#wake("consumer");
    this.#wake("space");
    void this.#shutdown(end, goodbye);
  }

  async #shutdown(end: ConnectionEnd, goodbye: boolean): Promise<void> {
    if (goodbye) await this.#sayGoodbye(end.reason);
    this.#writer.fail(
      new ConnectionClosedError(`Connection with ${this} is closed: ${end.reason}`),
    );
    try {
      this.#conn.close();
    } catch {
      // already closed by the runtime after an I/O error
    }
    await this.#pumpDone;
    await this.#writer.idle();
    this.#resolveClosed(end);
  }

  async #sayGoodbye(reason: string): Promise<void> {
    const bytes = new TextEncoder().encode(reason).subarray(0, CLOSE_REASON_BYTES_MAX);
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<void>((resolve) =>
      timer = setTimeout(resolve, CLOSE_FLUSH_TIMEOUT_MS)
    );
    const written = this.#writer.send(FrameKind.close, bytes).catch(() => {/* peer gone */});
    try {
      await Promise.race([written, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }
}

/** A read failure as an error; a peer gone without TLS close_notify gets a plain message. */
function lost(thrown: unknown): Error {
  const error = thrown instanceof Error ? thrown : new Error(String(thrown));
  if (/close_notify/.test(error.message) || error instanceof Deno.errors.ConnectionReset) {
    const message = "Connection lost: the peer went away without closing it";
    return new Deno.errors.UnexpectedEof(message, { cause: error });
  }
  return error;
}

/**
 * Text from a peer, made safe for a one-line log: control characters become spaces.
 *
 * @param text what the peer sent
 * @returns the same text on one line
 */
export function printable(text: string): string {
  // deno-lint-ignore no-control-regex
  return text.replace(/[\u0000-\u001f\u007f]/g, " ");
}
