import assert from "node:assert/strict";
import { newPublicKeyPem } from "./_testing.ts";
import { formatPublicKeyPem, importPublicKey, parsePublicKeyPem } from "./pubkey.ts";

// From the Rust peer's manual_tests/a.toml (upstream.md §2.9).
const RUST_PEM = `
-----BEGIN PUBLIC KEY-----
MCowBQYDK2VwAyEAZvriEx8hZEAildpfeifrv0Z5xED/kkK7wzT5Gel+w/w=
-----END PUBLIC KEY-----
`;

Deno.test("parsePublicKeyPem() reads a WebCrypto ED25519 key and formats it back", async () => {
  const { pem, raw } = await newPublicKeyPem();
  const key = parsePublicKeyPem(pem);
  assert.deepEqual(key.raw, raw);
  assert.equal(key.spki.length, 44);
  assert.equal(formatPublicKeyPem(key.spki), pem);
  const imported = await importPublicKey(key);
  assert.deepEqual(new Uint8Array(await crypto.subtle.exportKey("raw", imported)), raw);
});

Deno.test("parsePublicKeyPem() reads the Rust peer's test key, with blank lines around", () => {
  const key = parsePublicKeyPem(RUST_PEM);
  assert.equal(key.raw.toBase64(), "ZvriEx8hZEAildpfeifrv0Z5xED/kkK7wzT5Gel+w/w=");
  const wrapped = RUST_PEM.replace("MCowBQYDK2VwAyEA", "MCowBQYD\r\nK2VwAyEA");
  assert.deepEqual(parsePublicKeyPem(wrapped).raw, key.raw);
});

Deno.test("parsePublicKeyPem() rejects what is not an ED25519 SPKI PEM", async () => {
  const ec = await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, true, [
    "sign",
    "verify",
  ]) as CryptoKeyPair;
  const ecSpki = new Uint8Array(await crypto.subtle.exportKey("spki", ec.publicKey));
  const cases: [string, RegExp][] = [
    ["", /not a PEM PUBLIC KEY block/],
    ["MCowBQYDK2VwAyEAZvriEx8hZEAildpfeifrv0Z5xED/kkK7wzT5Gel+w/w=", /not a PEM/],
    [RUST_PEM.replaceAll("PUBLIC KEY", "PRIVATE KEY"), /not a PEM/],
    [RUST_PEM.replace("MCow", "MC!w"), /not a PEM/],
    [RUST_PEM.replace("MCow", "MCo"), /bad base64/],
    [formatPublicKeyPem(ecSpki), /not an ED25519 SubjectPublicKeyInfo/],
    [RUST_PEM.replace("K2VwAyEA", "K2VxAyEA"), /not an ED25519 SubjectPublicKeyInfo/],
    [formatPublicKeyPem(Uint8Array.of(1, 2, 3)), /not an ED25519 SubjectPublicKeyInfo/],
  ];
  for (const [pem, message] of cases) {
    assert.throws(() => parsePublicKeyPem(pem), { name: "RangeError", message }, pem);
  }
});

Deno.test("parsePublicKeyPem() accepts only keys that WebCrypto's importKey accepts", async () => {
  const { pem } = await newPublicKeyPem();
  const good = parsePublicKeyPem(pem).spki;
  // Change each byte of the header: whatever we accept, WebCrypto must accept too. (We are
  // stricter on one byte: WebCrypto ignores the count of unused bits of the BIT STRING.)
  for (let i = 0; i < 12; i++) {
    const spki = good.slice();
    spki[i]! ^= 0x01;
    const ours = (() => {
      try {
        parsePublicKeyPem(formatPublicKeyPem(spki));
        return true;
      } catch {
        return false;
      }
    })();
    const theirs = await crypto.subtle.importKey("spki", spki, { name: "Ed25519" }, true, [
      "verify",
    ]).then(() => true, () => false);
    if (ours) assert.ok(theirs, `byte ${i}`);
  }
});
