import assert from "node:assert/strict";
import { ChunkBuffers } from "./chunk_buffers.ts";

Deno.test("ChunkBuffers makes at most max buffers and reuses those given back", () => {
  const pool = new ChunkBuffers(2, 16);
  const a = pool.tryTake()!;
  const b = pool.tryTake()!;
  assert.equal(a.length, 16);
  assert.equal(pool.tryTake(), null);
  assert.equal(pool.inUse, 2);
  pool.give(a);
  assert.equal(pool.tryTake(), a);
  pool.give(a);
  pool.give(b);
  assert.equal(pool.inUse, 0);
});

Deno.test("ChunkBuffers.take() waits in turn for a buffer given back", async () => {
  const pool = new ChunkBuffers(1, 8);
  const only = await pool.take();
  const order: string[] = [];
  const first = pool.take().then((b) => (order.push("first"), b));
  const second = pool.take().then((b) => (order.push("second"), b));
  await new Promise((r) => setTimeout(r, 0));
  assert.deepEqual(order, []);
  assert.equal(pool.tryTake(), null);
  pool.give(only);
  const got = await first;
  assert.equal(got, only);
  pool.give(got);
  assert.equal(await second, only);
  assert.deepEqual(order, ["first", "second"]);
});

Deno.test("ChunkBuffers.take() stops waiting when its signal aborts", async () => {
  const pool = new ChunkBuffers(1, 8);
  const only = pool.tryTake()!;
  const abort = new AbortController();
  const waiting = pool.take({ signal: abort.signal });
  abort.abort(new Error("gone"));
  await assert.rejects(waiting, /gone/);
  pool.give(only); // nobody waits any more: it stays free
  assert.equal(pool.tryTake(), only);
  await assert.rejects(pool.take({ signal: abort.signal }), /gone/);
});
