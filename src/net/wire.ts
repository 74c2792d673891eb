/**
 * Messages ↔ frames: the one place that reads and writes the generated Cap'n Proto code
 * (STYLE habit 9). A frame is `u32 length of the Cap'n Proto message | the message |
 * payload`, where the payload carries a chunk's bytes raw (capnp-es copies `Data` fields
 * at about 300 MB/s); {@linkcode encodeParts} keeps the payload apart so the sender writes
 * the chunk from its own buffer, and a decoded chunk is a view of the frame.
 *
 * Decoding trusts nothing: the capnp segment table is checked before capnp-es sees it
 * (capnp-es spends ~20 s on a garbage header that declares a billion segments — measured),
 * list lengths are bounded before iterating, and every path, arena name, hash and number
 * is validated. Anything wrong is a {@linkcode PeerError} `malformed`.
 *
 * @module
 */

import * as capnp from "capnp-es";
import {
  type ArenaName,
  arenaNameProblem,
  Hash,
  type Notification,
  type Path,
  paths,
  UnixTime,
} from "../types/mod.ts";
import { unreachable } from "../util/mod.ts";
import {
  ARENAS_MAX,
  BATCH_NOTIFICATIONS_MAX,
  CHUNK_BYTES_MAX,
  ERROR_CODES,
  type ErrorCode,
  type Hello,
  type Item,
  type Message,
  PeerError,
  type Reply,
  type Request,
  TEXT_BYTES_MAX,
  type WireNotification,
} from "./messages.ts";
import * as S from "./schema/peer.ts";

/** Most segments a message may have (we write one; peers have no reason for more). */
const SEGMENTS_MAX = 64;
const EMPTY = new Uint8Array(0);

function malformed(why: string): never {
  throw new PeerError("malformed", `Malformed message: ${why}`);
}

// ---------------------------------------------------------------- encoding

/**
 * Encodes a message into one frame.
 *
 * @param m the message
 * @returns the frame bytes
 */
export function encode(m: Message): Uint8Array<ArrayBuffer> {
  const [head, payload] = encodeParts(m);
  if (payload.length === 0) return head;
  const frame = new Uint8Array(head.length + payload.length);
  frame.set(head);
  frame.set(payload, head.length);
  return frame;
}

/**
 * Encodes a message as the two parts of its frame, so a chunk's bytes are written as they
 * are instead of copied into the frame: the frame is `head` followed by `payload`.
 *
 * @param m the message
 * @returns the length-prefixed Cap'n Proto message, and the payload (the chunk's bytes
 *   themselves, or empty)
 */
export function encodeParts(m: Message): [Uint8Array<ArrayBuffer>, Uint8Array] {
  const msg = new capnp.Message();
  const e = msg.initRoot(S.Envelope);
  e.id = BigInt(m.id);
  let payload: Uint8Array = EMPTY;
  switch (m.kind) {
    case "request":
      writeRequest(e._initRequest(), m.request);
      break;
    case "reply":
      writeReply(e._initReply(), m.reply);
      break;
    case "item":
      payload = writeItem(e._initItem(), m.item);
      break;
    case "error": {
      const err = e._initError();
      err.code = ERROR_CODES.indexOf(m.code) as S.ErrorCode;
      err.message = m.message.slice(0, 1000);
      break;
    }
    case "cancel":
      e.cancel = true;
      break;
    case "ack":
      e.ack = BigInt(m.seq);
      break;
    default:
      unreachable(m);
  }
  const body = new Uint8Array(msg.toArrayBuffer());
  const head = new Uint8Array(4 + body.length);
  new DataView(head.buffer).setUint32(0, body.length, true);
  head.set(body, 4);
  return [head, payload];
}

function setData(init: (n: number) => capnp.Data, bytes: Uint8Array): void {
  if (bytes.length > 0) init(bytes.length).copyBuffer(bytes);
}

function writeHello(h: S.Hello, v: Hello): void {
  h.version = v.version;
  h.batchRateLimit = BigInt(Math.max(0, Math.floor(v.batchRateLimit)));
  h.software = v.software;
}

function writeRequest(r: S.Request, q: Request): void {
  switch (q.kind) {
    case "hello":
      return writeHello(r._initHello(), q);
    case "listArenas":
      r.listArenas = true;
      return;
    case "subscribe": {
      const s = r._initSubscribe();
      s.arena = q.arena;
      s.storeId = q.storeId;
      s.lastIndex = BigInt(q.lastIndex);
      return;
    }
    case "read": {
      const s = r._initRead();
      s.arena = q.arena;
      s.path = q.path;
      setData((n) => s._initHash(n), q.hash.bytes());
      s.offset = BigInt(q.offset);
      s.length = BigInt(q.length);
      s.batch = q.batch;
      s.compress = q.compress;
      return;
    }
    case "rsync": {
      const s = r._initRsync();
      s.arena = q.arena;
      s.path = q.path;
      setData((n) => s._initHash(n), q.hash.bytes());
      s.offset = BigInt(q.offset);
      s.length = BigInt(q.length);
      setData((n) => s._initSignature(n), q.signature);
      return;
    }
    default:
      unreachable(q);
  }
}

function writeReply(r: S.Reply, p: Reply): void {
  switch (p.kind) {
    case "hello":
      return writeHello(r._initHello(), p);
    case "arenas": {
      const list = r._initArenas(p.arenas.length);
      p.arenas.forEach((a, i) => list.set(i, a));
      return;
    }
    case "subscribed": {
      const s = r._initSubscribed();
      s.storeId = p.storeId;
      s.catchup = p.catchup;
      return;
    }
    case "readDone":
      r.readDone = true;
      return;
    case "delta":
      setData((n) => r._initDelta(n), p.delta);
      return;
    default:
      unreachable(p);
  }
}

/** Writes an item; returns the payload to append (a chunk's bytes). */
function writeItem(it: S.Item, item: Item): Uint8Array {
  if (item.kind === "chunk") {
    const c = it._initChunk();
    c.offset = BigInt(item.offset);
    c.compressed = item.compressed;
    c.rawLength = item.rawLength;
    return item.data;
  }
  const b = it._initBatch();
  b.seq = BigInt(item.seq);
  const list = b._initNotifications(item.notifications.length);
  item.notifications.forEach((n, i) => writeNotification(list.get(i), n));
  return EMPTY;
}

function writeVersion(
  f: S.FileVersion,
  v: { path: Path; size: number; mtime: UnixTime; hash: Hash | null },
): void {
  f.path = v.path;
  f.size = BigInt(v.size);
  const t = f._initMtime();
  t.secs = BigInt(v.mtime.secs);
  t.nsecs = v.mtime.nsecs;
  if (v.hash !== null) setData((n) => f._initHash(n), v.hash.bytes());
}

function writeNotification(w: S.Notification, n: WireNotification): void {
  w.index = BigInt(n.index);
  switch (n.kind) {
    case "add":
      return writeVersion(w._initAdd(), n);
    case "catchup":
      return writeVersion(w._initCatchup(), n);
    case "replace": {
      const r = w._initReplace();
      writeVersion(r._initFile(), n);
      if (n.oldHash !== null) setData((k) => r._initOldHash(k), n.oldHash.bytes());
      return;
    }
    case "remove":
    case "drop": {
      const p = n.kind === "remove" ? w._initRemove() : w._initDrop();
      p.path = n.path;
      if (n.oldHash !== null) setData((k) => p._initHash(k), n.oldHash.bytes());
      return;
    }
    case "branch":
    case "rename": {
      const m = n.kind === "branch" ? w._initBranch() : w._initRename();
      m.path = n.path;
      m.dest = n.dest;
      setData((k) => m._initHash(k), n.hash.bytes());
      return;
    }
    case "catchupStart":
      w.catchupStart = true;
      return;
    case "catchupComplete":
      w.catchupComplete = true;
      return;
    default:
      unreachable(n);
  }
}

// ---------------------------------------------------------------- decoding

/** Checks the capnp segment table against the bytes before capnp-es parses it. */
function checkSegments(body: Uint8Array): void {
  if (body.length < 8 || body.length % 8 !== 0) malformed("bad message length");
  const view = new DataView(body.buffer, body.byteOffset, body.byteLength);
  const count = view.getUint32(0, true) + 1;
  if (count > SEGMENTS_MAX) malformed(`${count} segments`);
  const header = 4 + 4 * count + (count % 2 === 0 ? 4 : 0);
  if (header > body.length) malformed("truncated segment table");
  let words = 0;
  for (let i = 0; i < count; i++) words += view.getUint32(4 + 4 * i, true);
  if (header + words * 8 !== body.length) malformed("segment sizes do not match the frame");
}

/**
 * Decodes one frame.
 *
 * @param frame the frame bytes
 * @returns the message
 * @throws {PeerError} `malformed` for anything invalid
 */
export function decode(frame: Uint8Array): Message {
  if (frame.length < 4) malformed("frame shorter than its header");
  const len = new DataView(frame.buffer, frame.byteOffset, frame.byteLength).getUint32(0, true);
  if (4 + len > frame.length) malformed("message longer than the frame");
  const body = frame.subarray(4, 4 + len);
  const payload = frame.subarray(4 + len);
  checkSegments(body);
  try {
    const e = new capnp.Message(body, false).getRoot(S.Envelope);
    return readEnvelope(e, payload);
  } catch (error) {
    if (error instanceof PeerError) throw error;
    throw new PeerError("malformed", `Malformed message: ${describe(error)}`, { cause: error });
  }
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message.slice(0, 200) : String(error);
}

function int(v: bigint, what: string): number {
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) malformed(`${what} out of range`);
  return Number(v);
}

function text(s: string, what: string): string {
  if (s.length > TEXT_BYTES_MAX) malformed(`${what} too long`);
  return s;
}

function path(s: string, what = "path"): Path {
  const why = paths.problem(text(s, what));
  if (why !== null) throw new PeerError("badPath", `Invalid ${what} "${s.slice(0, 200)}": ${why}`);
  return s as Path;
}

function arena(s: string): ArenaName {
  const why = arenaNameProblem(text(s, "arena"));
  if (why !== null) {
    throw new PeerError("unknownArena", `Invalid arena name "${s.slice(0, 200)}": ${why}`);
  }
  return s as ArenaName;
}

function hashOrNull(d: capnp.Data | null, what: string): Hash | null {
  if (d === null) return null;
  const bytes = d.toUint8Array(); // a view; each capnp-es accessor call walks the pointers
  if (bytes.length === 0) return null;
  if (bytes.length !== 32) malformed(`${what} is ${bytes.length} bytes, not 32`);
  return Hash.fromBytes(bytes);
}

function hash(d: capnp.Data | null, what: string): Hash {
  return hashOrNull(d, what) ?? malformed(`${what} missing`);
}

const KINDS: Record<number, Message["kind"]> = {
  [S.Envelope.REQUEST]: "request",
  [S.Envelope.REPLY]: "reply",
  [S.Envelope.ITEM]: "item",
  [S.Envelope.ERROR]: "error",
  [S.Envelope.CANCEL]: "cancel",
  [S.Envelope.ACK]: "ack",
};

/** Reads an envelope; an invalid body is reported with the envelope's id and kind. */
function readEnvelope(e: S.Envelope, payload: Uint8Array): Message {
  const id = int(e.id, "id");
  const kind = KINDS[e.which()];
  if (kind === undefined) malformed("unknown envelope kind");
  try {
    return readBody(e, id, payload);
  } catch (error) {
    const pe = error instanceof PeerError
      ? error
      : new PeerError("malformed", `Malformed message: ${describe(error)}`, { cause: error });
    throw new PeerError(pe.code, pe.message, { cause: pe.cause, about: { id, kind } });
  }
}

function readBody(e: S.Envelope, id: number, payload: Uint8Array): Message {
  switch (e.which()) {
    case S.Envelope.REQUEST:
      return { id, kind: "request", request: readRequest(e.request) };
    case S.Envelope.REPLY:
      return { id, kind: "reply", reply: readReply(e.reply) };
    case S.Envelope.ITEM:
      return { id, kind: "item", item: readItem(e.item, payload) };
    case S.Envelope.ERROR: {
      const code: ErrorCode = ERROR_CODES[e.error.code] ?? "internal";
      return { id, kind: "error", code, message: text(e.error.message, "message") };
    }
    case S.Envelope.CANCEL:
      return { id, kind: "cancel" };
    case S.Envelope.ACK:
      return { id, kind: "ack", seq: int(e.ack, "ack") };
    default:
      return malformed("unknown envelope kind");
  }
}

function readHello(h: S.Hello): Hello {
  return {
    version: h.version,
    batchRateLimit: int(h.batchRateLimit, "batchRateLimit"),
    software: text(h.software, "software"),
  };
}

function readRequest(r: S.Request): Request {
  switch (r.which()) {
    case S.Request.HELLO:
      return { kind: "hello", ...readHello(r.hello) };
    case S.Request.LIST_ARENAS:
      return { kind: "listArenas" };
    case S.Request.SUBSCRIBE: {
      const s = r.subscribe;
      return {
        kind: "subscribe",
        arena: arena(s.arena),
        storeId: text(s.storeId, "storeId"),
        lastIndex: int(s.lastIndex, "lastIndex"),
      };
    }
    case S.Request.READ: {
      const s = r.read;
      return {
        kind: "read",
        arena: arena(s.arena),
        path: path(s.path),
        hash: hash(s._hasHash() ? s.hash : null, "hash"),
        offset: int(s.offset, "offset"),
        length: int(s.length, "length"),
        batch: s.batch,
        compress: s.compress,
      };
    }
    case S.Request.RSYNC: {
      const s = r.rsync;
      return {
        kind: "rsync",
        arena: arena(s.arena),
        path: path(s.path),
        hash: hash(s._hasHash() ? s.hash : null, "hash"),
        offset: int(s.offset, "offset"),
        length: int(s.length, "length"),
        signature: s._hasSignature() ? s.signature.toUint8Array().slice() : EMPTY,
      };
    }
    default:
      return malformed("unknown request");
  }
}

function readReply(r: S.Reply): Reply {
  switch (r.which()) {
    case S.Reply.HELLO:
      return { kind: "hello", ...readHello(r.hello) };
    case S.Reply.ARENAS: {
      const list = r.arenas;
      const count = list.length;
      if (count > ARENAS_MAX) malformed(`${count} arenas`);
      const arenas: ArenaName[] = [];
      for (let i = 0; i < count; i++) arenas.push(arena(list.get(i)));
      return { kind: "arenas", arenas };
    }
    case S.Reply.SUBSCRIBED: {
      const s = r.subscribed;
      return { kind: "subscribed", storeId: text(s.storeId, "storeId"), catchup: s.catchup };
    }
    case S.Reply.READ_DONE:
      return { kind: "readDone" };
    case S.Reply.DELTA:
      return { kind: "delta", delta: r._hasDelta() ? r.delta.toUint8Array().slice() : EMPTY };
    default:
      return malformed("unknown reply");
  }
}

function readItem(it: S.Item, payload: Uint8Array): Item {
  switch (it.which()) {
    case S.Item.CHUNK: {
      const c = it.chunk;
      if (payload.length > CHUNK_BYTES_MAX) malformed(`chunk of ${payload.length} bytes`);
      if (c.rawLength > CHUNK_BYTES_MAX) malformed(`chunk of ${c.rawLength} bytes`);
      return {
        kind: "chunk",
        offset: int(c.offset, "offset"),
        data: payload,
        compressed: c.compressed,
        rawLength: c.compressed ? c.rawLength : payload.length,
      };
    }
    case S.Item.BATCH: {
      const b = it.batch;
      const list = b.notifications;
      const count = list.length; // computed by capnp-es on every access
      if (count > BATCH_NOTIFICATIONS_MAX) malformed(`batch of ${count}`);
      const notifications: WireNotification[] = [];
      for (let i = 0; i < count; i++) notifications.push(readNotification(list.get(i)));
      return { kind: "batch", seq: int(b.seq, "seq"), notifications };
    }
    default:
      return malformed("unknown item");
  }
}

function readVersion(f: S.FileVersion) {
  const t = f.mtime;
  const nsecs = t.nsecs;
  if (nsecs > 999_999_999) malformed("mtime nanoseconds out of range");
  return {
    path: path(f.path),
    size: int(f.size, "size"),
    mtime: UnixTime.of(int(t.secs, "mtime"), nsecs),
    hash: hashOrNull(f._hasHash() ? f.hash : null, "hash"),
  };
}

function readNotification(w: S.Notification): WireNotification {
  const index = int(w.index, "index");
  switch (w.which()) {
    case S.Notification.ADD:
      return { kind: "add", index, ...readVersion(w.add) };
    case S.Notification.CATCHUP:
      return { kind: "catchup", index: 0, ...readVersion(w.catchup) };
    case S.Notification.REPLACE: {
      const r = w.replace;
      const oldHash = hashOrNull(r._hasOldHash() ? r.oldHash : null, "oldHash");
      return { kind: "replace", index, ...readVersion(r.file), oldHash };
    }
    case S.Notification.REMOVE:
    case S.Notification.DROP: {
      const remove = w.which() === S.Notification.REMOVE;
      const p = remove ? w.remove : w.drop;
      const oldHash = hashOrNull(p._hasHash() ? p.hash : null, "hash");
      if (remove) return { kind: "remove", index, path: path(p.path), oldHash } as Notification;
      if (oldHash === null) malformed("drop without a hash");
      return { kind: "drop", index, path: path(p.path), oldHash };
    }
    case S.Notification.BRANCH:
    case S.Notification.RENAME: {
      const branch = w.which() === S.Notification.BRANCH;
      const m = branch ? w.branch : w.rename;
      const h = hash(m._hasHash() ? m.hash : null, "hash");
      return {
        kind: branch ? "branch" : "rename",
        index,
        path: path(m.path),
        dest: path(m.dest, "dest"),
        hash: h,
      };
    }
    case S.Notification.CATCHUP_START:
      return { kind: "catchupStart", index };
    case S.Notification.CATCHUP_COMPLETE:
      return { kind: "catchupComplete", index };
    default:
      return malformed("unknown notification");
  }
}
