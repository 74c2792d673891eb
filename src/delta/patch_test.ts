import assert from "node:assert/strict";
import { concat, Prng, randomBytes, sameBytes } from "./_testing.ts";
import { delta, DELTA_HEADER_SIZE, DELTA_MAGIC, OP_COPY, OP_LITERAL } from "./delta.ts";
import { DeltaError } from "./errors.ts";
import { isEmptyDelta, patch } from "./patch.ts";
import { FORMAT_VERSION, signature } from "./signature.ts";

/** A delta written by hand: header, then raw op bytes. */
function handDelta(blockSize: number, oldLength: number, newLength: number, ops: number[]) {
  const out = new Uint8Array(DELTA_HEADER_SIZE + ops.length);
  const view = new DataView(out.buffer);
  out[0] = DELTA_MAGIC;
  out[1] = FORMAT_VERSION;
  view.setUint32(4, blockSize, true);
  view.setUint32(8, oldLength, true);
  view.setUint32(16, newLength, true);
  out.set(ops, DELTA_HEADER_SIZE);
  return out;
}

Deno.test("isEmptyDelta() holds for in-order copies of every block only", () => {
  const old = randomBytes(100); // blocks of 32: 0..2 full, 3 short
  const copyAll = handDelta(32, 100, 100, [OP_COPY, 0, 4]);
  assert.ok(isEmptyDelta(copyAll, 100));
  assert.ok(sameBytes(patch(old, copyAll), old));
  // Split runs still count: the data is reproduced exactly.
  assert.ok(isEmptyDelta(handDelta(32, 100, 100, [OP_COPY, 0, 2, OP_COPY, 2, 2]), 100));
  // Out of order, a literal, or a block missing: not empty.
  const swapped = handDelta(32, 100, 100, [OP_COPY, 2, 2, OP_COPY, 0, 2]);
  assert.ok(!isEmptyDelta(swapped, 100));
  const literal = handDelta(32, 100, 100, [OP_COPY, 0, 3, OP_LITERAL, 4, ...old.subarray(96)]);
  assert.ok(!isEmptyDelta(literal, 100));
  assert.ok(sameBytes(patch(old, literal), old));
  assert.ok(!isEmptyDelta(handDelta(32, 100, 96, [OP_COPY, 0, 3]), 100));
  assert.ok(isEmptyDelta(handDelta(32, 0, 0, []), 0));
  assert.throws(() => isEmptyDelta(copyAll, 99), DeltaError);
});

Deno.test("patch() refuses a delta for another basis, or over maxSize", () => {
  const old = randomBytes(1000);
  const d = delta(signature(old, 64), concat(old, old));
  assert.throws(() => patch(old.subarray(1), d), /it is for 1000 bytes of old data, got 999/);
  assert.throws(() => patch(old, d, { maxSize: 1999 }), /it produces 2000 bytes, over 1999/);
  assert.equal(patch(old, d, { maxSize: 2000 }).length, 2000);
  assert.throws(() => patch(old, d, { maxSize: -1 }), RangeError);
});

Deno.test("patch() rejects each malformed op with DeltaError", () => {
  const old = randomBytes(100);
  const cases: [string, Uint8Array][] = [
    ["unknown op 3", handDelta(32, 100, 1, [3])],
    ["copy of blocks 4+1", handDelta(32, 100, 4, [OP_COPY, 4, 1])],
    ["copy of blocks 0+0", handDelta(32, 100, 0, [OP_COPY, 0, 0])],
    ["copy of blocks 1+4", handDelta(32, 100, 100, [OP_COPY, 1, 4])],
    ["empty literal", handDelta(32, 100, 0, [OP_LITERAL, 0])],
    ["truncated literal", handDelta(32, 100, 5, [OP_LITERAL, 5, 1, 2])],
    ["ops exceed the new length", handDelta(32, 100, 31, [OP_COPY, 0, 1])],
    ["ops exceed the new length", handDelta(32, 100, 1, [OP_LITERAL, 2, 1, 2])],
    ["ops produce 32 bytes, not 33", handDelta(32, 100, 33, [OP_COPY, 0, 1])],
    ["longer than 5 bytes", handDelta(32, 100, 1, [OP_LITERAL, 0x80, 0x80, 0x80, 0x80, 0x80, 1])],
    ["exceeds 4294967295", handDelta(32, 100, 1, [OP_LITERAL, 0xff, 0xff, 0xff, 0xff, 0x7f])],
    ["truncated copy count", handDelta(32, 100, 1, [OP_COPY, 0])],
    [
      "reserved",
      (() => {
        const d = handDelta(32, 100, 0, []);
        d[3] = 1;
        return d;
      })(),
    ],
  ];
  for (const [message, d] of cases) {
    assert.throws(
      () => patch(old, d),
      (e) => e instanceof DeltaError && e.message.includes(message),
      message,
    );
  }
});

Deno.test("patch() fuzz: random, truncated and mutated deltas only throw DeltaError", () => {
  const prng = new Prng(0xde17a);
  const old = prng.bytes(3000);
  const next = concat(
    old.subarray(0, 1000),
    prng.bytes(50),
    old.subarray(1200),
    old.subarray(0, 300),
  );
  const good = delta(signature(old, 128), next);
  assert.ok(sameBytes(patch(old, good), next));
  const inputs: Uint8Array[] = [];
  for (let i = 0; i < 500; i++) inputs.push(prng.bytes(prng.int(0, 200)));
  for (let i = 0; i < 500; i++) {
    const random = prng.bytes(prng.int(DELTA_HEADER_SIZE, 200));
    random.set(good.subarray(0, DELTA_HEADER_SIZE)); // a valid header, random ops
    inputs.push(random);
  }
  for (let n = 0; n < good.length; n++) inputs.push(good.subarray(0, n));
  for (let i = 0; i < 5000; i++) {
    const bad = good.slice();
    for (let k = prng.int(1, 3); k > 0; k--) bad[prng.int(0, bad.length - 1)] = prng.u32() & 0xff;
    inputs.push(bad);
  }
  let accepted = 0;
  for (const input of inputs) {
    try {
      const out = patch(old, input, { maxSize: 10_000 });
      assert.ok(out.length <= 10_000);
      isEmptyDelta(input, old.length);
      accepted++;
    } catch (error) {
      assert.ok(error instanceof DeltaError, String(error));
    }
  }
  assert.ok(accepted > 0, "mutated literal bytes still make valid deltas");
});
