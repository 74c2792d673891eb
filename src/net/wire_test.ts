import assert from "node:assert/strict";
import { Hash, parseArenaName, paths, UnixTime } from "../types/mod.ts";
import { type Message, PeerError, PROTOCOL_VERSION } from "./messages.ts";
import { decode, encode } from "./wire.ts";

const h = (s: string) => Hash.of(new TextEncoder().encode(s));
const docs = parseArenaName("photos/2024");
const p = paths.parse;

/** Compares by value: hashes and times are classes, so compare their text. */
function plain(v: unknown): unknown {
  return JSON.parse(JSON.stringify(v, (_k, x) => {
    if (x instanceof Hash) return `hash:${x}`;
    if (x instanceof UnixTime) return `time:${x}`;
    if (x instanceof Uint8Array) return `bytes:${[...x].join(",")}`;
    return x;
  }));
}

const MESSAGES: Message[] = [
  {
    id: 1,
    kind: "request",
    request: {
      kind: "hello",
      version: PROTOCOL_VERSION,
      batchRateLimit: 2 << 20,
      software: "realize 0.1.0",
    },
  },
  { id: 2, kind: "request", request: { kind: "listArenas" } },
  {
    id: 3,
    kind: "request",
    request: { kind: "subscribe", arena: docs, storeId: "ab12", lastIndex: 42 },
  },
  {
    id: 4,
    kind: "request",
    request: {
      kind: "read",
      arena: docs,
      path: p("a:b/c.jpg"),
      hash: h("x"),
      offset: 5,
      length: 1 << 30,
      batch: true,
      compress: false,
    },
  },
  {
    id: 5,
    kind: "request",
    request: {
      kind: "rsync",
      arena: docs,
      path: p("f"),
      hash: h("y"),
      offset: 0,
      length: 16384,
      signature: new Uint8Array([1, 2, 3]),
    },
  },
  { id: 6, kind: "reply", reply: { kind: "arenas", arenas: [docs, parseArenaName("docs")] } },
  { id: 7, kind: "reply", reply: { kind: "subscribed", storeId: "ab12", catchup: true } },
  { id: 8, kind: "reply", reply: { kind: "readDone" } },
  { id: 9, kind: "reply", reply: { kind: "delta", delta: new Uint8Array([9, 8]) } },
  { id: 10, kind: "reply", reply: { kind: "hello", version: 1, batchRateLimit: 0, software: "x" } },
  {
    id: 11,
    kind: "item",
    item: {
      kind: "chunk",
      offset: 1 << 20,
      data: new Uint8Array([7, 7, 7]),
      compressed: false,
      rawLength: 3,
    },
  },
  {
    id: 12,
    kind: "item",
    item: {
      kind: "chunk",
      offset: 0,
      data: new Uint8Array([1]),
      compressed: true,
      rawLength: 4096,
    },
  },
  {
    id: 13,
    kind: "item",
    item: {
      kind: "batch",
      seq: 3,
      notifications: [
        { kind: "add", index: 7, path: p("new"), size: 10, mtime: UnixTime.of(1, 2), hash: null },
        {
          kind: "replace",
          index: 8,
          path: p("d/e"),
          size: 3,
          mtime: UnixTime.of(9),
          hash: h("v2"),
          oldHash: h("v1"),
        },
        { kind: "remove", index: 9, path: p("gone"), oldHash: null },
        { kind: "drop", index: 10, path: p("dropped"), oldHash: h("v") },
        { kind: "rename", index: 11, path: p("a"), dest: p("b"), hash: h("r") },
        { kind: "branch", index: 12, path: p("b"), dest: p("c"), hash: h("r") },
        { kind: "catchupStart", index: 0 },
        { kind: "catchup", index: 0, path: p("f"), size: 1, mtime: UnixTime.of(5), hash: h("f") },
        { kind: "catchupComplete", index: 12 },
      ],
    },
  },
  { id: 14, kind: "error", code: "versionUnavailable", message: "no such version" },
  { id: 15, kind: "cancel" },
  { id: 16, kind: "ack", seq: 99 },
];

Deno.test("encode() and decode() round-trip every message kind", () => {
  for (const m of MESSAGES) assert.deepEqual(plain(decode(encode(m))), plain(m), m.kind);
});

function reencode(m: Message, edit: (frame: Uint8Array) => Uint8Array): Uint8Array {
  return edit(encode(m));
}

Deno.test("decode() rejects garbage quickly, as malformed", () => {
  const started = performance.now();
  for (let i = 0; i < 500; i++) {
    const garbage = crypto.getRandomValues(new Uint8Array(8 + (i % 200)));
    assert.throws(() => decode(garbage), (e) => e instanceof PeerError && e.code === "malformed");
  }
  // capnp-es alone spends ~20 s on one frame whose header declares a billion segments.
  assert.ok(performance.now() - started < 5000, "garbage is rejected without parsing it");
  const huge = new Uint8Array(4 + 16);
  new DataView(huge.buffer).setUint32(0, 16, true);
  new DataView(huge.buffer).setUint32(4, 0xfffffff, true);
  assert.throws(() => decode(huge), /segments/);
});

Deno.test("decode() rejects hostile fields: .. in paths, bad hashes, oversized chunks", () => {
  const read = MESSAGES[3]!;
  const swap = (from: string, to: string) =>
    reencode(read, (f) => {
      const text = new TextDecoder("latin1").decode(f);
      const at = text.indexOf(from);
      assert.ok(at > 0);
      const out = f.slice();
      out.set(new TextEncoder().encode(to), at);
      return out;
    });
  assert.throws(
    () => decode(swap("a:b/c.jpg", "../b/c.jpg")),
    (e) => e instanceof PeerError && e.code === "badPath",
  );
  assert.throws(
    () => decode(swap("a:b/c.jpg", "/etc/passw")),
    (e) => e instanceof PeerError && e.code === "badPath",
  );
  assert.throws(
    () => decode(swap("photos/2024", "photos/../x")),
    (e) => e instanceof PeerError && e.code === "unknownArena",
  );
  const chunk: Message = {
    id: 1,
    kind: "item",
    item: {
      kind: "chunk",
      offset: 0,
      data: new Uint8Array((1 << 20) + 1),
      compressed: false,
      rawLength: 0,
    },
  };
  assert.throws(() => decode(encode(chunk)), /chunk of/);
});

Deno.test("decode() refuses a batch longer than the limit without reading it", () => {
  const many: Message = {
    id: 1,
    kind: "item",
    item: {
      kind: "batch",
      seq: 1,
      notifications: Array.from(
        { length: 1025 },
        () => ({ kind: "catchupStart" as const, index: 0 }),
      ),
    },
  };
  assert.throws(() => decode(encode(many)), /batch of 1025/);
});
