/**
 * The authenticated transport between peers: native TLS 1.3 with the server's certificate
 * pinned to its configured key, the client's key proven by a signature inside the tunnel, then
 * length-prefixed frames with back-pressure and a heartbeat (docs/network.md).
 *
 * ```ts ignore
 * const connections = new Connections(keys.publicKey.raw);
 * const listener = await listen({
 *   address: config.network.address!,
 *   keys,
 *   peers: config.peers,
 *   onConnection: (c) => connections.add(c),
 * });
 * const dialers = dialPeers(config.peers, { keys, connections });
 * connections.subscribe((event) => { ... event.connection.frames() ... });
 * ```
 *
 * @module
 */

export { hostPortOf, keyText } from "./address.ts";
export {
  ANCHOR_CACHE_MAX,
  CERT_CACHE_MAX,
  certificateFor,
  keyHex,
  pinnedTlsOptions,
  pinningAnchor,
  type TlsIdentity,
  tlsServerName,
} from "./certs.ts";
export { connect, type ConnectOptions } from "./connect.ts";
export {
  CLOSE_FLUSH_TIMEOUT_MS,
  Connection,
  type ConnectionEnd,
  type ConnectionOptions,
  type Direction,
  HEARTBEAT_INTERVAL_MS,
  HEARTBEAT_TIMEOUT_MS,
  type PeerIdentity,
  RECEIVE_QUEUE_BYTES_MAX,
} from "./connection.ts";
export { compareKeys, Connections, type PeerEvent } from "./connections.ts";
export {
  type Backoff,
  BACKOFF_INITIAL_MS,
  BACKOFF_MAX_MS,
  backoffDelayMs,
  CONNECTION_STABLE_MS,
  type DialerOptions,
  dialPeers,
  type DialTarget,
  PeerDialer,
} from "./dialer.ts";
export { AuthError, type AuthErrorCode, ConnectionClosedError, ProtocolError } from "./errors.ts";
export { FRAME_BYTES_MAX, FRAME_HEADER_BYTES } from "./framing.ts";
export { HANDSHAKE_TIMEOUT_MS, HANDSHAKE_VERSION } from "./handshake.ts";
export {
  Household,
  type HouseholdArena,
  type HouseholdOptions,
  type PeerState,
} from "./household.ts";
export {
  type ErrorCode,
  type Hello,
  type Item,
  type Message,
  PeerError,
  PROTOCOL_VERSION,
  type Reply,
  type Request,
  type WireNotification,
} from "./messages.ts";
export { type Applied, type LinkedArena, PeerLink, type ReadOptions } from "./peer_link.ts";
export {
  type FrameChannel,
  HANDLERS_MAX,
  type RequestContext,
  REQUESTS_MAX,
  Session,
} from "./session.ts";
export { BATCH_WINDOW, READ_CHUNK_BYTES, type ServedArena, Store } from "./store.ts";
export {
  ACCEPT_RETRY_MS,
  HANDSHAKES_MAX,
  listen,
  type ListenOptions,
  PeerListener,
} from "./listen.ts";
