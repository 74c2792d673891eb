import assert from "node:assert/strict";
import { rejection } from "./_testing.ts";
import { ConnectionClosedError, ProtocolError } from "./errors.ts";
import {
  ByteReader,
  FRAME_HEADER_BYTES,
  FrameKind,
  FramePool,
  FrameWriter,
  newTraffic,
  type Sink,
  type Source,
  WRITE_BATCH_BYTES,
} from "./framing.ts";

/** A source that hands out `bytes` at most `step` at a time and counts what was taken. */
function source(bytes: Uint8Array, step = Infinity): Source & { taken: number } {
  const s = {
    taken: 0,
    read(p: Uint8Array): Promise<number | null> {
      if (s.taken === bytes.length) return Promise.resolve(null);
      const n = Math.min(p.length, step, bytes.length - s.taken);
      p.set(bytes.subarray(s.taken, s.taken + n));
      s.taken += n;
      return Promise.resolve(n);
    },
  };
  return s;
}

function frame(kind: number, payload: number[]): number[] {
  const n = payload.length;
  return [n >>> 24, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff, kind, ...payload];
}

Deno.test("ByteReader.readFrame() reassembles frames split at every byte", async () => {
  const bytes = Uint8Array.from([...frame(0, [1, 2, 3]), ...frame(1, []), ...frame(0, [9])]);
  const reader = new ByteReader(source(bytes, 1), newTraffic());
  assert.deepEqual(await reader.readFrame(100), { kind: 0, payload: Uint8Array.of(1, 2, 3) });
  assert.deepEqual(await reader.readFrame(100), { kind: 1, payload: new Uint8Array(0) });
  assert.deepEqual(await reader.readFrame(100), { kind: 0, payload: Uint8Array.of(9) });
  assert.equal(await reader.readFrame(100), null);
});

Deno.test("ByteReader.readFrame() reads a frame larger than its buffer", async () => {
  const payload = Array.from({ length: 600_000 }, (_, i) => i & 0xff);
  const reader = new ByteReader(source(Uint8Array.from(frame(0, payload)), 70_000), newTraffic());
  const got = await reader.readFrame(1 << 20);
  assert.deepEqual(got?.payload, Uint8Array.from(payload));
});

Deno.test("ByteReader.readFrame() refuses an oversized length before reading on", async () => {
  const src = source(Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0, 1, 2, 3), 5);
  const reader = new ByteReader(src, newTraffic());
  const error = await rejection(reader.readFrame(1000));
  assert.ok(error instanceof ProtocolError);
  assert.equal(error.message, "Frame of 4294967295 bytes exceeds the limit of 1000 bytes");
  assert.equal(src.taken, FRAME_HEADER_BYTES);
});

Deno.test("ByteReader.readFrame() reports a stream cut inside a frame", async () => {
  const reader = new ByteReader(
    source(Uint8Array.from(frame(0, [1, 2, 3]).slice(0, 6))),
    newTraffic(),
  );
  assert.ok(await rejection(reader.readFrame(100)) instanceof Deno.errors.UnexpectedEof);
  const header = new ByteReader(source(Uint8Array.of(0, 0)), newTraffic());
  assert.ok(await rejection(header.readFrame(100)) instanceof Deno.errors.UnexpectedEof);
});

function sink(fail = false): Sink & { writes: number[][] } {
  const s = {
    writes: [] as number[][],
    write(p: Uint8Array): Promise<number> {
      if (fail) return Promise.reject(new Deno.errors.BrokenPipe("Broken pipe"));
      s.writes.push([...p]);
      return Promise.resolve(p.length);
    },
  };
  return s;
}

Deno.test("FrameWriter packs frames queued together into one write", async () => {
  const out = sink();
  const writer = new FrameWriter(out, newTraffic());
  await Promise.all([
    writer.send(FrameKind.data, Uint8Array.of(1)),
    writer.send(FrameKind.ping, new Uint8Array(0)),
    writer.send(FrameKind.data, Uint8Array.of(2, 3)),
  ]);
  // The first goes alone (the writer was idle); the next two were queued meanwhile.
  assert.deepEqual(out.writes.flat(), [...frame(0, [1]), ...frame(1, []), ...frame(0, [2, 3])]);
  assert.ok(out.writes.length <= 2);
  const big = new Uint8Array(WRITE_BATCH_BYTES + 1);
  await writer.send(FrameKind.data, big);
  assert.deepEqual(out.writes.at(-2), [0, 1, 0, 1, FrameKind.data]); // the header alone
  assert.equal(out.writes.at(-1)!.length, big.length); // the payload is written without a copy
});

Deno.test("FrameWriter accepts a send made by a sender it just woke", async () => {
  const out = sink();
  const writer = new FrameWriter(out, newTraffic());
  for (let i = 0; i < 100; i++) await writer.send(FrameKind.data, Uint8Array.of(i));
  assert.equal(out.writes.flat().length, 100 * (FRAME_HEADER_BYTES + 1));
});

Deno.test("FrameWriter rejects queued and later frames once a write fails", async () => {
  const writer = new FrameWriter(sink(true), newTraffic());
  const a = writer.send(FrameKind.data, Uint8Array.of(1));
  const b = writer.send(FrameKind.data, Uint8Array.of(2));
  assert.ok(await rejection(a) instanceof ConnectionClosedError);
  assert.ok(await rejection(b) instanceof ConnectionClosedError);
  assert.ok(
    await rejection(writer.send(FrameKind.data, Uint8Array.of(3))) instanceof ConnectionClosedError,
  );
});

Deno.test("FrameWriter writes a frame's tail from its own array, after a small head", async () => {
  const out = sink();
  const writer = new FrameWriter(out, newTraffic());
  const head = Uint8Array.of(7, 8, 9);
  const tail = new Uint8Array(WRITE_BATCH_BYTES + 1).fill(5);
  await writer.send(FrameKind.data, head, tail);
  const length = head.length + tail.length;
  assert.deepEqual(out.writes.flat(), [...frame(0, [...head, ...tail])]);
  assert.equal(out.writes.length, 2, "header and head together, then the tail");
  const n = length;
  const header = [n >>> 24, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff, FrameKind.data];
  assert.deepEqual(out.writes[0], [...header, 7, 8, 9]);
  // Small frames with tails still pack together.
  out.writes.length = 0;
  await Promise.all([
    writer.send(FrameKind.data, Uint8Array.of(1), Uint8Array.of(2)),
    writer.send(FrameKind.data, Uint8Array.of(3), Uint8Array.of(4, 5)),
    writer.send(FrameKind.data, Uint8Array.of(6), Uint8Array.of(7)),
  ]);
  assert.deepEqual(out.writes.flat(), [
    ...frame(0, [1, 2]),
    ...frame(0, [3, 4, 5]),
    ...frame(0, [6, 7]),
  ]);
  assert.ok(out.writes.length <= 2);
});

Deno.test("ByteReader.readFrame() reads large payloads into lent buffers, reused once released", async () => {
  const pool = new FramePool(400_000, 2);
  const payloads = [1, 2, 3].map((k) => Array.from({ length: 300_000 }, (_, i) => (i * k) & 0xff));
  const bytes = Uint8Array.from(payloads.flatMap((p) => frame(0, p)));
  const reader = new ByteReader(source(bytes, 50_000), newTraffic());
  const first = (await reader.readFrame(1 << 20, pool))!.payload;
  assert.deepEqual(first, Uint8Array.from(payloads[0]!));
  assert.equal(first.buffer.byteLength, 400_000, "a pooled buffer");
  const buffer = first.buffer;
  pool.release(first);
  pool.release(first); // twice: ignored
  assert.equal(pool.free, 1);
  const second = (await reader.readFrame(1 << 20, pool))!.payload;
  assert.equal(second.buffer, buffer, "the released buffer is reused");
  assert.deepEqual(second, Uint8Array.from(payloads[1]!));
  const third = (await reader.readFrame(1 << 20, pool))!.payload; // second not released
  assert.notEqual(third.buffer, buffer);
  assert.deepEqual(third, Uint8Array.from(payloads[2]!));
  assert.deepEqual(second, Uint8Array.from(payloads[1]!), "a lent payload stays intact");
  pool.release(Uint8Array.of(1)); // not lent: ignored
  assert.equal(pool.free, 0);
});

Deno.test("FramePool lends only payloads that fit and keeps at most freeMax idle", () => {
  const pool = new FramePool(1000, 1);
  assert.equal(pool.take(1001), null);
  const a = pool.take(10)!;
  const b = pool.take(1000)!;
  assert.equal(a.length, 10);
  assert.notEqual(a.buffer, b.buffer);
  pool.release(a);
  pool.release(b);
  assert.equal(pool.free, 1);
});

Deno.test("FramePool drops its idle buffers after a quiet period, not while it is in use", () => {
  const pool = new FramePool(1000, 3);
  const lent = [pool.take(10)!, pool.take(10)!, pool.take(10)!];
  lent.forEach((p) => pool.release(p));
  assert.equal(pool.free, 3);
  pool.idle(); // taken since the last call: kept
  assert.equal(pool.free, 3);
  const again = pool.take(10)!;
  assert.ok(lent.some((p) => p.buffer === again.buffer), "reused");
  pool.release(again);
  pool.idle();
  assert.equal(pool.free, 3);
  pool.idle(); // a whole period without a take
  assert.equal(pool.free, 0);
  const fresh = pool.take(10)!;
  assert.ok(lent.every((p) => p.buffer !== fresh.buffer), "a new buffer once dropped");
});
