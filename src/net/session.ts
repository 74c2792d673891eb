/**
 * A protocol session over one connection (docs/protocol.md): requests in both directions
 * at once, identified by ids; replies and streamed items in any order; cancellation;
 * acknowledgements. Every incoming request runs its handler concurrently (a slow read
 * never delays a subscription), up to {@linkcode HANDLERS_MAX}; items of one request are
 * delivered to its consumer in order, one at a time, while the others keep flowing.
 *
 * @module
 */

import type { PeerName } from "../types/mod.ts";
import { describeError, logger } from "../util/mod.ts";
import { ConnectionClosedError } from "./errors.ts";
import { type Item, type Message, PeerError, type Reply, type Request } from "./messages.ts";
import { decode, encodeParts } from "./wire.ts";

const log = logger("net");

/** Most requests of the peer handled at once; more get `busy`. */
export const HANDLERS_MAX = 256;
/** Most requests of ours waiting for an answer at once; more wait for room. */
export const REQUESTS_MAX = 256;

/** What a session needs of a connection (a `Connection`, or an in-memory twin). */
export interface FrameChannel {
  /** The peer at the other end. */
  readonly peer: PeerName;
  /** Sends a frame (`frame` then `tail`, when given); resolves once written. */
  send(frame: Uint8Array, tail?: Uint8Array): Promise<void>;
  /** Received frames, in order. */
  frames(): AsyncIterable<Uint8Array>;
  /** Hands a received frame back for reuse; it is not used afterwards. */
  release?(frame: Uint8Array): void;
  /** Closes the connection. */
  close(reason?: string): Promise<unknown>;
}

/** What a request handler may do besides returning its reply. */
export interface RequestContext {
  /** The peer that asked. */
  readonly peer: PeerName;
  /** Aborted when the peer cancels the request or the connection closes. */
  readonly signal: AbortSignal;
  /** Sends the reply now (a subscription replies first, then streams items). */
  reply(reply: Reply): Promise<void>;
  /** Sends a streamed item; resolves once written (back-pressure). */
  item(item: Item): Promise<void>;
  /** Registers the receiver of the peer's acknowledgements for this request. */
  onAck(fn: (seq: number) => void): void;
}

/** Answers the peer's requests: returns the reply, or `null` if it already sent it. */
export type RequestHandler = (request: Request, ctx: RequestContext) => Promise<Reply | null>;

/** Options of {@linkcode Session.request}. */
export interface RequestOptions {
  /**
   * Receives streamed items in order; its promise is awaited before the next item.
   * `id` is the request's id, for {@linkcode Session.ack}. A chunk's `data` is lent: valid
   * until the call returns (or its promise settles), then reused for later frames.
   */
  readonly onItem?: (item: Item, id: number) => Promise<void> | void;
  /** Cancels the request (the peer is told). */
  readonly signal?: AbortSignal;
  /** Items keep coming after the reply (subscriptions) until cancelled or closed. */
  readonly streaming?: boolean;
}

interface Pending {
  readonly resolve: (reply: Reply) => void;
  readonly reject: (error: Error) => void;
  readonly options: RequestOptions;
  items: Promise<void>;
  replied: boolean;
}

interface Handling {
  readonly abort: AbortController;
  ack: ((seq: number) => void) | null;
}

/** One session with a peer. */
export class Session {
  readonly #ch: FrameChannel;
  readonly #handler: RequestHandler;
  readonly #pending = new Map<number, Pending>();
  readonly #handling = new Map<number, Handling>();
  #nextId = 1;
  #closed: Error | null = null;
  #room: (() => void)[] = [];
  readonly done: Promise<void>;

  /**
   * Starts reading the connection.
   *
   * @param channel the connection
   * @param handler answers the peer's requests
   */
  constructor(channel: FrameChannel, handler: RequestHandler) {
    this.#ch = channel;
    this.#handler = handler;
    this.done = this.#pump();
  }

  /** The peer. */
  get peer(): PeerName {
    return this.#ch.peer;
  }

  /** Whether the session ended. */
  get closed(): boolean {
    return this.#closed !== null;
  }

  async #pump(): Promise<void> {
    try {
      for await (const frame of this.#ch.frames()) this.#receive(frame);
      this.#end(new ConnectionClosedError(`Connection to ${this.peer} closed`));
    } catch (error) {
      this.#end(new ConnectionClosedError(`Connection to ${this.peer} failed`, { cause: error }));
    }
  }

  /**
   * Handles one frame, then hands it back to the channel: at once, except for a chunk,
   * whose bytes are a view of the frame, once its consumer is done with it.
   */
  #receive(frame: Uint8Array): void {
    let m: Message;
    try {
      m = decode(frame);
    } catch (error) {
      this.#giveBack(frame);
      this.#badMessage(error);
      return;
    }
    if (m.kind === "item" && m.item.kind === "chunk") return this.#onItem(m.id, m.item, frame);
    this.#giveBack(frame); // decoding copied everything else out of it
    switch (m.kind) {
      case "request":
        return this.#serve(m.id, m.request);
      case "reply":
        return this.#onReply(m.id, m.reply);
      case "item":
        return this.#onItem(m.id, m.item, null);
      case "error":
        return this.#fail(m.id, new PeerError(m.code, `${this.peer}: ${m.message}`));
      case "cancel":
        return this.#handling.get(m.id)?.abort.abort(
          new PeerError("cancelled", "Cancelled by the peer"),
        );
      case "ack":
        return this.#handling.get(m.id)?.ack?.(m.seq);
    }
  }

  #badMessage(error: unknown): void {
    const pe = error instanceof PeerError ? error : null;
    log.warn(`${this.peer}: ignoring a malformed message: ${describeError(error)}`);
    if (pe === null || pe.about === null) return;
    if (pe.about.kind === "request") {
      this.#post({ id: pe.about.id, kind: "error", code: pe.code, message: pe.message });
    } else if (pe.about.kind !== "cancel" && pe.about.kind !== "ack") this.#fail(pe.about.id, pe);
  }

  #serve(id: number, request: Request): void {
    if (this.#handling.has(id)) return; // a duplicate id is ignored
    if (this.#handling.size >= HANDLERS_MAX) {
      this.#post({ id, kind: "error", code: "busy", message: "Too many requests at once" });
      return;
    }
    const h: Handling = { abort: new AbortController(), ack: null };
    this.#handling.set(id, h);
    let replied = false;
    const ctx: RequestContext = {
      peer: this.peer,
      signal: h.abort.signal,
      reply: (reply) => {
        replied = true;
        return this.#send({ id, kind: "reply", reply });
      },
      item: (item) => this.#send({ id, kind: "item", item }),
      onAck: (fn) => void (h.ack = fn),
    };
    // A handler that throws synchronously is answered like one that rejects.
    Promise.resolve().then(() => this.#handler(request, ctx)).then(
      (reply) => reply !== null && !replied ? this.#send({ id, kind: "reply", reply }) : undefined,
      (error) => this.#sendError(id, error, h.abort.signal),
    ).catch(() => {}).finally(() => this.#handling.delete(id));
  }

  #sendError(id: number, error: unknown, signal: AbortSignal): Promise<void> | undefined {
    if (this.#closed !== null) return;
    const pe = error instanceof PeerError
      ? error
      : signal.aborted
      ? new PeerError("cancelled", "Cancelled")
      : null;
    if (pe === null) log.error(`${this.peer}: request ${id} failed`, error);
    const code = pe?.code ?? "internal";
    const message = pe?.message ?? `Internal error: ${describeError(error)}`;
    return this.#send({ id, kind: "error", code, message });
  }

  #onReply(id: number, reply: Reply): void {
    const p = this.#pending.get(id);
    if (p === undefined || p.replied) return;
    p.replied = true;
    if (p.options.streaming !== true) {
      // Items sent before the reply are delivered first.
      void p.items.then(() => {
        this.#release(id);
        p.resolve(reply);
      });
    } else p.resolve(reply);
  }

  #giveBack(frame: Uint8Array): void {
    this.#ch.release?.(frame);
  }

  /** Delivers an item; `frame`, when given, is released once the consumer is done. */
  #onItem(id: number, item: Item, frame: Uint8Array | null): void {
    const p = this.#pending.get(id);
    const onItem = p?.options.onItem;
    if (p === undefined || onItem === undefined) {
      if (frame !== null) this.#giveBack(frame);
      return;
    }
    p.items = p.items.then(() => onItem(item, id)).catch((error) => {
      this.#fail(id, error instanceof Error ? error : new Error(String(error)));
      this.#post({ id, kind: "cancel" });
    }).finally(() => {
      if (frame !== null) this.#giveBack(frame);
    });
  }

  #fail(id: number, error: Error): void {
    const p = this.#pending.get(id);
    if (p === undefined) return;
    this.#release(id);
    p.reject(error);
  }

  #release(id: number): void {
    if (!this.#pending.delete(id)) return;
    this.#room.shift()?.();
  }

  /**
   * Sends a request and waits for its reply. Items are delivered to `onItem` in order,
   * before the reply resolves (or, for `streaming` requests, also after it).
   *
   * @param request the request
   * @param options item consumer, cancellation, streaming
   * @returns the reply
   * @throws {PeerError} when the peer answers with an error (or the consumer fails)
   * @throws {ConnectionClosedError} when the connection ends first
   */
  async request(request: Request, options: RequestOptions = {}): Promise<Reply> {
    while (this.#pending.size >= REQUESTS_MAX && this.#closed === null) {
      await new Promise<void>((r) => this.#room.push(r));
    }
    if (this.#closed !== null) throw this.#closed;
    options.signal?.throwIfAborted();
    const id = this.#nextId++;
    const { promise, resolve, reject } = Promise.withResolvers<Reply>();
    // The connection may end while the request is still being sent, rejecting the reply
    // before it is awaited: observed here, so that is no unhandled rejection (which ends
    // the process); the caller gets the send's error, or this one below.
    promise.catch(() => {});
    const p: Pending = { resolve, reject, options, items: Promise.resolve(), replied: false };
    this.#pending.set(id, p);
    const onAbort = () => {
      this.#fail(id, options.signal?.reason ?? new PeerError("cancelled", "Cancelled"));
      this.#post({ id, kind: "cancel" });
    };
    options.signal?.addEventListener("abort", onAbort, { once: true });
    try {
      await this.#send({ id, kind: "request", request });
      return await promise;
    } finally {
      if (options.streaming !== true) options.signal?.removeEventListener("abort", onAbort);
    }
  }

  /**
   * Acknowledges a streamed batch of the peer's reply to our request `id`.
   *
   * @param id our request
   * @param seq the batch's sequence number
   */
  async ack(id: number, seq: number): Promise<void> {
    await this.#send({ id, kind: "ack", seq });
  }

  /** Sends a message nobody waits for (cancel, error replies): failures only matter if closed. */
  #post(m: Message): void {
    this.#send(m).catch((error) => {
      if (this.#closed === null) {
        log.debug(`${this.peer}: cannot send ${m.kind}: ${describeError(error)}`);
      }
    });
  }

  async #send(m: Message): Promise<void> {
    if (this.#closed !== null) throw this.#closed;
    const [head, payload] = encodeParts(m);
    await (payload.length === 0 ? this.#ch.send(head) : this.#ch.send(head, payload));
  }

  #end(error: Error): void {
    if (this.#closed !== null) return;
    this.#closed = error;
    for (const h of this.#handling.values()) h.abort.abort(error);
    for (const [id, p] of [...this.#pending]) {
      this.#pending.delete(id);
      p.reject(error);
    }
    for (const r of this.#room.splice(0)) r();
  }

  /**
   * Ends the session and closes the connection.
   *
   * @param reason why, for the peer and logs
   */
  async close(reason = "session closed"): Promise<void> {
    this.#end(new ConnectionClosedError(`Session with ${this.peer} closed: ${reason}`));
    await this.#ch.close(reason);
    await this.done;
  }
}
