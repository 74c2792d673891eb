import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { constants, zstdCompressSync } from "node:zlib";
import { concat, Prng, randomBytes, sameBytes } from "./_testing.ts";
import {
  COMPRESS_CHUNK_MAX,
  COMPRESS_MIN_BYTES,
  COMPRESS_PROBE_BYTES,
  compressChunk,
  COMPRESSED_HEADER_SIZE,
  COMPRESSED_MAGIC,
  COMPRESSED_VERSION,
  decompressChunk,
} from "./compress.ts";
import { DeltaError } from "./errors.ts";

const MiB = 1 << 20;

/** Text-like bytes: lines of words from a small vocabulary. */
function textLike(size: number, seed = 1): Uint8Array {
  const prng = new Prng(seed);
  const words = ["const", "function", "return", "value", "await", "the", "import", "=", "{", "}"];
  let text = "";
  while (text.length < size) {
    text += `${words[prng.int(0, words.length - 1)]}${prng.int(0, 7) === 0 ? "\n" : " "}`;
  }
  return new TextEncoder().encode(text.slice(0, size));
}

/** A chunk header with a hand-made frame. */
function chunkOf(size: number, frame: Uint8Array): Uint8Array {
  const out = new Uint8Array(COMPRESSED_HEADER_SIZE + frame.length);
  out[0] = COMPRESSED_MAGIC;
  out[1] = COMPRESSED_VERSION;
  new DataView(out.buffer).setUint32(2, size, true);
  out.set(frame, COMPRESSED_HEADER_SIZE);
  return out;
}

function zstd(bytes: Uint8Array, windowLog = 21): Uint8Array {
  const params = {
    [constants.ZSTD_c_compressionLevel]: 3,
    [constants.ZSTD_c_windowLog]: windowLog,
  };
  return new Uint8Array(zstdCompressSync(Buffer.from(bytes), { params }));
}

Deno.test("compressChunk() compresses text and round trips", () => {
  const tiny = new Uint8Array(COMPRESS_MIN_BYTES).fill(0x61);
  assert.ok(compressChunk(tiny).compressed);
  assert.ok(sameBytes(decompressChunk(compressChunk(tiny).data, { maxSize: 64 }), tiny));
  for (const size of [1000, COMPRESS_PROBE_BYTES, COMPRESS_PROBE_BYTES + 1, MiB]) {
    const text = textLike(size);
    const chunk = compressChunk(text);
    assert.ok(chunk.compressed, `size ${size}`);
    assert.ok(chunk.data.length < text.length * 0.6, `size ${size}: ${chunk.data.length}`);
    assert.ok(sameBytes(decompressChunk(chunk.data, { maxSize: size }), text));
  }
});

Deno.test("compressChunk() sends random, tiny and empty chunks raw, as the same array", () => {
  for (
    const bytes of [
      randomBytes(MiB),
      randomBytes(1000),
      textLike(COMPRESS_MIN_BYTES - 1),
      new Uint8Array(0),
    ]
  ) {
    const chunk = compressChunk(bytes);
    assert.equal(chunk.compressed, false);
    assert.equal(chunk.data, bytes);
  }
});

Deno.test("compressChunk() trusts the probe: random head, text tail goes raw", () => {
  const mixed = concat(randomBytes(COMPRESS_PROBE_BYTES), textLike(MiB));
  assert.equal(compressChunk(mixed).compressed, false);
  // A text head with a random body is compressed only if the whole shrinks.
  const headed = concat(textLike(COMPRESS_PROBE_BYTES), randomBytes(MiB));
  const chunk = compressChunk(headed);
  assert.ok(chunk.compressed && chunk.data.length < headed.length);
  assert.ok(sameBytes(decompressChunk(chunk.data, { maxSize: headed.length }), headed));
});

Deno.test("compressChunk() refuses chunks over the limit", () => {
  assert.throws(() => compressChunk(new Uint8Array(COMPRESS_CHUNK_MAX + 1)), RangeError);
});

Deno.test("decompressChunk() stops a zstd bomb at maxSize", () => {
  const bomb = zstd(new Uint8Array(64 * MiB)); // 2 KiB that inflate to 64 MiB
  assert.ok(bomb.length < 64 * 1024);
  // Its header may lie about the size: zstd stops at the announced length.
  assert.throws(
    () => decompressChunk(chunkOf(MiB, bomb), { maxSize: MiB }),
    (e) => e instanceof DeltaError && /Invalid compressed chunk/.test(e.message),
  );
  // Or tell the truth: refused before zstd runs.
  assert.throws(() => decompressChunk(chunkOf(64 * MiB, bomb), { maxSize: MiB }), /over 1048576/);
});

Deno.test("decompressChunk() refuses a frame that asks for a large window", () => {
  const text = textLike(4 * MiB);
  const frame = zstd(text, 23);
  assert.throws(
    () => decompressChunk(chunkOf(text.length, frame), { maxSize: 4 * MiB }),
    DeltaError,
  );
});

Deno.test("decompressChunk() catches truncation, never returns more than announced", () => {
  const text = textLike(100_000);
  const { data } = compressChunk(text);
  // zstd itself accepts a truncated frame and returns fewer bytes: the length catches it.
  // (Deno ends the output with an empty 9-byte frame: cutting into that loses no data.)
  for (const cut of [10, 100, data.length >> 1, data.length - COMPRESSED_HEADER_SIZE]) {
    assert.throws(
      () => decompressChunk(data.subarray(0, data.length - cut), { maxSize: MiB }),
      DeltaError,
    );
  }
  // Deno's zstd may stop after the first frame; either way, never more than the length.
  for (const size of [100_000, 4 * MiB]) {
    const big = textLike(size, 3);
    const chunk = compressChunk(big).data;
    const twice = concat(chunk, chunk.subarray(COMPRESSED_HEADER_SIZE));
    try {
      assert.ok(sameBytes(decompressChunk(twice, { maxSize: 8 * MiB }), big));
    } catch (error) {
      assert.ok(error instanceof DeltaError, String(error));
    }
  }
  assert.throws(() => decompressChunk(data, { maxSize: COMPRESS_CHUNK_MAX + 1 }), RangeError);
});

Deno.test("decompressChunk() fuzz: bad chunks only throw DeltaError", () => {
  const prng = new Prng(0xc0de);
  const text = textLike(20_000, 2);
  const good = compressChunk(text).data;
  const inputs: Uint8Array[] = [];
  for (let i = 0; i < 300; i++) inputs.push(prng.bytes(prng.int(0, 100)));
  for (let n = 0; n < good.length; n += 7) inputs.push(good.subarray(0, n));
  for (let i = 0; i < 1000; i++) {
    const bad = good.slice();
    for (let k = prng.int(1, 3); k > 0; k--) bad[prng.int(0, bad.length - 1)] = prng.u32() & 0xff;
    inputs.push(bad);
  }
  for (const input of inputs) {
    try {
      assert.ok(decompressChunk(input, { maxSize: 30_000 }).length <= 30_000);
    } catch (error) {
      assert.ok(error instanceof DeltaError, String(error));
    }
  }
});
