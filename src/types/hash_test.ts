import assert from "node:assert/strict";
import { blake3 } from "@napi-rs/blake-hash";
import { Buffer } from "node:buffer";
import { Hash, HASH_BASE64_LENGTH, HASH_SIZE, Hasher, HashError } from "./hash.ts";

const ABC_HEX = "6437b3ac38465133ffb63b75273a8db548c558465d79db03fd359c6cd5bd9d85";
const EMPTY_HEX = "af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262";

const encoder = new TextEncoder();

function hex(bytes: Uint8Array): string {
  return bytes.toHex();
}

/** Deterministic test data: byte i is (i * 31 + 7) mod 251. */
function pattern(length: number): Uint8Array {
  const out = new Uint8Array(length);
  for (let i = 0; i < length; i++) out[i] = (i * 31 + 7) % 251;
  return out;
}

Deno.test("Hash.of() matches the BLAKE3 test vector for abc", () => {
  assert.equal(hex(Hash.of(encoder.encode("abc")).bytes()), ABC_HEX);
});

Deno.test("Hash.of() matches the BLAKE3 test vector for no bytes", () => {
  assert.equal(hex(Hash.of(new Uint8Array()).bytes()), EMPTY_HEX);
});

Deno.test("Hash.EMPTY is the hash of no bytes", () => {
  assert.equal(hex(Hash.EMPTY.bytes()), EMPTY_HEX);
  assert.ok(Hash.EMPTY.equals(Hash.of(new Uint8Array())));
  assert.ok(Hash.EMPTY.equals(new Hasher().digest()));
});

Deno.test("Hash.of() hashes only the bytes of a subarray view", () => {
  const backing = new Uint8Array(100);
  backing.set(encoder.encode("abc"), 50);
  assert.equal(hex(Hash.of(backing.subarray(50, 53)).bytes()), ABC_HEX);
});

Deno.test("Hash.toString() is unpadded standard base64", () => {
  const text = Hash.of(encoder.encode("abc")).toString();
  assert.equal(text.length, HASH_BASE64_LENGTH);
  assert.equal(text, "ZDezrDhGUTP/tjt1JzqNtUjFWEZdedsD/TWcbNW9nYU");
  assert.equal(text, Buffer.from(ABC_HEX, "hex").toString("base64").replace(/=$/, ""));
});

Deno.test("Hash.parse() reads back toString()", () => {
  for (let n = 0; n < 64; n++) {
    const hash = Hash.of(pattern(n));
    const parsed = Hash.parse(hash.toString());
    assert.ok(parsed.equals(hash));
    assert.deepEqual(parsed.bytes(), hash.bytes());
    assert.equal(parsed.toString(), hash.toString());
  }
});

Deno.test("Hash.parse() accepts + and / from the standard alphabet", () => {
  const bytes = new Uint8Array(HASH_SIZE).fill(0xfb);
  const text = Hash.fromBytes(bytes).toString();
  assert.match(text, /[+/]/);
  assert.deepEqual(Hash.parse(text).bytes(), bytes);
});

Deno.test("Hash.parse() rejects padded input", () => {
  const text = Hash.of(encoder.encode("abc")).toString();
  assert.throws(() => Hash.parse(`${text}=`), {
    name: "HashError",
    message: `Invalid hash "${text}=": expected 43 base64 characters without padding`,
  });
  assert.throws(() => Hash.parse(`${text.slice(0, 42)}=`), HashError);
});

Deno.test("Hash.parse() rejects a wrong length", () => {
  const text = Hash.of(encoder.encode("abc")).toString();
  assert.throws(() => Hash.parse(""), HashError);
  assert.throws(() => Hash.parse("xyz"), {
    name: "HashError",
    message: 'Invalid hash "xyz": expected 43 base64 characters without padding',
  });
  assert.throws(() => Hash.parse(text.slice(0, 42)), HashError);
  assert.throws(() => Hash.parse(`${text}A`), HashError);
  assert.throws(() => Hash.parse(`${text}AAAA`), HashError);
});

Deno.test("Hash.parse() rejects invalid characters", () => {
  const text = Hash.of(encoder.encode("abc")).toString();
  for (const bad of ["-", "_", " ", "\n", "é", "*"]) {
    assert.throws(() => Hash.parse(`${bad}${text.slice(1)}`), HashError, bad);
  }
});

Deno.test("Hash.parse() rejects a last character with unused bits set", () => {
  // "U" = 0b010100 leaves the 2 spare bits clear; "V" = 0b010101 sets one.
  const text = Hash.of(encoder.encode("abc")).toString();
  assert.equal(text.at(-1), "U");
  assert.throws(() => Hash.parse(`${text.slice(0, 42)}V`), {
    name: "HashError",
    message: `Invalid hash "${text.slice(0, 42)}V": last character has unused bits set`,
  });
});

Deno.test("Hash.fromBytes() copies its input", () => {
  const bytes = pattern(HASH_SIZE);
  const hash = Hash.fromBytes(bytes);
  bytes[0] = bytes[0]! ^ 0xff;
  assert.notEqual(hash.bytes()[0], bytes[0]);
  assert.deepEqual(hash.bytes(), pattern(HASH_SIZE));
});

Deno.test("Hash.fromBytes() copies a Buffer input", () => {
  const buffer = Buffer.from(pattern(HASH_SIZE));
  const hash = Hash.fromBytes(buffer);
  buffer.fill(0);
  assert.deepEqual(hash.bytes(), pattern(HASH_SIZE));
});

Deno.test("Hash.fromBytes() rejects a wrong length", () => {
  for (const n of [0, 1, 31, 33, 64]) {
    assert.throws(() => Hash.fromBytes(new Uint8Array(n)), {
      name: "HashError",
      message: `Invalid hash: expected 32 bytes, got ${n}`,
    });
  }
});

Deno.test("Hash.bytes() returns a copy", () => {
  const hash = Hash.of(encoder.encode("abc"));
  const bytes = hash.bytes();
  assert.equal(bytes.length, HASH_SIZE);
  bytes.fill(0);
  assert.equal(hex(hash.bytes()), ABC_HEX);
});

Deno.test("Hash.equals() compares every byte", () => {
  const a = Hash.of(encoder.encode("abc"));
  assert.ok(a.equals(a));
  assert.ok(a.equals(Hash.of(encoder.encode("abc"))));
  assert.ok(!a.equals(Hash.EMPTY));
  for (const i of [0, 15, 31]) {
    const bytes = a.bytes();
    bytes[i] = bytes[i]! ^ 1;
    assert.ok(!a.equals(Hash.fromBytes(bytes)), `byte ${i}`);
  }
});

Deno.test("Hasher gives the one-shot hash across chunk boundaries", () => {
  // 1024 is the BLAKE3 chunk size, 64 its block size.
  const data = pattern(5000);
  const expected = Hash.of(data);
  // Hash.of() itself uses a Hasher: check it against the binding's one-shot function too.
  assert.ok(expected.equals(Hash.fromBytes(blake3(Buffer.from(data)))));
  for (const size of [1, 3, 63, 64, 65, 1000, 1023, 1024, 1025, 2048, 4999, 5000]) {
    const hasher = new Hasher();
    for (let i = 0; i < data.length; i += size) hasher.update(data.subarray(i, i + size));
    assert.ok(hasher.digest().equals(expected), `chunk size ${size}`);
  }
});

Deno.test("Hasher ignores empty chunks", () => {
  const hasher = new Hasher().update(new Uint8Array()).update(encoder.encode("ab"));
  hasher.update(new Uint8Array()).update(encoder.encode("c"));
  assert.equal(hex(hasher.digest().bytes()), ABC_HEX);
});

Deno.test("Hasher.digest() does not reset the hasher", () => {
  const hasher = new Hasher().update(encoder.encode("ab"));
  assert.ok(hasher.digest().equals(Hash.of(encoder.encode("ab"))));
  assert.ok(hasher.digest().equals(Hash.of(encoder.encode("ab"))));
  hasher.update(encoder.encode("c"));
  assert.equal(hex(hasher.digest().bytes()), ABC_HEX);
});

Deno.test("Hasher reads chunks that share a buffer", () => {
  const data = pattern(300);
  const hasher = new Hasher();
  hasher.update(data.subarray(0, 100)).update(data.subarray(100, 300));
  assert.ok(hasher.digest().equals(Hash.of(data)));
});
