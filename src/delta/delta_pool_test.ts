import assert from "node:assert/strict";
import { concat, randomBytes, sameBytes } from "./_testing.ts";
import { compressChunk } from "./compress.ts";
import { delta } from "./delta.ts";
import { DELTA_QUEUE_MAX, DeltaPool } from "./delta_pool.ts";
import { DeltaError } from "./errors.ts";
import { isEmptyDelta, patch } from "./patch.ts";
import { signature } from "./signature.ts";

const MiB = 1 << 20;

Deno.test("DeltaPool computes the same signatures and deltas as the functions", async () => {
  using pool = new DeltaPool({ workers: 2 });
  const old = randomBytes(3 * MiB);
  const next = concat(old.subarray(0, MiB), randomBytes(10), old.subarray(MiB));
  const [sig, sigSmall] = await Promise.all([
    pool.signature(old),
    pool.signature(old, { blockSize: 4096 }),
  ]);
  assert.ok(sameBytes(sig, signature(old)));
  assert.ok(sameBytes(sigSmall, signature(old, 4096)));
  const d = await pool.delta(sig, next);
  assert.ok(sameBytes(d, delta(sig, next)));
  assert.ok(sameBytes(patch(old, d), next));
  assert.ok(isEmptyDelta(await pool.delta(sig, old), old.length));
  assert.equal(old.length, 3 * MiB, "inputs are copied unless transferred");
});

Deno.test("DeltaPool transfers inputs when told", async () => {
  using pool = new DeltaPool({ workers: 1 });
  const data = randomBytes(MiB);
  const expected = signature(data);
  const sig = await pool.signature(data, { transfer: true });
  assert.equal(data.byteLength, 0, "the caller's array is detached");
  assert.ok(sameBytes(sig, expected));
});

Deno.test("DeltaPool compresses and decompresses chunks", async () => {
  using pool = new DeltaPool({ workers: 1 });
  const text = new TextEncoder().encode("function take(n) { return n; }\n".repeat(40_000));
  const chunk = await pool.compressChunk(text);
  assert.ok(chunk.compressed);
  assert.ok(sameBytes(chunk.data, compressChunk(text).data));
  const back = await pool.decompressChunk(chunk.data, { maxSize: text.length });
  assert.ok(sameBytes(back, text));
  const raw = await pool.compressChunk(randomBytes(1000));
  assert.equal(raw.compressed, false);
  await assert.rejects(pool.decompressChunk(chunk.data, { maxSize: 100 }), DeltaError);
});

Deno.test("DeltaPool passes errors back by class", async () => {
  using pool = new DeltaPool({ workers: 1 });
  await assert.rejects(pool.delta(new Uint8Array([1, 2, 3]), new Uint8Array(10)), DeltaError);
  await assert.rejects(pool.signature(new Uint8Array(10), { blockSize: 3 }), RangeError);
  // The worker survives a failed job.
  assert.ok(sameBytes(await pool.signature(new Uint8Array(10)), signature(new Uint8Array(10))));
});

Deno.test("DeltaPool: an aborted job stops its worker; the next job gets a new one", async () => {
  using pool = new DeltaPool({ workers: 1 });
  const sig = signature(randomBytes(MiB));
  const controller = new AbortController();
  const running = pool.delta(sig, randomBytes(64 * MiB), { signal: controller.signal });
  const queued = pool.signature(new Uint8Array(100));
  setTimeout(() => controller.abort(new Error("stop")), 20);
  await assert.rejects(running, /stop/);
  assert.ok(sameBytes(await queued, signature(new Uint8Array(100))));
  await assert.rejects(pool.signature(new Uint8Array(1), { signal: AbortSignal.abort() }));
});

Deno.test("DeltaPool: close() rejects pending jobs and later calls", async () => {
  const pool = new DeltaPool({ workers: 1 });
  const jobs = [pool.signature(randomBytes(8 * MiB)), pool.signature(new Uint8Array(1))];
  pool.close();
  pool.close();
  for (const job of jobs) await assert.rejects(job, /pool is closed/);
  await assert.rejects(pool.signature(new Uint8Array(1)), /pool is closed/);
});

Deno.test("DeltaPool: a full queue makes callers wait for room", async () => {
  using pool = new DeltaPool({ workers: 1 });
  const jobs = Array.from(
    { length: DELTA_QUEUE_MAX + 10 },
    (_, i) => pool.signature(new Uint8Array(i)),
  );
  const sigs = await Promise.all(jobs);
  assert.ok(sameBytes(sigs.at(-1)!, signature(new Uint8Array(DELTA_QUEUE_MAX + 9))));
  assert.throws(() => new DeltaPool({ workers: -1 }), RangeError);
});
