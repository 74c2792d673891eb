import assert from "node:assert/strict";
import { decodePublicKeyPem, encodePublicKeyPem } from "./public_key.ts";
import { generateKeyPair } from "./keys.ts";

// From the Rust peer's manual_tests/a.toml (upstream.md §2.9).
const RUST_PEM = `
-----BEGIN PUBLIC KEY-----
MCowBQYDK2VwAyEAZvriEx8hZEAildpfeifrv0Z5xED/kkK7wzT5Gel+w/w=
-----END PUBLIC KEY-----
`;

Deno.test("decodePublicKeyPem() reads a WebCrypto ED25519 key and formats it back", async () => {
  const { publicKey } = await generateKeyPair();
  const { pem, raw } = publicKey;
  const key = decodePublicKeyPem(pem);
  assert.deepEqual(key.raw, raw);
  assert.equal(key.spki.length, 44);
  assert.equal(encodePublicKeyPem(key.spki), pem);
  const imported = await crypto.subtle.importKey("spki", key.spki, "Ed25519", true, ["verify"]);
  assert.deepEqual(new Uint8Array(await crypto.subtle.exportKey("raw", imported)), raw);
});

Deno.test("decodePublicKeyPem() reads the Rust peer's test key, with blank lines around", () => {
  const key = decodePublicKeyPem(RUST_PEM);
  assert.equal(key.raw.toBase64(), "ZvriEx8hZEAildpfeifrv0Z5xED/kkK7wzT5Gel+w/w=");
  const wrapped = RUST_PEM.replace("MCowBQYDK2VwAyEA", "MCowBQYD\r\nK2VwAyEA");
  assert.deepEqual(decodePublicKeyPem(wrapped).raw, key.raw);
});

Deno.test("decodePublicKeyPem() rejects what is not an ED25519 SPKI PEM", async () => {
  const ec = await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, true, [
    "sign",
    "verify",
  ]) as CryptoKeyPair;
  const ecSpki = new Uint8Array(await crypto.subtle.exportKey("spki", ec.publicKey));
  const cases: [string, RegExp][] = [
    ["", /expected a PEM block "-----BEGIN PUBLIC KEY-----"/],
    ["MCowBQYDK2VwAyEAZvriEx8hZEAildpfeifrv0Z5xED/kkK7wzT5Gel+w/w=", /expected a PEM block/],
    [RUST_PEM.replaceAll("PUBLIC KEY", "PRIVATE KEY"), /expected a PEM block/],
    [RUST_PEM.replace("MCow", "MC!w"), /expected a PEM block/],
    [RUST_PEM.replace("MCow", "MCo"), /invalid base64 in PEM block/],
    [encodePublicKeyPem(ecSpki), /not an ED25519 SubjectPublicKeyInfo/],
    [RUST_PEM.replace("K2VwAyEA", "K2VxAyEA"), /not an ED25519 SubjectPublicKeyInfo/],
    [encodePublicKeyPem(Uint8Array.of(1, 2, 3)), /not an ED25519 SubjectPublicKeyInfo/],
  ];
  for (const [pem, message] of cases) {
    assert.throws(() => decodePublicKeyPem(pem), { name: "KeyError", message }, pem);
  }
});

Deno.test("decodePublicKeyPem() accepts only keys that WebCrypto's importKey accepts", async () => {
  const { pem } = (await generateKeyPair()).publicKey;
  const good = decodePublicKeyPem(pem).spki;
  // Change each byte of the header: whatever we accept, WebCrypto must accept too. (We are
  // stricter on one byte: WebCrypto ignores the count of unused bits of the BIT STRING.)
  for (let i = 0; i < 12; i++) {
    const spki = good.slice();
    spki[i]! ^= 0x01;
    const ours = (() => {
      try {
        decodePublicKeyPem(encodePublicKeyPem(spki));
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
