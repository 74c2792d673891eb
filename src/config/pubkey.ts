/**
 * ED25519 public keys as written in the configuration: PEM `-----BEGIN PUBLIC KEY-----`
 * blocks holding a DER SubjectPublicKeyInfo, as printed by `realize keygen` and
 * `openssl pkey -pubout`.
 *
 * @module
 */

/** An ED25519 public key. */
export interface PublicKeyBytes {
  /** The 32-byte key, as signatures are checked against and peers are told apart. */
  readonly raw: Uint8Array;
  /** The DER SubjectPublicKeyInfo (44 bytes), as TLS certificates carry it. */
  readonly spki: Uint8Array;
}

/** DER SubjectPublicKeyInfo header of an ED25519 key (OID 1.3.101.112, no parameters). */
const ED25519_SPKI_PREFIX = Uint8Array.of(
  0x30,
  0x2a,
  0x30,
  0x05,
  0x06,
  0x03,
  0x2b,
  0x65,
  0x70,
  0x03,
  0x21,
  0x00,
);
const RAW_LENGTH = 32;
const PEM = /^-----BEGIN PUBLIC KEY-----\r?\n([A-Za-z0-9+/=\s]+)-----END PUBLIC KEY-----$/;

/**
 * Decodes a PEM SPKI ED25519 public key, synchronously. It accepts the one DER encoding
 * of such a key (44 bytes: OID 1.3.101.112, no parameters, a 32-byte key): a subset of
 * what WebCrypto's `importKey("spki", …, "Ed25519")` accepts (see
 * {@linkcode importPublicKey}), which also ignores the unused-bits count of the key.
 *
 * @param pem the PEM text; surrounding whitespace is ignored
 * @returns the raw key and its SPKI encoding
 * @throws {RangeError} when the text is not a PEM SPKI ED25519 public key
 */
export function parsePublicKeyPem(pem: string): PublicKeyBytes {
  const m = PEM.exec(pem.trim());
  if (m === null) throw new RangeError("Invalid public key: not a PEM PUBLIC KEY block");
  let der: Uint8Array;
  try {
    der = Uint8Array.from(atob(m[1]!.replace(/\s+/g, "")), (c) => c.charCodeAt(0));
  } catch (e) {
    throw new RangeError("Invalid public key: bad base64 in PEM", { cause: e });
  }
  const prefix = ED25519_SPKI_PREFIX.length;
  const header = der.subarray(0, prefix);
  if (
    der.length !== prefix + RAW_LENGTH ||
    !header.every((b, i) => b === ED25519_SPKI_PREFIX[i])
  ) {
    throw new RangeError("Invalid public key: not an ED25519 SubjectPublicKeyInfo");
  }
  return { raw: der.slice(prefix), spki: der };
}

/**
 * Imports a key into WebCrypto for signature checks.
 *
 * @param key a key from {@linkcode parsePublicKeyPem}
 * @returns an extractable Ed25519 `verify` key
 * @throws {DOMException} when WebCrypto rejects the key
 */
export function importPublicKey(key: PublicKeyBytes): Promise<CryptoKey> {
  return crypto.subtle.importKey(
    "spki",
    key.spki as Uint8Array<ArrayBuffer>,
    {
      name: "Ed25519",
    },
    true,
    ["verify"],
  );
}

/**
 * Formats a key as a PEM SPKI block.
 *
 * @param spki the DER SubjectPublicKeyInfo
 * @returns `-----BEGIN PUBLIC KEY-----` … `-----END PUBLIC KEY-----`, with a final newline
 */
export function formatPublicKeyPem(spki: Uint8Array): string {
  const b64 = btoa(String.fromCharCode(...spki));
  const lines = b64.match(/.{1,64}/g) ?? [];
  return `-----BEGIN PUBLIC KEY-----\n${lines.join("\n")}\n-----END PUBLIC KEY-----\n`;
}
