import assert from "node:assert/strict";
import { concat, Prng, randomBytes, sameBytes } from "./_testing.ts";
import { delta, DELTA_HEADER_SIZE, OP_COPY, OP_LITERAL, STRONG_MISSES_MIN } from "./delta.ts";
import { isEmptyDelta, patch } from "./patch.ts";
import { BLOCK_SIZE_DEFAULT, signature, SIGNATURE_HEADER_SIZE } from "./signature.ts";

const BS = BLOCK_SIZE_DEFAULT;
const MiB = 1 << 20;

/** Signature, delta, patch: returns the delta after checking the patch gives `next`. */
function roundTrip(old: Uint8Array, next: Uint8Array, blockSize = BS): Uint8Array {
  const d = delta(signature(old, blockSize), next);
  const out = patch(old, d);
  assert.ok(sameBytes(out, next), `patch rebuilds ${next.length} bytes from ${old.length}`);
  return d;
}

/** The ops of a delta as `[kind, a, b]`, decoded by hand (small deltas only). */
function opsOf(d: Uint8Array): [string, number, number][] {
  const ops: [string, number, number][] = [];
  let at = DELTA_HEADER_SIZE;
  const varint = () => {
    let value = 0;
    for (let shift = 0;; shift += 7) {
      const byte = d[at++]!;
      value += (byte & 0x7f) * 2 ** shift;
      if (byte < 0x80) return value;
    }
  };
  while (at < d.length) {
    const kind = d[at++];
    if (kind === OP_COPY) ops.push(["copy", varint(), varint()]);
    else if (kind === OP_LITERAL) {
      const length = varint();
      ops.push(["literal", length, 0]);
      at += length;
    } else throw new Error(`op ${kind}`);
  }
  return ops;
}

const SIZES = [0, 1, BS - 1, BS, BS + 1, 3 * BS + 17, 5 * MiB];

Deno.test("delta() of identical data is empty, for every size", () => {
  for (const size of SIZES) {
    const data = randomBytes(size);
    const d = roundTrip(data, data);
    assert.ok(isEmptyDelta(d, size), `size ${size}`);
    const blocks = Math.ceil(size / BS);
    assert.deepEqual(opsOf(d), blocks === 0 ? [] : [["copy", 0, blocks]], `size ${size}`);
  }
});

Deno.test("delta() round trips insertions, deletions, tails, for every size", () => {
  for (const size of SIZES) {
    const old = randomBytes(size);
    const mid = size >> 1;
    const cases: Record<string, Uint8Array> = {
      insertion: concat(old.subarray(0, mid), randomBytes(3), old.subarray(mid)),
      deletion: concat(old.subarray(0, mid), old.subarray(Math.min(size, mid + 5))),
      appended: concat(old, randomBytes(BS + 10)),
      truncated: old.subarray(0, Math.max(0, size - 7)),
      prepended: concat(randomBytes(100), old),
      different: randomBytes(size),
      empty: new Uint8Array(0),
    };
    for (const [name, next] of Object.entries(cases)) {
      const d = roundTrip(old, next);
      const same = sameBytes(old, next);
      assert.equal(isEmptyDelta(d, size), same, `${name} of ${size}: empty iff unchanged`);
    }
  }
});

Deno.test("delta() of similar data sends little more than the change", () => {
  const old = randomBytes(5 * MiB);
  const inserted = concat(old.subarray(0, 2 * MiB + 5), randomBytes(3), old.subarray(2 * MiB + 5));
  // One block around the insertion goes out as literal, the rest are copies.
  assert.ok(roundTrip(old, inserted).length < BS + 100);
  const flipped = old.slice();
  flipped[MiB]! ^= 0xff;
  flipped[4 * MiB]! ^= 0xff;
  assert.ok(roundTrip(old, flipped).length < 2 * BS + 100);
  const appended = concat(old, randomBytes(1000));
  assert.ok(roundTrip(old, appended).length < 1000 + 100);
  assert.deepEqual(opsOf(roundTrip(old, appended)), [["copy", 0, 320], ["literal", 1000, 0]]);
});

Deno.test("delta() of unrelated data is one literal", () => {
  const old = randomBytes(MiB);
  const next = randomBytes(MiB + 3);
  const d = roundTrip(old, next);
  assert.deepEqual(opsOf(d), [["literal", MiB + 3, 0]]);
  assert.ok(d.length <= DELTA_HEADER_SIZE + 1 + 5 + next.length);
});

Deno.test("delta() copies runs of identical blocks in order, so their delta is empty", () => {
  const zeros = new Uint8Array(10 * BS);
  const d = roundTrip(zeros, zeros);
  assert.ok(isEmptyDelta(d, zeros.length));
  assert.deepEqual(opsOf(d), [["copy", 0, 10]]);
  // Moved blocks are found wherever they are.
  const old = randomBytes(4 * BS);
  const moved = concat(old.subarray(2 * BS), old.subarray(0, 2 * BS));
  assert.deepEqual(opsOf(roundTrip(old, moved)), [["copy", 2, 2], ["copy", 0, 2]]);
  const twice = concat(old, old);
  assert.deepEqual(opsOf(roundTrip(old, twice)), [["copy", 0, 4], ["copy", 0, 4]]);
});

Deno.test("delta() finds the short last block only at the end of the new data", () => {
  const old = randomBytes(2 * BS + 100);
  assert.deepEqual(opsOf(roundTrip(old, concat(randomBytes(7), old))), [
    ["literal", 7, 0],
    ["copy", 0, 3],
  ]);
  const tail = old.subarray(2 * BS);
  assert.deepEqual(opsOf(roundTrip(old, concat(tail, old.subarray(0, 2 * BS)))), [
    ["literal", 100, 0],
    ["copy", 0, 2],
  ]);
});

Deno.test("delta() with a hostile signature stays bounded and correct", () => {
  // Every weak sum is the one of a window of zeros, every strong hash is wrong: each window
  // of the new data passes the weak test. The miss budget turns the rest into a literal.
  const blocks = 64;
  const sig = signature(new Uint8Array(blocks * BS));
  const zeroWeak = new DataView(sig.buffer).getUint32(SIGNATURE_HEADER_SIZE, true);
  for (let k = 0; k < blocks; k++) {
    new DataView(sig.buffer).setUint32(SIGNATURE_HEADER_SIZE + 4 * k, zeroWeak, true);
  }
  sig.set(randomBytes(16 * blocks), SIGNATURE_HEADER_SIZE + 4 * blocks);
  const next = new Uint8Array(4 * MiB);
  const started = performance.now();
  const d = delta(sig, next);
  assert.deepEqual(opsOf(d), [["literal", next.length, 0]]);
  // Bounded by the budget: (64 + 4 × 256) misses, each one 16 KiB of hashing.
  assert.ok(STRONG_MISSES_MIN < 100);
  assert.ok(performance.now() - started < 30_000);
});

Deno.test("delta() round trips random edits (property, seeded)", () => {
  const prng = new Prng(0x5eed);
  for (let round = 0; round < 300; round++) {
    const blockSize = prng.int(16, 200);
    const old = prng.bytes(prng.int(0, 3000));
    let next = old;
    const edits = prng.int(0, 4);
    for (let e = 0; e < edits; e++) {
      const at = prng.int(0, next.length);
      const kind = prng.int(0, 3);
      if (kind === 0) {
        next = concat(next.subarray(0, at), prng.bytes(prng.int(1, 300)), next.subarray(at));
      } else if (kind === 1) {
        next = concat(next.subarray(0, at), next.subarray(at + prng.int(1, 300)));
      } else if (kind === 2) next = concat(next, next.subarray(0, at)); // repeats a prefix
      else if (at < next.length) {
        next = concat(next.subarray(0, at), new Uint8Array([next[at]! ^ 1]), next.subarray(at + 1));
      }
    }
    const d = roundTrip(old, next, blockSize);
    assert.equal(isEmptyDelta(d, old.length), sameBytes(old, next), `round ${round}`);
    assert.ok(d.length <= DELTA_HEADER_SIZE + next.length + 11 * (next.length / blockSize + 2));
  }
});

Deno.test("delta() rejects a malformed signature", () => {
  assert.throws(() => delta(new Uint8Array([0x53, 1]), new Uint8Array(1)), { name: "DeltaError" });
  assert.throws(() => delta(new Uint8Array(0), new Uint8Array(1)), { name: "DeltaError" });
});
