import assert from "node:assert/strict";
import { Hash, parseArenaName, parsePeerName, paths } from "../types/mod.ts";
import { memoryChannels } from "./_memory_channel.ts";
import { ConnectionClosedError } from "./errors.ts";
import { type Item, PeerError, type Reply, type Request } from "./messages.ts";
import { type RequestHandler, Session } from "./session.ts";
import { encode } from "./wire.ts";

const A = parsePeerName("a");
const B = parsePeerName("b");
const docs = parseArenaName("docs");
const read = (offset: number): Request => ({
  kind: "read",
  arena: docs,
  path: paths.parse("f"),
  hash: Hash.of(new Uint8Array(1)),
  offset,
  length: 10,
  batch: false,
  compress: false,
});
const chunk = (offset: number): Item => ({
  kind: "chunk",
  offset,
  data: new Uint8Array([offset]),
  compressed: false,
  rawLength: 1,
});

function pair(serverB: RequestHandler, serverA: RequestHandler = () => Promise.resolve(null)) {
  const [toB, toA] = memoryChannels(A, B);
  const a = new Session(toB, serverA);
  const b = new Session(toA, serverB);
  return {
    a,
    b,
    toB,
    async [Symbol.asyncDispose]() {
      await a.close();
      await b.close();
    },
  };
}

Deno.test("Session.request() gets items in order, then the reply", async () => {
  await using s = pair(async (req, ctx) => {
    assert.equal(ctx.peer, "a");
    if (req.kind !== "read") throw new PeerError("unsupported", "no");
    for (let i = 0; i < 5; i++) await ctx.item(chunk(req.offset + i));
    return { kind: "readDone" };
  });
  const got: number[] = [];
  const reply = await s.a.request(read(10), {
    onItem: async (item) => {
      await new Promise((r) => setTimeout(r, 1)); // a slow consumer keeps the order
      if (item.kind === "chunk") got.push(item.offset);
    },
  });
  assert.deepEqual(reply, { kind: "readDone" });
  assert.deepEqual(got, [10, 11, 12, 13, 14]);
});

Deno.test("Session: requests run concurrently; a slow one does not delay the others", async () => {
  const gate = Promise.withResolvers<void>();
  await using s = pair(async (req) => {
    if (req.kind === "read" && req.offset === 0) await gate.promise;
    return { kind: "arenas", arenas: [docs] };
  });
  const slow = s.a.request(read(0));
  const fast = await s.a.request({ kind: "listArenas" });
  assert.deepEqual(fast, { kind: "arenas", arenas: ["docs"] });
  gate.resolve();
  await slow;
});

Deno.test("Session: both sides ask each other at the same time", async () => {
  const answer = (name: string): RequestHandler => () =>
    Promise.resolve({ kind: "hello", version: 1, batchRateLimit: 0, software: name });
  const [toB, toA] = memoryChannels(A, B);
  const a = new Session(toB, answer("from a"));
  const b = new Session(toA, answer("from b"));
  const hello = { kind: "hello" as const, version: 1, batchRateLimit: 0, software: "x" };
  const [ra, rb] = await Promise.all([a.request(hello), b.request(hello)]);
  assert.equal((ra as Reply & { software: string }).software, "from b");
  assert.equal((rb as Reply & { software: string }).software, "from a");
  await a.close();
  await b.close();
});

Deno.test("Session: a failing handler answers with its code; unknown errors are internal", async () => {
  await using s = pair((req) => {
    if (req.kind === "listArenas") throw new PeerError("notFound", "Cannot find it");
    throw new Error("boom");
  });
  await assert.rejects(
    s.a.request({ kind: "listArenas" }),
    (e) => e instanceof PeerError && e.code === "notFound" && /Cannot find it/.test(e.message),
  );
  await assert.rejects(
    s.a.request(read(0)),
    (e) => e instanceof PeerError && e.code === "internal" && /boom/.test(e.message),
  );
});

Deno.test("Session: a streaming request is cancelled by its signal; the handler sees it", async () => {
  const cancelled = Promise.withResolvers<void>();
  const acks: number[] = [];
  await using s = pair(async (_req, ctx) => {
    ctx.onAck((seq) => acks.push(seq));
    await ctx.reply({ kind: "subscribed", storeId: "x", catchup: false });
    for (let seq = 1; !ctx.signal.aborted; seq++) {
      await ctx.item({ kind: "batch", seq, notifications: [] });
      await new Promise((r) => setTimeout(r, 2));
    }
    cancelled.resolve();
    return null;
  });
  const stop = new AbortController();
  const seen: number[] = [];
  const reply = await s.a.request({ kind: "subscribe", arena: docs, storeId: "", lastIndex: 0 }, {
    streaming: true,
    signal: stop.signal,
    onItem: async (item, id) => {
      if (item.kind !== "batch") return;
      seen.push(item.seq);
      await s.a.ack(id, item.seq);
    },
  });
  assert.deepEqual(reply, { kind: "subscribed", storeId: "x", catchup: false });
  while (seen.length < 3) await new Promise((r) => setTimeout(r, 2));
  stop.abort();
  await cancelled.promise;
  assert.ok(acks.length >= 2, "acks reach the handler");
});

Deno.test("Session: a malformed request gets an error reply and the session goes on", async () => {
  await using s = pair(() => Promise.resolve({ kind: "readDone" }));
  // A request whose path escapes the arena, written by hand (encode() would refuse nothing).
  const frame = encode({ id: 77, kind: "request", request: read(0) });
  const text = new TextDecoder("latin1").decode(frame);
  frame.set(new TextEncoder().encode("."), text.indexOf("f\0") >= 0 ? text.indexOf("f\0") : 0);
  const replies: string[] = [];
  // Watch what b sends back to a, at the frame level.
  const send = s.toB.other.send.bind(s.toB.other);
  s.toB.other.send = (f) => {
    replies.push(new TextDecoder("latin1").decode(f));
    return send(f);
  };
  await s.toB.send(frame);
  assert.deepEqual(await s.a.request(read(1)), { kind: "readDone" });
  assert.ok(replies.some((r) => /Invalid path/.test(r)), "the bad request got an error reply");
});

Deno.test("Session: closing rejects pending requests and aborts handlers", async () => {
  const aborted = Promise.withResolvers<void>();
  const s = pair((_req, ctx) =>
    new Promise((_, reject) => {
      ctx.signal.addEventListener("abort", () => {
        aborted.resolve();
        reject(ctx.signal.reason);
      });
    })
  );
  const pending = s.a.request({ kind: "listArenas" });
  await new Promise((r) => setTimeout(r, 5));
  await s.a.close();
  await assert.rejects(pending, ConnectionClosedError);
  await aborted.promise;
  await s.b.close();
  await assert.rejects(s.a.request({ kind: "listArenas" }), ConnectionClosedError);
});

Deno.test("Session: a connection that ends while a request is being sent rejects it once, handled", async () => {
  // The send is stuck (a full socket) when the peer goes: the request must reject with the
  // closing, and nothing may reject unobserved (an unhandled rejection ends the process).
  const ended = Promise.withResolvers<void>();
  const sending = Promise.withResolvers<void>();
  const channel = {
    peer: B,
    send: () => {
      sending.resolve();
      return new Promise<void>((_, reject) =>
        ended.promise.then(() => reject(new Error("socket closed")))
      );
    },
    frames: (): AsyncIterable<Uint8Array> => ({
      [Symbol.asyncIterator]: () => ({
        next: async () => {
          await ended.promise; // no frame, then the end
          return { done: true as const, value: undefined };
        },
      }),
    }),
    close: () => Promise.resolve(),
  };
  const s = new Session(channel, () => Promise.resolve(null));
  const pending = s.request({ kind: "listArenas" });
  await sending.promise;
  ended.resolve();
  await assert.rejects(pending);
  await s.done;
  await new Promise((r) => setTimeout(r, 10)); // an unhandled rejection would surface here
  assert.equal(s.closed, true);
});
