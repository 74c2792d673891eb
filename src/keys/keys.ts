/**
 * ED25519 identities: each peer is known by its public key. Private keys are stored as
 * PKCS#8 PEM, public keys as SPKI PEM (what goes in a peer's `[[peer]] pubkey`).
 *
 * @module
 */

import { KeyError, pemDecode, pemEncode } from "./pem.ts";
import { decodePublicKeyPem } from "./public_key.ts";

/** A peer's public key. */
export interface PublicKey {
  /** The raw 32-byte ED25519 key: the peer's identity on the wire. */
  readonly raw: Uint8Array<ArrayBuffer>;
  /** The WebCrypto key, for signature checks. */
  readonly key: CryptoKey;
  /** SPKI PEM text. */
  readonly pem: string;
}

/** This peer's key pair. */
export interface KeyPair {
  /** The public half. */
  readonly publicKey: PublicKey;
  /** The WebCrypto private key, for signing. */
  readonly privateKey: CryptoKey;
  /** PKCS#8 PEM text of the private key. */
  readonly privatePem: string;
}

const ED25519 = { name: "Ed25519" } as const;

async function publicFromKey(key: CryptoKey): Promise<PublicKey> {
  const spki = new Uint8Array(await crypto.subtle.exportKey("spki", key));
  const raw = new Uint8Array(await crypto.subtle.exportKey("raw", key));
  return { raw, key, pem: pemEncode("PUBLIC KEY", spki) };
}

/**
 * Makes a new ED25519 key pair.
 *
 * @returns the pair, with PEM texts
 */
export async function generateKeyPair(): Promise<KeyPair> {
  const pair = await crypto.subtle.generateKey(ED25519, true, ["sign", "verify"]) as CryptoKeyPair;
  const pkcs8 = new Uint8Array(await crypto.subtle.exportKey("pkcs8", pair.privateKey));
  return {
    publicKey: await publicFromKey(pair.publicKey),
    privateKey: pair.privateKey,
    privatePem: pemEncode("PRIVATE KEY", pkcs8),
  };
}

/**
 * Reads an SPKI PEM ED25519 public key.
 *
 * @param pem the text of a `-----BEGIN PUBLIC KEY-----` block
 * @returns the key
 * @throws {KeyError} when the text is not an ED25519 SPKI PEM
 */
export async function parsePublicKey(pem: string): Promise<PublicKey> {
  const { spki } = decodePublicKeyPem(pem);
  let key: CryptoKey;
  try {
    key = await crypto.subtle.importKey("spki", spki, ED25519, true, ["verify"]);
  } catch (cause) {
    throw new KeyError("not an ED25519 public key (PEM SPKI)", { cause });
  }
  return await publicFromKey(key);
}

/**
 * Reads a PKCS#8 PEM ED25519 private key and derives its public key.
 *
 * @param pem the text of a `-----BEGIN PRIVATE KEY-----` block
 * @returns the pair
 * @throws {KeyError} when the text is not an ED25519 PKCS#8 PEM
 */
export async function parsePrivateKey(pem: string): Promise<KeyPair> {
  const der = pemDecode(pem, "PRIVATE KEY");
  let privateKey: CryptoKey;
  let jwk: JsonWebKey;
  try {
    privateKey = await crypto.subtle.importKey("pkcs8", der, ED25519, true, ["sign"]);
    jwk = await crypto.subtle.exportKey("jwk", privateKey);
  } catch (cause) {
    throw new KeyError("not an ED25519 private key (PEM PKCS#8)", { cause });
  }
  const { d: _d, key_ops: _ops, ...pub } = jwk;
  const publicKey = await crypto.subtle.importKey("jwk", pub, ED25519, true, ["verify"]);
  return {
    publicKey: await publicFromKey(publicKey),
    privateKey,
    privatePem: pemEncode("PRIVATE KEY", der),
  };
}
