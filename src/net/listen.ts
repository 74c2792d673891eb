/**
 * The server side: {@linkcode listen} accepts TLS connections, authenticates each client in
 * its own task with a timeout (never inline in the accept loop), and hands authenticated
 * {@linkcode Connection}s to a callback. Every attempt is logged as one `auth` line.
 *
 * @module
 */

import { formatHostPort, type HostPort } from "../config/mod.ts";
import type { KeyPair } from "../keys/mod.ts";
import { describeError, logger } from "../util/mod.ts";
import { hostPortOf } from "./address.ts";
import { certificateFor, keyHex, type TlsIdentity } from "./certs.ts";
import { Connection, type ConnectionOptions, type PeerIdentity } from "./connection.ts";
import { closeQuietly, Deadline } from "./deadline.ts";
import { AuthError, type AuthErrorCode, serverTlsError } from "./errors.ts";
import { ByteReader, newTraffic } from "./framing.ts";
import { HANDSHAKE_TIMEOUT_MS, serverHandshake } from "./handshake.ts";

/** Handshakes in progress at once; more incoming connections are closed at once. */
export const HANDSHAKES_MAX = 64;
/** Pause after a failed `accept` (e.g. out of file descriptors) before trying again. */
export const ACCEPT_RETRY_MS = 100;

const log = logger("auth");
const netLog = logger("net");

/** Options of {@linkcode listen}. */
export interface ListenOptions {
  /** Where to listen; `[::]` takes both IPv6 and IPv4, port 0 picks a free port. */
  readonly address: HostPort;
  /** This peer's keys. */
  readonly keys: KeyPair;
  /** The peers allowed in (`[[peer]]` entries). */
  readonly peers: readonly PeerIdentity[];
  /** Receives each authenticated connection; it owns it from then on. */
  readonly onConnection: (connection: Connection) => void;
  /** Bound on TLS plus authentication; default `HANDSHAKE_TIMEOUT_MS`. */
  readonly handshakeTimeoutMs?: number;
  /** Default {@linkcode HANDSHAKES_MAX}. */
  readonly handshakesMax?: number;
  /** Tunables of the connections made. */
  readonly connection?: ConnectionOptions;
}

/** A listening server; close it to stop accepting. */
export class PeerListener {
  #listeners: Deno.TlsListener[];
  #options: ListenOptions;
  #peers: Map<string, PeerIdentity>;
  #handshakes = new Map<Deno.TlsConn, Promise<void>>();
  #loops: Promise<void>[];
  #closing = false;

  /**
   * Use {@linkcode listen}.
   *
   * @param listeners bound sockets
   * @param options as given to `listen`
   */
  constructor(listeners: Deno.TlsListener[], options: ListenOptions) {
    this.#listeners = listeners;
    this.#options = options;
    this.#peers = new Map(options.peers.map((p) => [keyHex(p.pubkey.raw), p]));
    this.#loops = listeners.map((l) => this.#acceptLoop(l));
  }

  /** The bound addresses: one, or `[::]` and `0.0.0.0` on a system whose IPv6 is v6-only. */
  get addresses(): HostPort[] {
    return this.#listeners.map((l) => hostPortOf(l.addr));
  }

  /** The bound port (the one the system picked for port 0). */
  get port(): number {
    return (this.#listeners[0]!.addr as Deno.NetAddr).port;
  }

  /** Handshakes in progress. */
  get handshakes(): number {
    return this.#handshakes.size;
  }

  /**
   * Stops listening and aborts handshakes in progress. Connections already handed to
   * `onConnection` stay open.
   */
  async close(): Promise<void> {
    if (!this.#closing) {
      this.#closing = true;
      for (const l of this.#listeners) closeQuietly(l);
      for (const conn of this.#handshakes.keys()) closeQuietly(conn);
    }
    await Promise.all(this.#loops);
    await Promise.all(this.#handshakes.values());
  }

  /** Closes the listener (`using` support). */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  async #acceptLoop(listener: Deno.TlsListener): Promise<void> {
    while (!this.#closing) {
      let conn: Deno.TlsConn;
      try {
        conn = await listener.accept();
      } catch (error) {
        if (this.#closing) return;
        netLog.error(
          `cannot accept connections on ${formatHostPort(hostPortOf(listener.addr))}`,
          error,
        );
        await new Promise((resolve) => setTimeout(resolve, ACCEPT_RETRY_MS));
        continue;
      }
      this.#start(conn);
    }
  }

  #start(conn: Deno.TlsConn): void {
    const max = this.#options.handshakesMax ?? HANDSHAKES_MAX;
    if (this.#closing || this.#handshakes.size >= max) {
      const why = this.#closing ? "shutting down" : `too many handshakes in progress (${max})`;
      log.warn(`rejected connection from ${formatHostPort(hostPortOf(conn.remoteAddr))}: ${why}`);
      closeQuietly(conn);
      return;
    }
    const task = this.#handshake(conn).finally(() => this.#handshakes.delete(conn));
    this.#handshakes.set(conn, task);
  }

  async #handshake(conn: Deno.TlsConn): Promise<void> {
    const remote = hostPortOf(conn.remoteAddr);
    const timeoutMs = this.#options.handshakeTimeoutMs ?? HANDSHAKE_TIMEOUT_MS;
    const deadline = new Deadline(timeoutMs, () => conn.close());
    const traffic = newTraffic();
    let phase = "TLS handshake";
    try {
      try {
        await conn.handshake();
      } catch (error) {
        throw serverTlsError(error);
      }
      phase = "authentication";
      const reader = new ByteReader(conn, traffic);
      const io = { reader, sink: conn, traffic };
      const peer = await serverHandshake(io, this.#options.keys, (k) => this.#peers.get(keyHex(k)));
      deadline.clear();
      if (this.#closing) throw new AuthError("closed", "shutting down");
      this.#handshakes.delete(conn); // from now on `close()` leaves it alone
      const connection = new Connection({
        conn,
        reader,
        traffic,
        peer,
        remoteAddress: remote,
        direction: "incoming",
        ...(this.#options.connection && { options: this.#options.connection }),
      });
      log.info(`accepted ${peer.name} from ${formatHostPort(remote)}`);
      this.#handOver(connection);
    } catch (error) {
      deadline.clear();
      this.#reject(remote, explain(error, deadline.expired, this.#closing, phase, timeoutMs));
      closeQuietly(conn);
    }
  }

  #handOver(connection: Connection): void {
    try {
      this.#options.onConnection(connection);
    } catch (error) {
      netLog.error(`onConnection failed for ${connection}`, error);
      void connection.close("internal error");
    }
  }

  #reject(remote: HostPort, error: AuthError): void {
    const line = `rejected connection from ${formatHostPort(remote)}: ${describeError(error)}`;
    // Authentication failures are worth a warning; scanners and timeouts are routine.
    if (SERIOUS.has(error.code)) log.warn(line);
    else log.info(line);
  }
}

const SERIOUS: ReadonlySet<AuthErrorCode> = new Set(["unknown-key", "bad-signature", "version"]);

function explain(
  error: unknown,
  expired: boolean,
  closing: boolean,
  phase: string,
  timeoutMs: number,
): AuthError {
  // The cause of a timeout is our own interruption: not worth printing.
  if (expired) return new AuthError("timeout", `timed out after ${timeoutMs} ms in the ${phase}`);
  if (closing) return new AuthError("closed", "shutting down", { cause: error });
  if (error instanceof AuthError) return error;
  return new AuthError("closed", `connection lost during the ${phase}`, { cause: error });
}

function bind(address: HostPort, identity: TlsIdentity): Deno.TlsListener[] {
  const first = Deno.listenTls({ hostname: address.host, port: address.port, ...identity });
  if (address.host !== "::") return [first];
  // `[::]` is dual-stack unless the system says otherwise (net.ipv6.bindv6only=1). Deno has no
  // IPV6_V6ONLY option, so ask the kernel: 0.0.0.0 on the same port is "in use" exactly when
  // the IPv6 socket already takes IPv4.
  const port = (first.addr as Deno.NetAddr).port;
  try {
    return [first, Deno.listenTls({ hostname: "0.0.0.0", port, ...identity })];
  } catch (error) {
    if (error instanceof Deno.errors.AddrInUse) return [first];
    closeQuietly(first);
    throw error;
  }
}

/**
 * Listens for peers. Each incoming connection is authenticated in its own task (TLS with our
 * certificate, then the client's signature, within `handshakeTimeoutMs`); authenticated ones
 * go to `onConnection`, and every attempt is logged on one `auth` line: `accepted laptop from
 * 192.168.1.5:50312`, or `rejected connection from 203.0.113.9:4242: <reason>`.
 *
 * @param options see {@linkcode ListenOptions}
 * @returns the listener, already accepting
 * @throws {Error} when the address cannot be bound (the cause says why)
 */
export async function listen(options: ListenOptions): Promise<PeerListener> {
  const identity = await certificateFor(options.keys);
  let listeners: Deno.TlsListener[];
  try {
    listeners = bind(options.address, identity);
  } catch (cause) {
    throw new Error(`Cannot listen on ${formatHostPort(options.address)}`, { cause });
  }
  const listener = new PeerListener(listeners, options);
  const bound = listener.addresses.map(formatHostPort).join(" and ");
  netLog.info(`listening on ${bound}`);
  return listener;
}
