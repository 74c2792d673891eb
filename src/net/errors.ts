/**
 * Errors of the transport, and the one place where wire codes and TLS error texts are
 * translated into them (STYLE habit 8).
 *
 * @module
 */

/** Why a handshake failed, on either side. */
export type AuthErrorCode =
  /** The client's key is not in the server's `[[peer]]` list. */
  | "unknown-key"
  /** The client's signature does not verify. */
  | "bad-signature"
  /** The server's certificate or hello does not carry the key of the peer we dialled. */
  | "wrong-server-key"
  /** The server's certificate is not one we accept at all (e.g. a forged X.509 v1). */
  | "bad-certificate"
  /** The other side speaks another version of the handshake. */
  | "version"
  /** Bytes that are not the realize handshake (another protocol, or not TLS). */
  | "protocol"
  /** The other side closed the connection before the handshake finished. */
  | "closed"
  /** The handshake did not finish in time. */
  | "timeout"
  /** The server refused us for a reason we do not know (a later version's code). */
  | "rejected"
  /** Any other TLS failure. */
  | "tls";

/** A failed handshake: the connection is not authenticated and has been closed. */
export class AuthError extends Error {
  override name = "AuthError";
  /** Why, as a stable code. */
  readonly code: AuthErrorCode;
  /** True when the other side refused us (and said why); false when we refused it. */
  readonly byPeer: boolean;

  /**
   * @param code why, as a stable code
   * @param message a human sentence (std style: no final period)
   * @param options the cause, when another error is behind this one; `byPeer` (default false)
   */
  constructor(code: AuthErrorCode, message: string, options?: ErrorOptions & { byPeer?: boolean }) {
    super(message, options);
    this.code = code;
    this.byPeer = options?.byPeer ?? false;
  }
}

/** The peer broke the framing: an oversized length, an unknown frame kind. */
export class ProtocolError extends Error {
  override name = "ProtocolError";
}

/** Thrown by `Connection.send` once the connection is closed or closing. */
export class ConnectionClosedError extends Error {
  override name = "ConnectionClosedError";
}

/** Verdict codes the server sends at the end of the handshake (one byte). */
export const VERDICT = {
  accepted: 0,
  "unknown-key": 1,
  "bad-signature": 2,
  version: 3,
  protocol: 4,
} as const;

/**
 * The error code of a verdict byte received from a server.
 *
 * @param byte the verdict code (not 0)
 * @returns the matching code, `rejected` for a code this version does not know
 */
export function verdictCode(byte: number): AuthErrorCode {
  for (const [code, value] of Object.entries(VERDICT)) {
    if (value === byte && code !== "accepted") return code as AuthErrorCode;
  }
  return "rejected";
}

/**
 * The verdict byte for a server-side failure, or `null` when the client is not told
 * (the connection is simply closed: timeouts, TLS failures, the client hanging up).
 *
 * @param code why the server refuses the client
 * @returns the byte to send, or `null`
 */
export function verdictByte(code: AuthErrorCode): number | null {
  return code in VERDICT ? VERDICT[code as keyof typeof VERDICT] : null;
}

function tlsText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * Explains a failed TLS handshake as seen by the client (rustls/webpki messages).
 *
 * @param error what `Deno.startTls` or the first read threw
 * @param peer the name of the peer we dialled, for the message
 * @returns an {@linkcode AuthError} with `error` as its cause
 */
export function clientTlsError(error: unknown, peer: string): AuthError {
  const text = tlsText(error);
  if (/UnknownIssuer|BadSignature/.test(text)) {
    return new AuthError("wrong-server-key", `the server's certificate is not ${peer}'s key`, {
      cause: error,
    });
  }
  if (/UnsupportedCertVersion|BadEncoding|UnsupportedSignatureAlgorithm/.test(text)) {
    const message = "the server's certificate is not a realize X.509 v3 certificate";
    return new AuthError("bad-certificate", message, { cause: error });
  }
  if (error instanceof Deno.errors.UnexpectedEof || /end of file|reset/i.test(text)) {
    return new AuthError("closed", "the server closed the connection during the TLS handshake", {
      cause: error,
    });
  }
  if (/InvalidContentType|corrupt message/.test(text)) {
    return new AuthError("protocol", "the server does not speak TLS", { cause: error });
  }
  return new AuthError("tls", "TLS handshake failed", { cause: error });
}

/**
 * Explains a failed TLS handshake as seen by the server.
 *
 * @param error what the handshake threw
 * @returns an {@linkcode AuthError} with `error` as its cause
 */
export function serverTlsError(error: unknown): AuthError {
  const text = tlsText(error);
  if (error instanceof Deno.errors.UnexpectedEof || /end of file/i.test(text)) {
    return new AuthError("closed", "closed before completing the TLS handshake", { cause: error });
  }
  if (/InvalidContentType|corrupt message|InvalidMessage|HandshakeNotComplete/.test(text)) {
    return new AuthError("protocol", "not TLS", { cause: error });
  }
  if (/received fatal alert/.test(text)) {
    const message = "the client refused our certificate (it expects another key here)";
    return new AuthError("tls", message, { cause: error });
  }
  if (/reset|broken pipe/i.test(text)) {
    return new AuthError("closed", "reset during the TLS handshake", { cause: error });
  }
  return new AuthError("tls", "TLS handshake failed", { cause: error });
}
