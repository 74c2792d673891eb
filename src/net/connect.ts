/**
 * The client side: {@linkcode connect} dials a configured peer, pins its certificate to the
 * peer's key, proves our key, and returns a {@linkcode Connection}. Each attempt is logged as
 * one `auth` line.
 *
 * @module
 */

import { formatHostPort, type HostPort } from "../config/mod.ts";
import type { KeyPair } from "../keys/mod.ts";
import { describeError, logger } from "../util/mod.ts";
import { hostPortOf } from "./address.ts";
import { pinnedTlsOptions } from "./certs.ts";
import { Connection, type ConnectionOptions, type PeerIdentity } from "./connection.ts";
import { closeQuietly, Deadline } from "./deadline.ts";
import { AuthError, clientTlsError } from "./errors.ts";
import { ByteReader, newTraffic } from "./framing.ts";
import { clientHandshake, HANDSHAKE_TIMEOUT_MS } from "./handshake.ts";

const log = logger("auth");

/** Options of {@linkcode connect}. */
export interface ConnectOptions {
  /** This peer's keys. */
  readonly keys: KeyPair;
  /** Bound on TCP connect, TLS and authentication; default `HANDSHAKE_TIMEOUT_MS`. */
  readonly timeoutMs?: number;
  /** Aborts the attempt (the promise rejects with the signal's reason). */
  readonly signal?: AbortSignal;
  /** Tunables of the connection made. */
  readonly connection?: ConnectionOptions;
}

interface Attempt {
  readonly peer: PeerIdentity;
  where: string;
  phase: string;
  socket: Deno.Conn | null;
}

/**
 * Dials a peer and authenticates both ways. `address` may be a name with several addresses
 * (`localhost`, a dual-stack host): `Deno.connect` tries them with Happy Eyeballs (RFC 8305).
 * The server must present the certificate of `peer.pubkey` (pinned: nothing else verifies), and
 * must accept our key.
 *
 * Logged on one `auth` line: `connected to laptop at 192.168.1.5:9771`; `rejected by laptop at
 * …: <its reason>`; `refused laptop at …: <why it is not laptop>`; `cannot connect to laptop
 * at …: <network error>`.
 *
 * @param peer the peer to reach (its name and key)
 * @param address where to dial it
 * @param options see {@linkcode ConnectOptions}
 * @returns the authenticated connection
 * @throws {AuthError} when either side refuses the other (`code`, `byPeer` say how)
 * @throws {Error} when the peer cannot be reached (the cause is the network error)
 */
export async function connect(
  peer: PeerIdentity,
  address: HostPort,
  options: ConnectOptions,
): Promise<Connection> {
  const pinned = await pinnedTlsOptions(peer.pubkey.raw);
  const attempt: Attempt = { peer, where: formatHostPort(address), phase: "connect", socket: null };
  const controller = new AbortController();
  const abort = () => {
    controller.abort();
    closeQuietly(attempt.socket);
  };
  const timeoutMs = options.timeoutMs ?? HANDSHAKE_TIMEOUT_MS;
  const deadline = new Deadline(timeoutMs, abort);
  options.signal?.addEventListener("abort", abort);
  try {
    options.signal?.throwIfAborted();
    const connection = await dial(attempt, address, pinned, controller.signal, options);
    options.signal?.throwIfAborted();
    log.info(`connected to ${peer.name} at ${attempt.where}`);
    return connection;
  } catch (error) {
    closeQuietly(attempt.socket);
    if (options.signal?.aborted) {
      log.debug(`gave up connecting to ${peer.name} at ${attempt.where}: cancelled`);
      throw options.signal.reason;
    }
    throw failure(attempt, error, deadline.expired ? timeoutMs : null);
  } finally {
    deadline.clear();
    options.signal?.removeEventListener("abort", abort);
  }
}

async function dial(
  attempt: Attempt,
  address: HostPort,
  pinned: Deno.StartTlsOptions,
  signal: AbortSignal,
  options: ConnectOptions,
): Promise<Connection> {
  const tcp = await Deno.connect({ hostname: address.host, port: address.port, signal });
  attempt.socket = tcp;
  tcp.setNoDelay(true);
  tcp.setKeepAlive(true);
  const remoteAddress = hostPortOf(tcp.remoteAddr);
  attempt.where = formatHostPort(remoteAddress);
  attempt.phase = "TLS handshake";
  let tls: Deno.TlsConn;
  try {
    tls = await Deno.startTls(tcp, pinned);
    attempt.socket = tls;
    await tls.handshake();
  } catch (error) {
    throw clientTlsError(error, attempt.peer.name);
  }
  attempt.phase = "authentication";
  const traffic = newTraffic();
  const reader = new ByteReader(tls, traffic);
  await clientHandshake({ reader, sink: tls, traffic }, options.keys, attempt.peer);
  return new Connection({
    conn: tls,
    reader,
    traffic,
    peer: attempt.peer,
    remoteAddress,
    direction: "outgoing",
    ...(options.connection && { options: options.connection }),
  });
}

/** Logs a failed attempt (one line) and returns the error to throw. */
function failure(attempt: Attempt, error: unknown, timedOutMs: number | null): Error {
  const { peer, where, phase } = attempt;
  if (timedOutMs !== null) {
    const why = `timed out after ${timedOutMs} ms in the ${phase}`;
    log.info(`cannot connect to ${peer.name} at ${where}: ${why}`);
    // The cause is our own interruption of the socket: not worth printing.
    return new AuthError("timeout", `Cannot connect to ${peer.name} at ${where}: ${why}`);
  }
  if (error instanceof AuthError && error.code !== "closed") {
    const head = error.byPeer
      ? `rejected by ${peer.name} at ${where}`
      : `refused ${peer.name} at ${where}`;
    log.warn(`${head}: ${describeError(error)}`);
    const message = `${head[0]!.toUpperCase()}${head.slice(1)}: ${error.message}`;
    return new AuthError(error.code, message, { cause: error.cause, byPeer: error.byPeer });
  }
  const text = phase === "connect"
    ? describeError(error)
    : `${phase} failed: ${describeError(error)}`;
  log.info(`cannot connect to ${peer.name} at ${where}: ${text}`);
  return new Error(`Cannot connect to ${peer.name} at ${where}`, { cause: error });
}
