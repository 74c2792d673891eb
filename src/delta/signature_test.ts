import assert from "node:assert/strict";
import { blake3 } from "@napi-rs/blake-hash";
import { Buffer } from "node:buffer";
import { Prng, randomBytes } from "./_testing.ts";
import { DeltaError } from "./errors.ts";
import {
  BLOCK_SIZE_MAX,
  BLOCK_SIZE_MIN,
  FORMAT_VERSION,
  parseSignature,
  rollWeak,
  signature,
  SIGNATURE_BLOCK_SIZE,
  SIGNATURE_HEADER_SIZE,
  SIGNATURE_MAGIC,
  weakSum,
} from "./signature.ts";

Deno.test("signature() writes the documented layout", () => {
  const data = randomBytes(2 * 1024 + 5);
  const sig = signature(data, 1024);
  assert.equal(sig.length, SIGNATURE_HEADER_SIZE + 3 * SIGNATURE_BLOCK_SIZE);
  const view = new DataView(sig.buffer);
  assert.deepEqual([sig[0], sig[1], sig[2], sig[3]], [SIGNATURE_MAGIC, FORMAT_VERSION, 0, 0]);
  assert.equal(view.getUint32(4, true), 1024);
  assert.equal(view.getUint32(8, true), data.length);
  assert.equal(view.getUint32(12, true), 0);
  assert.equal(view.getUint32(SIGNATURE_HEADER_SIZE + 8, true), weakSum(data, 2048, data.length));
  const strong = blake3(Buffer.from(data.subarray(1024, 2048))).subarray(0, 16);
  const at = SIGNATURE_HEADER_SIZE + 3 * 4 + 16;
  assert.deepEqual(sig.subarray(at, at + 16), new Uint8Array(strong));
  const parsed = parseSignature(sig);
  assert.equal(parsed.blockCount, 3);
  assert.equal(parsed.dataLength, data.length);
  assert.equal(parsed.weaks[2], weakSum(data, 2048, data.length));
});

Deno.test("signature() of no data has no block", () => {
  const sig = signature(new Uint8Array(0));
  assert.equal(sig.length, SIGNATURE_HEADER_SIZE);
  assert.equal(parseSignature(sig).blockCount, 0);
});

Deno.test("signature() rejects a block size out of range", () => {
  for (const size of [0, BLOCK_SIZE_MIN - 1, BLOCK_SIZE_MAX + 1, 1.5, NaN]) {
    assert.throws(() => signature(new Uint8Array(1), size), RangeError);
  }
});

Deno.test("rollWeak() equals weakSum() of the moved window", () => {
  const prng = new Prng(7);
  const data = prng.bytes(5000);
  for (const length of [1, 16, 1000, 4096]) {
    let weak = weakSum(data, 0, length);
    for (let p = 0; p + length < data.length; p += 1) {
      weak = rollWeak(data, p, length, weak);
      if (p % 97 === 0) assert.equal(weak, weakSum(data, p + 1, p + 1 + length));
    }
  }
});

Deno.test("parseSignature() rejects each malformed header with DeltaError", () => {
  const good = signature(randomBytes(100), 32);
  const cases: [string, (sig: Uint8Array, view: DataView) => Uint8Array][] = [
    ["magic", (s) => (s[0] = 0x44, s)],
    ["unsupported version", (s) => (s[1] = 2, s)],
    ["reserved", (s) => (s[2] = 1, s)],
    ["block size", (s, v) => (v.setUint32(4, 8, true), s)],
    ["block size", (s, v) => (v.setUint32(4, BLOCK_SIZE_MAX + 1, true), s)],
    ["data length exceeds", (s, v) => (v.setUint32(12, 1, true), s)],
    ["data length exceeds", (s, v) => (v.setUint32(12, 0xffffffff, true), s)],
    ["5 blocks need", (s, v) => (v.setUint32(8, 129, true), s)],
    ["4 blocks need", (s) => s.subarray(0, s.length - 1)],
    ["truncated", (s) => s.subarray(0, 10)],
  ];
  for (const [message, mutate] of cases) {
    const sig = good.slice();
    const bad = mutate(sig, new DataView(sig.buffer));
    assert.throws(
      () => parseSignature(bad),
      (e) => e instanceof DeltaError && e.message.includes(message),
    );
  }
});

Deno.test("parseSignature() fuzz: bad signatures only throw DeltaError", () => {
  const prng = new Prng(0xf022);
  const good = signature(prng.bytes(777), 64);
  const inputs: Uint8Array[] = [];
  for (let i = 0; i < 500; i++) inputs.push(prng.bytes(prng.int(0, 300)));
  for (let n = 0; n < good.length; n++) inputs.push(good.subarray(0, n));
  for (let i = 0; i < 2000; i++) {
    const bad = good.slice();
    for (let k = prng.int(1, 3); k > 0; k--) bad[prng.int(0, bad.length - 1)] = prng.u32() & 0xff;
    inputs.push(bad);
  }
  for (const input of inputs) {
    try {
      const parsed = parseSignature(input);
      assert.equal(input.length, SIGNATURE_HEADER_SIZE + parsed.blockCount * SIGNATURE_BLOCK_SIZE);
    } catch (error) {
      assert.ok(error instanceof DeltaError, String(error));
    }
  }
});
