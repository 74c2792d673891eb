/**
 * Puts the control endpoint on its listeners: the UNIX socket (mode 0600, the only
 * access control it needs) and the optional TCP address. The only module that calls
 * `Deno.serve` (STYLE habit 10).
 *
 * @module
 */

import { dirname } from "node:path";
import { formatHostPort, type HostPort } from "../config/mod.ts";
import { logger } from "../util/mod.ts";
import type { DaemonApi } from "./api.ts";
import { createApp } from "./app.ts";

const log = logger("control");

/** Options of {@linkcode serveControl}. */
export interface ServeControlOptions {
  /** Path of the UNIX socket (`config.control.socket`). */
  readonly socket: string;
  /** Optional TCP listener (`config.control.http`); port 0 picks a free port. */
  readonly http?: HostPort | null;
  /** Bearer token of the TCP listener (see {@linkcode readControlToken}), or none. */
  readonly token?: string | null;
  /** The daemon. */
  readonly api: DaemonApi;
}

/** A running control endpoint. */
export interface ControlServer extends AsyncDisposable {
  /** The UNIX socket's path. */
  readonly socket: string;
  /** The TCP address actually bound (its port resolved), or `null`. */
  readonly tcp: HostPort | null;
  /** Stops both listeners and removes the socket file. Idempotent. */
  close(): Promise<void>;
}

/**
 * Serves the control endpoint on the UNIX socket and, when `http` is given, on TCP.
 *
 * The socket's directory is created (mode 0700) when missing. A socket file left by a
 * process that died is replaced; one that a running daemon answers on is not.
 *
 * @param options socket, TCP address, token and the daemon
 * @returns the server; `close()` it (or `await using`)
 * @throws {Error} `Cannot listen on "<path>": control socket in use by a running realize`,
 * or when the socket or the TCP address cannot be bound (with the cause)
 */
export async function serveControl(options: ServeControlOptions): Promise<ControlServer> {
  const { socket, api } = options;
  await prepareSocketPath(socket);
  const unixServer = listenUnix(socket, api);
  let ino: number | null;
  let tcpServer: Deno.HttpServer<Deno.NetAddr> | null = null;
  try {
    await Deno.chmod(socket, 0o600);
    ino = (await Deno.lstat(socket)).ino;
    if (options.http !== undefined && options.http !== null) {
      tcpServer = listenTcp(options.http, api, options.token ?? null);
    }
  } catch (error) {
    await unixServer.shutdown();
    throw error;
  }
  const tcp = tcpServer === null ? null : { host: options.http!.host, port: tcpServer.addr.port };
  log.info(`listening on ${socket}`);
  if (tcp !== null) {
    const what = (options.token ?? null) === null ? "/health and /metrics only" : "token required";
    log.info(`listening on http://${formatHostPort(tcp)} (${what})`);
  }
  let closing: Promise<void> | null = null;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      await Promise.all([unixServer.shutdown(), tcpServer?.shutdown()]);
      await removeOurSocket(socket, ino);
      log.info(`closed ${socket}${tcp === null ? "" : ` and ${formatHostPort(tcp)}`}`);
    })();
    return closing;
  };
  return { socket, tcp, close, [Symbol.asyncDispose]: close };
}

/**
 * Reads the TCP listener's bearer token (`config.control.tokenFile`): the file's first
 * line, without surrounding white space.
 *
 * @param file the token file
 * @returns the token
 * @throws {Error} when the file cannot be read or holds no token
 */
export async function readControlToken(file: string): Promise<string> {
  let text: string;
  try {
    text = await Deno.readTextFile(file);
  } catch (cause) {
    throw new Error(`Cannot read control token file "${file}"`, { cause });
  }
  const token = text.split("\n")[0]?.trim() ?? "";
  if (token === "" || /\s/.test(token)) {
    throw new Error(`Invalid control token file "${file}": expected one token on the first line`);
  }
  return token;
}

/** Creates the socket's directory, refuses a live socket, removes a stale one. */
async function prepareSocketPath(socket: string): Promise<void> {
  const dir = dirname(socket);
  try {
    await Deno.lstat(dir);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
    await Deno.mkdir(dir, { recursive: true, mode: 0o700 });
  }
  let info: Deno.FileInfo;
  try {
    info = await Deno.lstat(socket);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return;
    throw new Error(`Cannot listen on "${socket}"`, { cause: error });
  }
  if (info.isSocket !== true) {
    throw new Error(`Cannot listen on "${socket}": the file exists and is not a socket`);
  }
  try {
    const conn = await Deno.connect({ transport: "unix", path: socket });
    conn.close();
  } catch (error) {
    if (!(error instanceof Deno.errors.ConnectionRefused)) {
      throw new Error(`Cannot listen on "${socket}"`, { cause: error });
    }
    log.info(`removing stale control socket ${socket}`);
    await Deno.remove(socket);
    return;
  }
  throw new Error(`Cannot listen on "${socket}": control socket in use by a running realize`);
}

function listenUnix(socket: string, api: DaemonApi): Deno.HttpServer<Deno.UnixAddr> {
  const app = createApp(api);
  try {
    return Deno.serve({ path: socket, onListen: () => {}, onError }, (req) => app.fetch(req));
  } catch (cause) {
    throw new Error(`Cannot listen on "${socket}"`, { cause });
  }
}

function listenTcp(
  address: HostPort,
  api: DaemonApi,
  token: string | null,
): Deno.HttpServer<Deno.NetAddr> {
  const app = createApp(api, { tcp: true, token });
  try {
    return Deno.serve(
      { hostname: address.host, port: address.port, onListen: () => {}, onError },
      (req) => app.fetch(req),
    );
  } catch (cause) {
    throw new Error(`Cannot listen on ${formatHostPort(address)}`, { cause });
  }
}

/** Only reached if the app itself fails (its `onError` answers everything else). */
function onError(error: unknown): Response {
  log.error("request failed", error);
  return Response.json({ error: "Internal error" }, { status: 500 });
}

/** Removes the socket file if it is still ours (Deno usually removed it already). */
async function removeOurSocket(socket: string, ino: number | null): Promise<void> {
  try {
    const info = await Deno.lstat(socket);
    if (info.isSocket === true && info.ino === ino) await Deno.remove(socket);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) log.warn(`cannot remove ${socket}`, error);
  }
}
