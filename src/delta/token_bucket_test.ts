import assert from "node:assert/strict";
import { FakeClock, settle } from "./_testing.ts";
import { rateLimiter, TOKEN_WAITERS_MAX, TokenBucket, Unlimited } from "./token_bucket.ts";

/** Starts `take`s and records when each resolves (fake time) or rejects. */
function track(clock: FakeClock, promise: Promise<void>): { at: number | null; error: unknown } {
  const state: { at: number | null; error: unknown } = { at: null, error: null };
  promise.then(() => (state.at = clock.now()), (error) => (state.error = error));
  return state;
}

/** Advances fake time in steps of `stepMs`, letting promises settle between steps. */
async function run(clock: FakeClock, ms: number, stepMs = 1): Promise<void> {
  for (let t = 0; t < ms; t += stepMs) {
    clock.advance(stepMs);
    await settle();
  }
}

Deno.test("TokenBucket starts empty and grants at the rate", async () => {
  const clock = new FakeClock();
  const bucket = new TokenBucket({ bytesPerSec: 1000, burstBytes: 100, clock });
  const first = track(clock, bucket.take(50)); // 50 ms
  const second = track(clock, bucket.take(100)); // 150 ms
  await run(clock, 200);
  assert.equal(first.at, 50);
  assert.equal(second.at, 150);
  assert.equal(clock.pending, 0);
});

Deno.test("TokenBucket keeps at most the burst while idle", async () => {
  const clock = new FakeClock();
  const bucket = new TokenBucket({ bytesPerSec: 1000, burstBytes: 100, clock });
  clock.advance(10_000);
  assert.equal(bucket.tokens, 100);
  await bucket.take(100); // at once
  const next = track(clock, bucket.take(10));
  await run(clock, 20);
  assert.equal(next.at, 10_010);
});

Deno.test("TokenBucket grants a request over the burst after its full time", async () => {
  const clock = new FakeClock();
  const bucket = new TokenBucket({ bytesPerSec: 1000, burstBytes: 100, initialBytes: 100, clock });
  const big = track(clock, bucket.take(1000));
  await run(clock, 900, 10);
  assert.equal(big.at, 900); // 100 at the start, 900 more at 1000 B/s
  assert.equal(bucket.tokens, 0);
  clock.advance(500);
  assert.equal(bucket.tokens, 100); // back to the burst
});

Deno.test("TokenBucket serves waiters first come, first served", async () => {
  const clock = new FakeClock();
  const bucket = new TokenBucket({ bytesPerSec: 1000, burstBytes: 1000, clock });
  const order: string[] = [];
  const big = bucket.take(500).then(() => order.push("big"));
  const small = bucket.take(1).then(() => order.push("small"));
  const zero = bucket.take(0).then(() => order.push("zero"));
  await run(clock, 600);
  await Promise.all([big, small, zero]);
  assert.deepEqual(order, ["big", "small", "zero"]);
});

Deno.test("TokenBucket: an aborted waiter leaves and the next one moves up", async () => {
  const clock = new FakeClock();
  const bucket = new TokenBucket({ bytesPerSec: 1000, burstBytes: 1000, clock });
  const controller = new AbortController();
  const first = track(clock, bucket.take(500, { signal: controller.signal }));
  const second = track(clock, bucket.take(100));
  await run(clock, 50);
  controller.abort(new Error("gone"));
  await settle();
  assert.equal((first.error as Error).message, "gone");
  await run(clock, 100);
  assert.equal(second.at, 100); // paid from the tokens of the aborted one
  assert.equal(bucket.waiting, 0);
  await assert.rejects(bucket.take(1, { signal: AbortSignal.abort(new Error("early")) }), /early/);
});

Deno.test("TokenBucket grants exactly the rate over a long run", async () => {
  const clock = new FakeClock();
  const bucket = new TokenBucket({ bytesPerSec: 2_000_000, clock });
  let done = 0;
  const sender = (async () => {
    for (let sent = 0; sent < 8 * 1024 * 1024; sent += 65536) {
      await bucket.take(65536);
      done = clock.now();
    }
  })();
  await run(clock, 5000, 1);
  await sender;
  assert.ok(Math.abs(done - (8 * 1024 * 1024 / 2_000_000) * 1000) <= 1, `done at ${done}`);
});

Deno.test("TokenBucket validates its arguments", () => {
  assert.throws(() => new TokenBucket({ bytesPerSec: 0 }), RangeError);
  assert.throws(() => new TokenBucket({ bytesPerSec: Infinity }), RangeError);
  assert.throws(() => new TokenBucket({ bytesPerSec: 1, burstBytes: -1 }), RangeError);
  assert.throws(
    () => new TokenBucket({ bytesPerSec: 1, burstBytes: 1, initialBytes: 2 }),
    RangeError,
  );
  const bucket = new TokenBucket({ bytesPerSec: 1, clock: new FakeClock() });
  assert.throws(() => bucket.take(-1), RangeError);
  assert.throws(() => bucket.take(1.5), RangeError);
  assert.ok(TOKEN_WAITERS_MAX > 1000);
});

Deno.test("Unlimited and rateLimiter()", async () => {
  await new Unlimited().take(1e12);
  assert.ok(rateLimiter(undefined) instanceof Unlimited);
  assert.ok(rateLimiter(0) instanceof Unlimited);
  assert.ok(rateLimiter(-5) instanceof Unlimited);
  assert.ok(rateLimiter(1024) instanceof TokenBucket);
  await assert.rejects(new Unlimited().take(1, { signal: AbortSignal.abort() }));
});

Deno.test("TokenBucket in real time: 2 MB at 10 MB/s takes about 0.2 s", async () => {
  const bucket = new TokenBucket({ bytesPerSec: 10_000_000 });
  const started = performance.now();
  for (let sent = 0; sent < 2_000_000; sent += 50_000) await bucket.take(50_000);
  const seconds = (performance.now() - started) / 1000;
  // Coarse: timers are late on a busy machine, never early.
  assert.ok(seconds >= 0.19 && seconds < 1.5, `${seconds} s`);
});
