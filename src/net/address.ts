/**
 * Addresses and keys as the transport prints them.
 *
 * @module
 */

import type { HostPort } from "../config/mod.ts";

const V4_MAPPED = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i;
// deno-fmt-ignore
const ED25519_SPKI_PREFIX = Uint8Array.of(
  0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
);

/**
 * The address of a socket's peer as a {@linkcode HostPort}. A dual-stack (`[::]`) listener sees
 * IPv4 clients as `::ffff:a.b.c.d`; those are shown as the IPv4 address.
 *
 * @param addr `conn.remoteAddr`
 * @returns host and port
 */
export function hostPortOf(addr: Deno.Addr): HostPort {
  if (addr.transport !== "tcp" && addr.transport !== "udp") return { host: "unknown", port: 0 };
  const mapped = V4_MAPPED.exec(addr.hostname);
  return { host: mapped?.[1] ?? addr.hostname, port: addr.port };
}

/**
 * A raw ED25519 key as the base64 body of its PEM SubjectPublicKeyInfo
 * (`MCowBQYDK2VwAyEA…`, 60 characters): what goes between the `BEGIN PUBLIC KEY` lines of a
 * `[[peer]] pubkey`, so a logged unknown key can be pasted into a configuration.
 *
 * @param raw the 32-byte key
 * @returns base64 of the DER SPKI
 */
export function keyText(raw: Uint8Array): string {
  const der = new Uint8Array(ED25519_SPKI_PREFIX.length + raw.length);
  der.set(ED25519_SPKI_PREFIX);
  der.set(raw, ED25519_SPKI_PREFIX.length);
  return btoa(String.fromCharCode(...der));
}
