/**
 * X.509 certificates made from ED25519 keys, for native TLS (rustls) only:
 *
 * - {@linkcode certificateFor}: a peer's self-signed X.509 v3 certificate, served by
 *   `Deno.listenTls`;
 * - {@linkcode pinningAnchor}: from a peer's 32-byte public key alone, a trust anchor that
 *   makes exactly that peer's certificate verify in `Deno.startTls({ caCerts })`. webpki does
 *   not check a trust anchor's own signature, so the anchor carries the peer's subject and key
 *   and is signed by a throwaway key (docs/network.md, "Identity").
 *
 * Both are deterministic functions of the key and cached in memory (making one takes ~20 ms).
 *
 * @module
 */

import "reflect-metadata"; // @peculiar/x509 (tsyringe) needs it loaded first
import * as x509 from "@peculiar/x509";
import type { KeyPair } from "../keys/mod.ts";
import { assert } from "../util/mod.ts";

x509.cryptoProvider.set(crypto);

/** Certificates cached per process, for {@linkcode certificateFor}. */
export const CERT_CACHE_MAX = 64;
/** Pinning anchors cached per process, for {@linkcode pinningAnchor}. */
export const ANCHOR_CACHE_MAX = 1024;

const ED25519 = { name: "Ed25519" } as const;
const NOT_BEFORE = new Date("2000-01-01T00:00:00Z");
// RFC 5280 §4.1.2.5: 99991231235959Z means "no well-defined expiration date".
const NOT_AFTER = new Date("9999-12-31T23:59:59Z");
const RAW_KEY_LENGTH = 32;

/** What `Deno.listenTls` needs. */
export interface TlsIdentity {
  /** The certificate, PEM. */
  readonly cert: string;
  /** The PKCS#8 private key, PEM. */
  readonly key: string;
}

const certificates = new Map<string, Promise<TlsIdentity>>();
const anchors = new Map<string, Promise<string>>();
let throwaway: Promise<CryptoKey> | null = null;

/**
 * The DNS name a peer's certificate carries and clients check (and send as SNI), derived from
 * its key: `<32 hex>.<32 hex>.realize.invalid`. `Deno.startTls` trusts the system's root
 * authorities *in addition to* `caCerts`, so the pin also relies on no authority certifying this
 * name: `.invalid` is reserved (RFC 6761) and public CAs may not issue for it, and the name is
 * peer-specific. Hostname verification therefore stays on.
 *
 * @param raw the peer's 32-byte key
 * @returns the name
 */
export function tlsServerName(raw: Uint8Array): string {
  const hex = keyHex(raw);
  return `${hex.slice(0, 32)}.${hex.slice(32)}.realize.invalid`;
}

/**
 * The `Deno.startTls` options that accept exactly the peer holding `raw`: its
 * {@linkcode tlsServerName} and its {@linkcode pinningAnchor}.
 *
 * @param raw the peer's 32-byte key
 * @returns `hostname` and `caCerts`
 */
export async function pinnedTlsOptions(
  raw: Uint8Array<ArrayBuffer>,
): Promise<Deno.StartTlsOptions> {
  return { hostname: tlsServerName(raw), caCerts: [await pinningAnchor(raw)] };
}

/**
 * The hex form of a raw public key: the subject CN of the peer's certificate and anchor.
 *
 * @param raw the 32-byte key
 * @returns 64 lowercase hex digits
 */
export function keyHex(raw: Uint8Array): string {
  return Array.from(raw, (b) => b.toString(16).padStart(2, "0")).join("");
}

function remember<T>(
  cache: Map<string, Promise<T>>,
  max: number,
  key: string,
  make: () => Promise<T>,
): Promise<T> {
  let value = cache.get(key);
  if (value === undefined) {
    if (cache.size >= max) cache.delete(cache.keys().next().value as string);
    value = make();
    cache.set(key, value);
    value.catch(() => cache.delete(key));
  }
  return value;
}

/**
 * The self-signed X.509 v3 certificate of a key pair: subject and issuer `CN=<hex key>`,
 * DNS name {@linkcode tlsServerName}, not a CA, valid from 2000 to 9999.
 *
 * @param keys this peer's keys
 * @returns the certificate and private key, PEM, for `Deno.listenTls`
 */
export function certificateFor(keys: KeyPair): Promise<TlsIdentity> {
  return remember(certificates, CERT_CACHE_MAX, keys.privatePem, async () => {
    const hex = keyHex(keys.publicKey.raw);
    const cert = await x509.X509CertificateGenerator.createSelfSigned({
      serialNumber: "01",
      name: `CN=${hex}`,
      notBefore: NOT_BEFORE,
      notAfter: NOT_AFTER,
      keys: { privateKey: keys.privateKey, publicKey: keys.publicKey.key },
      signingAlgorithm: ED25519,
      extensions: [
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.SubjectAlternativeNameExtension([
          { type: "dns", value: tlsServerName(keys.publicKey.raw) },
        ]),
      ],
    });
    return { cert: cert.toString("pem"), key: keys.privatePem };
  });
}

/**
 * A trust anchor that accepts exactly the certificate {@linkcode certificateFor} makes for
 * the key `raw`. Pass it alone as `caCerts` to `Deno.startTls`: a server holding another key
 * fails with `UnknownIssuer`.
 *
 * @param raw the peer's 32-byte ED25519 public key
 * @returns the anchor certificate, PEM
 * @throws {TypeError} when `raw` is not an ED25519 public key
 */
export function pinningAnchor(raw: Uint8Array<ArrayBuffer>): Promise<string> {
  assert(raw.length === RAW_KEY_LENGTH, "an ED25519 public key has 32 bytes");
  const hex = keyHex(raw);
  return remember(anchors, ANCHOR_CACHE_MAX, hex, async () => {
    throwaway ??= crypto.subtle.generateKey(ED25519, false, ["sign", "verify"])
      .then((pair) => (pair as CryptoKeyPair).privateKey);
    const publicKey = await crypto.subtle.importKey("raw", raw, ED25519, true, ["verify"]);
    const anchor = await x509.X509CertificateGenerator.create({
      serialNumber: "01",
      subject: `CN=${hex}`,
      issuer: `CN=${hex}`,
      notBefore: NOT_BEFORE,
      notAfter: NOT_AFTER,
      publicKey,
      signingKey: await throwaway,
      signingAlgorithm: ED25519,
    });
    return anchor.toString("pem");
  });
}
