/**
 * The authentication that runs inside the TLS tunnel, once the client has pinned the server's
 * certificate to the key of the peer it dialled. Exact bytes (docs/network.md, "Handshake"):
 *
 * ```text
 * server → client  hello    "RLZE" | version 0x01 | nonce (32) | server key (32)       69 bytes
 * client → server  proof    "RLZE" | version 0x01 | client key (32) | signature (64)  101 bytes
 * server → client  verdict  code (1) | reason length (1) | reason (UTF-8)        2–257 bytes
 * ```
 *
 * The signature is Ed25519 over `"realize-auth-v1" ‖ nonce ‖ server key ‖ client key`, so it
 * cannot be replayed (fresh nonce) nor relayed to another server (its key is signed).
 * Verdict code 0 accepts; other codes are in `errors.ts` (`VERDICT`).
 *
 * @module
 */

import type { KeyPair } from "../keys/mod.ts";
import { AuthError, type AuthErrorCode, VERDICT, verdictByte, verdictCode } from "./errors.ts";
import { type ByteReader, type Sink, type Traffic, writeAll } from "./framing.ts";
import { type PeerIdentity, printable } from "./connection.ts";
import { keyText } from "./address.ts";

/** First bytes of the hello and the proof: ASCII `RLZE`. */
export const HANDSHAKE_MAGIC: Uint8Array<ArrayBuffer> = Uint8Array.of(0x52, 0x4c, 0x5a, 0x45);
/** The handshake version this code speaks. */
export const HANDSHAKE_VERSION = 1;
/** Domain separation of the client's signature. */
export const AUTH_CONTEXT = "realize-auth-v1";
/** Bytes of the server's nonce. */
export const NONCE_BYTES = 32;
/** Bytes of the hello. */
export const HELLO_BYTES = 5 + NONCE_BYTES + 32;
/** Bytes of the proof. */
export const PROOF_BYTES = 5 + 32 + 64;
/** Longest verdict reason. */
export const VERDICT_REASON_BYTES_MAX = 255;
/** Default bound on a whole handshake (TCP connect, TLS, authentication), either side. */
export const HANDSHAKE_TIMEOUT_MS = 10_000;

const ED25519 = { name: "Ed25519" } as const;
const KEY_BYTES = 32;

/** The stream a handshake runs on. */
export interface HandshakeIo {
  readonly reader: ByteReader;
  readonly sink: Sink;
  readonly traffic: Traffic;
}

function concat(...parts: Uint8Array[]): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

function equal(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/**
 * The bytes the client signs.
 *
 * @param nonce the server's nonce
 * @param serverKey the server's raw key
 * @param clientKey the client's raw key
 * @returns `"realize-auth-v1" ‖ nonce ‖ serverKey ‖ clientKey`
 */
export function signedBytes(
  nonce: Uint8Array,
  serverKey: Uint8Array,
  clientKey: Uint8Array,
): Uint8Array<ArrayBuffer> {
  return concat(new TextEncoder().encode(AUTH_CONTEXT), nonce, serverKey, clientKey);
}

/** Checks magic and version; `who` names the other side in messages. */
function checkPreamble(bytes: Uint8Array, who: string): void {
  if (!equal(bytes.subarray(0, 4), HANDSHAKE_MAGIC)) {
    throw new AuthError("protocol", `${who} does not speak the realize handshake`);
  }
  if (bytes[4] !== HANDSHAKE_VERSION) {
    const message = `${who} speaks handshake version ${
      bytes[4]
    }; this peer speaks ${HANDSHAKE_VERSION}`;
    throw new AuthError("version", message);
  }
}

async function readOrClosed(io: HandshakeIo, n: number, message: string): Promise<Uint8Array> {
  let bytes: Uint8Array | null;
  try {
    bytes = await io.reader.readExact(n);
  } catch (cause) {
    throw new AuthError("closed", message, { cause });
  }
  if (bytes === null) throw new AuthError("closed", message);
  return bytes;
}

/**
 * The server's side: sends the hello, checks the proof, sends the verdict.
 *
 * @param io the TLS stream
 * @param keys this peer's keys
 * @param lookup the allowed peer with a given raw key, if any
 * @returns the authenticated client
 * @throws {AuthError} when the client is refused (it has been told why, when it may be)
 */
export async function serverHandshake(
  io: HandshakeIo,
  keys: KeyPair,
  lookup: (rawKey: Uint8Array) => PeerIdentity | undefined,
): Promise<PeerIdentity> {
  const nonce = crypto.getRandomValues(new Uint8Array(NONCE_BYTES));
  const serverKey = keys.publicKey.raw;
  await writeAll(
    io.sink,
    concat(HANDSHAKE_MAGIC, Uint8Array.of(HANDSHAKE_VERSION), nonce, serverKey),
    io.traffic,
  );
  try {
    const proof = await readOrClosed(io, PROOF_BYTES, "closed during authentication");
    checkPreamble(proof, "the client");
    const clientKey = proof.slice(5, 5 + KEY_BYTES);
    const signature = proof.slice(5 + KEY_BYTES);
    await checkSignature(clientKey, signature, signedBytes(nonce, serverKey, clientKey));
    const peer = lookup(clientKey);
    if (peer === undefined) throw new AuthError("unknown-key", `unknown key ${keyText(clientKey)}`);
    await writeAll(io.sink, Uint8Array.of(VERDICT.accepted, 0), io.traffic);
    return peer;
  } catch (error) {
    if (error instanceof AuthError) await tellClient(io, error.code, error.message);
    throw error;
  }
}

async function checkSignature(
  key: Uint8Array<ArrayBuffer>,
  sig: Uint8Array<ArrayBuffer>,
  data: Uint8Array<ArrayBuffer>,
): Promise<void> {
  let ok: boolean;
  try {
    const publicKey = await crypto.subtle.importKey("raw", key, ED25519, false, ["verify"]);
    ok = await crypto.subtle.verify(ED25519, publicKey, sig, data);
  } catch (cause) {
    throw new AuthError("protocol", `malformed key ${keyText(key)}`, { cause });
  }
  if (!ok) throw new AuthError("bad-signature", `bad signature for key ${keyText(key)}`);
}

/** Sends a refusal, when the code is one the client is told; best effort. */
async function tellClient(io: HandshakeIo, code: AuthErrorCode, reason: string): Promise<void> {
  const byte = verdictByte(code);
  if (byte === null) return;
  const text = new TextEncoder().encode(reason).subarray(0, VERDICT_REASON_BYTES_MAX);
  try {
    await writeAll(io.sink, concat(Uint8Array.of(byte, text.length), text), io.traffic);
  } catch {
    // the client is gone; the refusal is logged by the caller anyway
  }
}

/**
 * The client's side: checks the hello, sends the proof, reads the verdict.
 *
 * @param io the TLS stream, whose certificate was pinned to `peer`'s key
 * @param keys this peer's keys
 * @param peer the peer we dialled
 * @throws {AuthError} when the server is not `peer`, or refuses us (`message` is its reason)
 */
export async function clientHandshake(
  io: HandshakeIo,
  keys: KeyPair,
  peer: PeerIdentity,
): Promise<void> {
  const closed = "the server closed the connection during authentication";
  const hello = await readOrClosed(io, HELLO_BYTES, closed);
  checkPreamble(hello, "the server");
  const nonce = hello.subarray(5, 5 + NONCE_BYTES);
  const serverKey = hello.subarray(5 + NONCE_BYTES);
  if (!equal(serverKey, peer.pubkey.raw)) {
    const message = `the server claims key ${keyText(serverKey)}, not ${peer.name}'s`;
    throw new AuthError("wrong-server-key", message);
  }
  const clientKey = keys.publicKey.raw;
  const signature = new Uint8Array(
    await crypto.subtle.sign(ED25519, keys.privateKey, signedBytes(nonce, serverKey, clientKey)),
  );
  const proof = concat(HANDSHAKE_MAGIC, Uint8Array.of(HANDSHAKE_VERSION), clientKey, signature);
  await writeAll(io.sink, proof, io.traffic);
  const head = await readOrClosed(io, 2, closed);
  if (head[0] === VERDICT.accepted) return;
  const reason = head[1]! === 0 ? new Uint8Array(0) : await readOrClosed(io, head[1]!, closed);
  const text = printable(new TextDecoder().decode(reason));
  const message = text === "" ? `refused (code ${head[0]})` : text;
  throw new AuthError(verdictCode(head[0]!), message, { byPeer: true });
}
