/**
 * Helpers for the tests of `src/net/` and `tests/net_*`. Not used by product code.
 *
 * @module
 */

import { decodePublicKeyPem, generateKeyPair, type KeyPair } from "../keys/mod.ts";
import type { PeerName } from "../types/mod.ts";
import { configure, type Level } from "../util/mod.ts";
import type { Connection, ConnectionOptions, PeerIdentity } from "./connection.ts";
import { listen, type PeerListener } from "./listen.ts";

/** A peer made for a test: keys and the identity others configure for it. */
export interface TestPeer {
  readonly keys: KeyPair;
  readonly identity: PeerIdentity;
}

/**
 * A new peer with fresh keys.
 *
 * @param name its name
 * @returns keys and identity
 */
export async function testPeer(name: string): Promise<TestPeer> {
  const keys = await generateKeyPair();
  return {
    keys,
    identity: { name: name as PeerName, pubkey: decodePublicKeyPem(keys.publicKey.pem) },
  };
}

/** Log lines captured from `util/log.ts`; dispose to restore the previous settings. */
export interface CapturedLogs extends Disposable {
  readonly lines: string[];
  /** Lines of one category: `INFO auth: accepted …`. */
  of(category: string): string[];
}

/**
 * Captures log lines (info and above unless `level` says otherwise).
 *
 * @param level the default level while capturing
 * @returns the lines, filled as they are written
 */
export function captureLogs(level: Level = "info"): CapturedLogs {
  const lines: string[] = [];
  const previous = configure({
    write: (line) => void lines.push(line),
    defaultLevel: level,
    levels: new Map(),
    format: "plain",
  });
  return {
    lines,
    of: (category) => lines.filter((l) => l.replace(/^[A-Z]+ /, "").startsWith(`${category}: `)),
    [Symbol.dispose]: () => void configure(previous),
  };
}

/**
 * Waits until `condition` holds, checking every few milliseconds.
 *
 * @param condition what to wait for
 * @param what described in the error
 * @param timeoutMs the deadline
 * @throws {Error} when the deadline passes first
 */
export async function waitFor(
  condition: () => boolean,
  what: string,
  timeoutMs = 10_000,
): Promise<void> {
  const end = performance.now() + timeoutMs;
  while (!condition()) {
    if (performance.now() > end) {
      throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** A listener on loopback whose connections are collected. */
export interface TestServer extends AsyncDisposable {
  readonly listener: PeerListener;
  readonly port: number;
  readonly connections: Connection[];
  /** Waits for the `n`-th connection (1-based) and returns it. */
  nth(n: number): Promise<Connection>;
}

/**
 * Starts a listener for `server` that lets `peers` in. Disposing it closes the listener and
 * every connection it accepted.
 *
 * @param server the listening peer
 * @param peers who may connect
 * @param options host (default `127.0.0.1`), port (default 0) and connection tunables
 * @returns the server
 */
export async function testServer(
  server: TestPeer,
  peers: readonly TestPeer[],
  options: {
    host?: string;
    port?: number;
    handshakeTimeoutMs?: number;
    connection?: ConnectionOptions;
  } = {},
): Promise<TestServer> {
  const connections: Connection[] = [];
  const listener = await listen({
    address: { host: options.host ?? "127.0.0.1", port: options.port ?? 0 },
    keys: server.keys,
    peers: peers.map((p) => p.identity),
    onConnection: (c) => void connections.push(c),
    ...(options.handshakeTimeoutMs !== undefined &&
      { handshakeTimeoutMs: options.handshakeTimeoutMs }),
    ...(options.connection && { connection: options.connection }),
  });
  return {
    listener,
    port: listener.port,
    connections,
    async nth(n) {
      await waitFor(() => connections.length >= n, `connection #${n}`);
      return connections[n - 1]!;
    },
    async [Symbol.asyncDispose]() {
      await listener.close();
      await Promise.all(connections.map((c) => c.close("test over")));
    },
  };
}

/**
 * Bytes of a given length and a recognisable pattern.
 *
 * @param length how many
 * @param seed varies the pattern
 * @returns the bytes
 */
export function pattern(length: number, seed = 0): Uint8Array<ArrayBuffer> {
  const bytes = new Uint8Array(length);
  for (let i = 0; i < length; i++) bytes[i] = (i * 31 + seed) & 0xff;
  return bytes;
}

/**
 * The error a promise rejects with.
 *
 * @param promise a promise that must reject
 * @returns what it rejected with
 * @throws {Error} when it resolves
 */
export async function rejection(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof Error) return error;
    throw new Error(`Rejected with a non-Error: ${String(error)}`);
  }
  throw new Error("Expected a rejection, but the promise resolved");
}

/** A TCP relay between a client and a server that can stop forwarding (a cut link). */
export interface TestProxy extends AsyncDisposable {
  readonly port: number;
  /** Stops forwarding both ways without closing anything: the link goes silent. */
  stall(): void;
}

/**
 * Starts a TCP relay on 127.0.0.1 to `targetPort`.
 *
 * @param targetPort where to forward
 * @returns the relay
 */
export function testProxy(targetPort: number): TestProxy {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const sockets = new Set<Deno.Conn>();
  const pumps: Promise<void>[] = [];
  const released = Promise.withResolvers<void>();
  let stalled = false;
  let closed = false;
  async function pump(from: Deno.Conn, to: Deno.Conn): Promise<void> {
    const buf = new Uint8Array(64 * 1024);
    try {
      while (!closed) {
        if (stalled) await released.promise;
        const n = await from.read(buf);
        if (n === null || closed || stalled) break;
        for (let done = 0; done < n;) done += await to.write(buf.subarray(done, n));
      }
    } catch {
      // a side went away
    }
    if (!stalled) { for (const s of [from, to]) closeSilently(s, sockets); }
  }
  const accepting = (async () => {
    for await (const down of listener) {
      const up = await Deno.connect({ hostname: "127.0.0.1", port: targetPort });
      sockets.add(down).add(up);
      pumps.push(pump(down, up), pump(up, down));
    }
  })();
  return {
    port: (listener.addr as Deno.NetAddr).port,
    stall: () => void (stalled = true),
    async [Symbol.asyncDispose]() {
      closed = true;
      listener.close();
      released.resolve();
      for (const s of [...sockets]) closeSilently(s, sockets);
      await accepting.catch(() => {});
      await Promise.all(pumps);
    },
  };
}

function closeSilently(conn: Deno.Conn, set: Set<Deno.Conn>): void {
  if (!set.delete(conn)) return;
  try {
    conn.close();
  } catch {
    // already closed
  }
}
