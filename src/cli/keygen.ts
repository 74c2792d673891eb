/**
 * `realize keygen --out FILE`: a new identity.
 *
 * @module
 */

import { generateKeyPair } from "../keys/mod.ts";
import type { CliIo } from "./io.ts";

/**
 * Writes a new PKCS#8 PEM ED25519 private key to `out` (mode 0600; never overwrites)
 * and prints the public key as SPKI PEM, ready for a peer's `[[peer]] pubkey`.
 *
 * @param out path of the private key file to create
 * @param io where to print
 * @throws {Error} when the file exists or cannot be written (with the cause)
 */
export async function keygen(out: string, io: CliIo): Promise<void> {
  const pair = await generateKeyPair();
  const data = new TextEncoder().encode(pair.privatePem);
  try {
    // createNew: O_EXCL, so an existing key is never replaced, even in a race.
    await Deno.writeFile(out, data, { createNew: true, mode: 0o600 });
    await Deno.chmod(out, 0o600); // the mode above is filtered by the umask
  } catch (cause) {
    const why = cause instanceof Deno.errors.AlreadyExists
      ? "file exists; refusing to overwrite a key"
      : "cannot write the key";
    throw new Error(`Cannot create "${out}": ${why}`, { cause });
  }
  io.err(`Private key written to ${out}. Add this public key to the other peers' configs:\n`);
  io.out(pair.publicKey.pem);
}
