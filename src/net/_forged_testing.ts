/**
 * The attack `node:tls` falls for (docs/network.md, "Why not node:tls"): an X.509 **v1**
 * certificate that carries a victim's public key but is signed by an attacker's key. Test-only.
 *
 * The attacker's server here is `node:tls`, because `Deno.listenTls` itself refuses to load a
 * v1 certificate (`UnsupportedCertVersion`); that is the attacker's tool, never ours.
 *
 * @module
 */

import * as tls from "node:tls";
import { type KeyPair, pemEncode } from "../keys/mod.ts";
import { keyHex } from "./certs.ts";

function length(n: number): number[] {
  if (n < 0x80) return [n];
  if (n < 0x100) return [0x81, n];
  return [0x82, n >> 8, n & 0xff];
}

function der(tag: number, ...parts: Uint8Array[]): Uint8Array {
  const body = parts.flatMap((p) => [...p]);
  return Uint8Array.from([tag, ...length(body.length), ...body]);
}

function ascii(text: string): Uint8Array {
  return new TextEncoder().encode(text);
}
const ED25519_ALGORITHM = der(0x30, der(0x06, Uint8Array.of(0x2b, 0x65, 0x70)));
// deno-fmt-ignore
const SPKI_PREFIX = Uint8Array.of(
  0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
);

function commonName(cn: string): Uint8Array {
  const attribute = der(0x30, der(0x06, Uint8Array.of(0x55, 0x04, 0x03)), der(0x0c, ascii(cn)));
  return der(0x30, der(0x31, attribute));
}

/**
 * A forged X.509 v1 certificate (no version field, no extensions): subject and issuer
 * `CN=<hex victim key>`, the victim's public key, signed by `attacker`.
 *
 * @param victim the victim's 32-byte key
 * @param attacker the key that signs
 * @returns the certificate, PEM
 */
export async function forgedV1Certificate(victim: Uint8Array, attacker: KeyPair): Promise<string> {
  const name = commonName(keyHex(victim));
  const validity = der(0x30, der(0x17, ascii("200101000000Z")), der(0x17, ascii("491231235959Z")));
  const spki = Uint8Array.from([...SPKI_PREFIX, ...victim]);
  const serial = der(0x02, Uint8Array.of(0x2a));
  const tbs = der(0x30, serial, ED25519_ALGORITHM, name, validity, name, spki);
  const signature = new Uint8Array(
    await crypto.subtle.sign("Ed25519", attacker.privateKey, tbs as Uint8Array<ArrayBuffer>),
  );
  const bits = der(0x03, Uint8Array.of(0), signature);
  return pemEncode("CERTIFICATE", der(0x30, tbs, ED25519_ALGORITHM, bits));
}

/**
 * The same forgery made the way it was first measured, with
 * `openssl x509 -new -force_pubkey victim.pub -key attacker.key`.
 *
 * @param victim the victim's 32-byte key
 * @param attacker the key that signs
 * @returns the certificate, PEM, or `null` when there is no `openssl` binary
 */
export async function opensslForgedV1(
  victim: Uint8Array,
  attacker: KeyPair,
): Promise<string | null> {
  const dir = await Deno.makeTempDir({ prefix: "realize-forge-" });
  try {
    await Deno.writeTextFile(
      `${dir}/victim.pub`,
      pemEncode("PUBLIC KEY", Uint8Array.from([...SPKI_PREFIX, ...victim])),
    );
    await Deno.writeTextFile(`${dir}/attacker.key`, attacker.privatePem);
    const args = [
      "x509",
      "-new",
      "-force_pubkey",
      `${dir}/victim.pub`,
      "-key",
      `${dir}/attacker.key`,
    ];
    args.push("-subj", `/CN=${keyHex(victim)}`, "-days", "3650", "-out", `${dir}/forged.crt`);
    let status: Deno.CommandOutput;
    try {
      status = await new Deno.Command("openssl", { args, stdout: "null", stderr: "piped" })
        .output();
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) return null;
      throw error;
    }
    if (!status.success) {
      throw new Error(`openssl failed: ${new TextDecoder().decode(status.stderr)}`);
    }
    return await Deno.readTextFile(`${dir}/forged.crt`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** A TLS server serving a given certificate; it completes handshakes and closes. */
export interface ForgedServer extends AsyncDisposable {
  readonly port: number;
}

/**
 * Starts the attacker's TLS server on 127.0.0.1.
 *
 * @param cert certificate, PEM
 * @param key the attacker's private key, PEM
 * @returns the server
 */
export async function tlsServerWithCertificate(cert: string, key: string): Promise<ForgedServer> {
  const sockets = new Set<tls.TLSSocket>();
  const server = tls.createServer({ cert, key }, (socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    socket.on("error", () => {});
  });
  server.on("tlsClientError", () => {});
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    port: (server.address() as { port: number }).port,
    async [Symbol.asyncDispose]() {
      for (const s of sockets) s.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
