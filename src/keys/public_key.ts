/**
 * ED25519 public keys as written in configurations: PEM `-----BEGIN PUBLIC KEY-----`
 * blocks holding a DER SubjectPublicKeyInfo, as printed by `realize keygen` and
 * `openssl pkey -pubout`. Decoding is synchronous so the config parser can use it.
 *
 * @module
 */

import { KeyError, pemDecode, pemEncode } from "./pem.ts";

/** An ED25519 public key's bytes. */
export interface PublicKeyBytes {
  /** The 32-byte key, as signatures are checked against and peers are told apart. */
  readonly raw: Uint8Array<ArrayBuffer>;
  /** The DER SubjectPublicKeyInfo (44 bytes), as TLS certificates carry it. */
  readonly spki: Uint8Array<ArrayBuffer>;
}

/** DER SubjectPublicKeyInfo header of an ED25519 key (OID 1.3.101.112, no parameters). */
// deno-fmt-ignore
const ED25519_SPKI_PREFIX = Uint8Array.of(
  0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
);
const RAW_LENGTH = 32;

/**
 * Decodes a PEM SPKI ED25519 public key. It accepts the one DER encoding of such a key
 * (44 bytes: OID 1.3.101.112, no parameters, a 32-byte key): a subset of what WebCrypto's
 * `importKey("spki", …, "Ed25519")` accepts.
 *
 * @param pem the PEM text; surrounding whitespace is ignored
 * @returns the raw key and its SPKI encoding
 * @throws {KeyError} when the text is not a PEM SPKI ED25519 public key
 */
export function decodePublicKeyPem(pem: string): PublicKeyBytes {
  const der = pemDecode(pem, "PUBLIC KEY");
  const prefix = ED25519_SPKI_PREFIX.length;
  const header = der.subarray(0, prefix);
  if (der.length !== prefix + RAW_LENGTH || !header.every((b, i) => b === ED25519_SPKI_PREFIX[i])) {
    throw new KeyError("not an ED25519 SubjectPublicKeyInfo");
  }
  return { raw: der.slice(prefix), spki: der };
}

/**
 * Formats a key as a PEM SPKI block.
 *
 * @param spki the DER SubjectPublicKeyInfo
 * @returns `-----BEGIN PUBLIC KEY-----` … `-----END PUBLIC KEY-----`, with a final newline
 */
export function encodePublicKeyPem(spki: Uint8Array): string {
  return pemEncode("PUBLIC KEY", spki);
}
