import assert from "node:assert/strict";
import { generateKeyPair, KeyError, parsePrivateKey, parsePublicKey } from "./mod.ts";

Deno.test("generateKeyPair() round-trips through PEM", async () => {
  const pair = await generateKeyPair();
  assert.match(
    pair.privatePem,
    /^-----BEGIN PRIVATE KEY-----\n[A-Za-z0-9+/=\n]+-----END PRIVATE KEY-----\n$/,
  );
  assert.equal(pair.publicKey.raw.length, 32);
  const again = await parsePrivateKey(pair.privatePem);
  assert.deepEqual(again.publicKey.raw, pair.publicKey.raw);
  const pub = await parsePublicKey(pair.publicKey.pem);
  assert.deepEqual(pub.raw, pair.publicKey.raw);
});

Deno.test("parsePrivateKey() derives a public key that verifies its signatures", async () => {
  const pair = await parsePrivateKey((await generateKeyPair()).privatePem);
  const data = new TextEncoder().encode("nonce");
  const sig = await crypto.subtle.sign("Ed25519", pair.privateKey, data);
  assert.ok(await crypto.subtle.verify("Ed25519", pair.publicKey.key, sig, data));
});

Deno.test("parsePublicKey() rejects malformed and non-ED25519 keys", async () => {
  await assert.rejects(parsePublicKey("hello"), KeyError);
  await assert.rejects(
    parsePublicKey("-----BEGIN PUBLIC KEY-----\n!!!\n-----END PUBLIC KEY-----"),
    KeyError,
  );
  const ec = await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, true, [
    "sign",
    "verify",
  ]) as CryptoKeyPair;
  const spki = new Uint8Array(await crypto.subtle.exportKey("spki", ec.publicKey));
  const pem = `-----BEGIN PUBLIC KEY-----\n${
    btoa(String.fromCharCode(...spki))
  }\n-----END PUBLIC KEY-----`;
  await assert.rejects(parsePublicKey(pem), /not an ED25519/);
  const priv = (await generateKeyPair()).privatePem;
  await assert.rejects(parsePublicKey(priv), /BEGIN PUBLIC KEY/);
});
