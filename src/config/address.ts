/**
 * `host:port` network addresses as written in the configuration: `laptop.lan:9771`,
 * `192.168.1.2:9771`, `0.0.0.0:9771`, and IPv6 literals in brackets, `[::1]:9771` or
 * `[::]:9771` (listen on both families).
 *
 * @module
 */

/** A host (DNS name, IPv4 or IPv6 literal without brackets) and a port. */
export interface HostPort {
  /** `laptop.lan`, `127.0.0.1` or `::1` (no brackets). */
  readonly host: string;
  /** 1 to 65535; 0 only where {@linkcode ParseHostPortOptions.allowPortZero} allows it. */
  readonly port: number;
}

/** Options for {@linkcode parseHostPort}. */
export interface ParseHostPortOptions {
  /** Accept port 0 (a listen address: the system picks a free port). Default false. */
  readonly allowPortZero?: boolean;
}

const HOSTNAME_MAX = 253;
const LABEL = /^[A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?$/;
const IPV4 = /^\d{1,3}(\.\d{1,3}){3}$/;
const PORT = /^\d{1,5}$/;

/**
 * Parses `host:port`.
 *
 * @param text e.g. `"laptop.lan:9771"` or `"[::1]:9771"`
 * @param options see {@linkcode ParseHostPortOptions}
 * @returns the host (IPv6 without brackets) and the port
 * @throws {RangeError} when the host or the port is missing or invalid
 */
export function parseHostPort(text: string, options: ParseHostPortOptions = {}): HostPort {
  const colon = text.lastIndexOf(":");
  if (colon === -1) throw new RangeError(`Invalid address "${text}": expected host:port`);
  const rawHost = text.slice(0, colon);
  const port = parsePort(text, text.slice(colon + 1), options.allowPortZero ?? false);
  let host: string;
  if (rawHost.startsWith("[") && rawHost.endsWith("]")) {
    host = rawHost.slice(1, -1);
    if (!isIpv6(host)) {
      throw new RangeError(`Invalid address "${text}": "${host}" is not an IPv6 address`);
    }
  } else if (rawHost.includes(":")) {
    throw new RangeError(
      `Invalid address "${text}": put an IPv6 address in brackets, like "[::1]:9771"`,
    );
  } else {
    host = rawHost;
    const why = hostProblem(host);
    if (why !== null) throw new RangeError(`Invalid address "${text}": host ${why}`);
  }
  return { host, port };
}

/**
 * Formats an address as {@linkcode parseHostPort} reads it.
 *
 * @param address host and port
 * @returns `host:port`, with brackets around an IPv6 host
 */
export function formatHostPort(address: HostPort): string {
  const host = address.host.includes(":") ? `[${address.host}]` : address.host;
  return `${host}:${address.port}`;
}

function parsePort(text: string, port: string, allowZero: boolean): number {
  if (!PORT.test(port)) {
    throw new RangeError(`Invalid address "${text}": port must be a number from 1 to 65535`);
  }
  const n = Number(port);
  if (n > 65535 || (n === 0 && !allowZero)) {
    const min = allowZero ? 0 : 1;
    throw new RangeError(`Invalid address "${text}": port must be from ${min} to 65535`);
  }
  return n;
}

function hostProblem(host: string): string | null {
  if (host === "") return "is missing";
  if (IPV4.test(host)) {
    return host.split(".").every((o) => Number(o) <= 255) ? null : "is not an IPv4 address";
  }
  const name = host.endsWith(".") ? host.slice(0, -1) : host;
  if (name.length > HOSTNAME_MAX || !name.split(".").every((l) => LABEL.test(l))) {
    return `"${host}" is not a valid host name`;
  }
  return null;
}

function isIpv6(host: string): boolean {
  if (!host.includes(":") || !/^[0-9A-Fa-f:.]+$/.test(host)) return false;
  try {
    new URL(`http://[${host}]/`);
    return true;
  } catch {
    return false;
  }
}
