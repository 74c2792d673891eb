// C strings for FFI arguments.
import assert from "node:assert/strict";
import { cString, cStringScratch } from "./library.ts";

const strlen = Deno.dlopen("libc.so.6", { strlen: { parameters: ["buffer"], result: "usize" } });

Deno.test("cString() and cStringScratch() give NUL-terminated UTF-8 that C reads whole", () => {
  for (const encode of [cString, cStringScratch]) {
    for (const text of ["", "f0001.txt", "été — 日本語 🎉", "x".repeat(5000)]) {
      const bytes = encode(text);
      const utf8 = new TextEncoder().encode(text);
      assert.deepEqual(bytes.subarray(0, -1), utf8, text.slice(0, 20));
      assert.equal(bytes.at(-1), 0);
      assert.equal(Number(strlen.symbols.strlen(bytes)), utf8.length);
    }
    assert.throws(() => encode("a\0b"), /contains NUL/);
  }
});

Deno.test("cStringScratch() reuses its memory: a shorter name after a longer one ends at its NUL", () => {
  const long = cStringScratch("a-rather-long-name");
  const short = cStringScratch("ab");
  assert.equal(short.buffer, long.buffer, "one buffer");
  assert.equal(Number(strlen.symbols.strlen(short)), 2);
  assert.deepEqual([...short], [0x61, 0x62, 0]);
});

globalThis.addEventListener("unload", () => strlen.close());
