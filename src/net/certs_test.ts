import "reflect-metadata";
import assert from "node:assert/strict";
import * as x509 from "@peculiar/x509";
import { testPeer } from "./_testing.ts";
import { certificateFor, keyHex, pinningAnchor, tlsServerName } from "./certs.ts";

Deno.test("certificateFor() makes a self-signed ED25519 certificate of the key", async () => {
  const peer = await testPeer("laptop");
  const { cert, key } = await certificateFor(peer.keys);
  assert.equal(key, peer.keys.privatePem);
  const parsed = new x509.X509Certificate(cert);
  const hex = keyHex(peer.keys.publicKey.raw);
  assert.equal(parsed.subject, `CN=${hex}`);
  assert.equal(parsed.issuer, `CN=${hex}`);
  assert.ok(await parsed.verify({ signatureOnly: true }));
  const spki = new Uint8Array(parsed.publicKey.rawData);
  assert.deepEqual(spki.slice(-32), peer.keys.publicKey.raw);
  const san = parsed.getExtension(x509.SubjectAlternativeNameExtension);
  assert.deepEqual(san?.names.items.map((n) => n.value), [tlsServerName(peer.keys.publicKey.raw)]);
  assert.equal(parsed.getExtension(x509.BasicConstraintsExtension)?.ca, false);
});

Deno.test("certificateFor() and pinningAnchor() are cached", async () => {
  const peer = await testPeer("laptop");
  assert.equal(certificateFor(peer.keys), certificateFor(peer.keys));
  assert.equal(pinningAnchor(peer.keys.publicKey.raw), pinningAnchor(peer.keys.publicKey.raw));
});

Deno.test("pinningAnchor() carries the peer's subject and key, signed by another key", async () => {
  const peer = await testPeer("laptop");
  const anchor = new x509.X509Certificate(await pinningAnchor(peer.keys.publicKey.raw));
  assert.equal(anchor.subject, `CN=${keyHex(peer.keys.publicKey.raw)}`);
  assert.deepEqual(new Uint8Array(anchor.publicKey.rawData).slice(-32), peer.keys.publicKey.raw);
  assert.equal(await anchor.verify({ signatureOnly: true }), false);
});
