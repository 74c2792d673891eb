/**
 * The messages of the peer protocol as domain values (docs/protocol.md). The wire form is
 * Cap'n Proto (`schema/peer.capnp`); `wire.ts` is the only code that reads or writes it.
 *
 * @module
 */

import type { ArenaName, Hash, Notification, Path, UnixTime } from "../types/mod.ts";

/** The version of the protocol this code speaks. */
export const PROTOCOL_VERSION = 1;

/** Most notifications in one batch. */
export const BATCH_NOTIFICATIONS_MAX = 1024;
/** Most arenas a peer may list. */
export const ARENAS_MAX = 4096;
/** Most bytes one read request may ask for (it is streamed in chunks). */
export const READ_BYTES_MAX = 2 ** 40;
/** Most bytes of one data chunk. */
export const CHUNK_BYTES_MAX = 1 << 20;
/** Most bytes of an rsync range (the signature and delta are built in memory). */
export const RSYNC_BYTES_MAX = 64 << 20;
/** Longest text field (paths, messages). */
export const TEXT_BYTES_MAX = 16 * 1024;

/** A file version as a catch-up reports it. */
export interface CatchupFile {
  readonly kind: "catchup";
  readonly index: 0;
  readonly path: Path;
  readonly size: number;
  readonly mtime: UnixTime;
  readonly hash: Hash | null;
}

/** What a subscription carries: history notifications and catch-up markers. */
export type WireNotification =
  | Notification
  | CatchupFile
  | { readonly kind: "catchupStart"; readonly index: number }
  | { readonly kind: "catchupComplete"; readonly index: number };

/** Session parameters, exchanged once in each direction. */
export interface Hello {
  readonly version: number;
  /** Bytes/s the sender wants to receive background transfers at; 0: no limit. */
  readonly batchRateLimit: number;
  readonly software: string;
}

/** A request. */
export type Request =
  | ({ readonly kind: "hello" } & Hello)
  | { readonly kind: "listArenas" }
  | {
    readonly kind: "subscribe";
    readonly arena: ArenaName;
    /** The publisher's history id the subscriber knows, `""` if none. */
    readonly storeId: string;
    readonly lastIndex: number;
  }
  | {
    readonly kind: "read";
    readonly arena: ArenaName;
    readonly path: Path;
    readonly hash: Hash;
    readonly offset: number;
    readonly length: number;
    readonly batch: boolean;
    readonly compress: boolean;
  }
  | {
    readonly kind: "rsync";
    readonly arena: ArenaName;
    readonly path: Path;
    readonly hash: Hash;
    readonly offset: number;
    readonly length: number;
    readonly signature: Uint8Array;
  };

/** The final answer to a request (a subscription's first answer). */
export type Reply =
  | ({ readonly kind: "hello" } & Hello)
  | { readonly kind: "arenas"; readonly arenas: readonly ArenaName[] }
  | { readonly kind: "subscribed"; readonly storeId: string; readonly catchup: boolean }
  | { readonly kind: "readDone" }
  | { readonly kind: "delta"; readonly delta: Uint8Array };

/** Part of a streamed answer. */
export type Item =
  | {
    readonly kind: "chunk";
    readonly offset: number;
    /** The bytes as sent: compressed when `compressed`. */
    readonly data: Uint8Array;
    readonly compressed: boolean;
    /** Length once decompressed. */
    readonly rawLength: number;
  }
  | {
    readonly kind: "batch";
    readonly seq: number;
    readonly notifications: readonly WireNotification[];
  };

/** Error codes on the wire. */
export const ERROR_CODES = [
  "internal",
  "malformed",
  "unknownArena",
  "badPath",
  "notFound",
  "versionUnavailable",
  "tooLarge",
  "cancelled",
  "unsupported",
  "busy",
] as const;

/** An error code. */
export type ErrorCode = typeof ERROR_CODES[number];

/** One message of a session. */
export type Message =
  | { readonly id: number; readonly kind: "request"; readonly request: Request }
  | { readonly id: number; readonly kind: "reply"; readonly reply: Reply }
  | { readonly id: number; readonly kind: "item"; readonly item: Item }
  | {
    readonly id: number;
    readonly kind: "error";
    readonly code: ErrorCode;
    readonly message: string;
  }
  | { readonly id: number; readonly kind: "cancel" }
  | { readonly id: number; readonly kind: "ack"; readonly seq: number };

/**
 * A request failed on the other side (or locally, with the same codes), with its code.
 * Nothing the request asked for was done.
 */
export class PeerError extends Error {
  override name = "PeerError";
  /** For a message that could not be decoded: its id and kind, when they could be read. */
  readonly about: { readonly id: number; readonly kind: Message["kind"] } | null;
  /**
   * @param code the wire code
   * @param message what went wrong, std style
   * @param options cause; `about`: the message it concerns
   */
  constructor(
    readonly code: ErrorCode,
    message: string,
    options?: ErrorOptions & { about?: { id: number; kind: Message["kind"] } },
  ) {
    super(message, options);
    this.about = options?.about ?? null;
  }
}
