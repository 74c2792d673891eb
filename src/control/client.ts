/**
 * A client of the control endpoint over its UNIX socket (what `realize status`, `peers`,
 * `peer`, `mark` and `ls` use): `fetch` with a Deno HTTP client whose transport is the
 * socket.
 *
 * ```ts ignore
 * using client = new ControlClient("/run/realize/control.sock");
 * const { peers } = await client.peers();
 * ```
 *
 * @module
 */

import type { MarkInfo, Status } from "./api.ts";
import type {
  ClearMarksResponse,
  HealthResponse,
  ListResponse,
  MarksResponse,
  PeerActionResponse,
  PeersResponse,
  SetMarksResponse,
} from "./app.ts";

/** Default time a request may take before it fails. */
export const CONTROL_TIMEOUT_MS_DEFAULT = 30_000;
/** Paths sent per request; more are split over several requests. */
export const CLIENT_PATHS_PER_REQUEST = 200;

/** Nothing answers on the control socket: realize is not running (CLI exit code 10). */
export class DaemonNotRunningError extends Error {
  override name = "DaemonNotRunningError";
  /**
   * @param socket the control socket's path
   * @param why `no control socket at <path>` or `nothing listens on <path>`
   * @param options the original error as `cause`
   */
  constructor(readonly socket: string, why: string, options?: ErrorOptions) {
    super(`realize is not running (${why})`, options);
  }
}

/** The daemon answered with an error (its status and `{ "error": … }` message). */
export class ControlResponseError extends Error {
  override name = "ControlResponseError";
  /**
   * @param status the HTTP status
   * @param message the daemon's message
   */
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

/** Options of one request. */
export interface RequestOptions {
  /** Repeated `path` query parameters. */
  readonly paths?: readonly string[];
  /** A JSON body. */
  readonly body?: unknown;
  /** Statuses other than 2xx whose JSON body is an answer, not an error (`/health` 503). */
  readonly accept?: readonly number[];
  /** Aborts the request. */
  readonly signal?: AbortSignal;
}

/** A client of one control socket. Close it (or `using`) to release its connections. */
export class ControlClient implements Disposable {
  /** The socket's path. */
  readonly socket: string;
  readonly #http: Deno.HttpClient;
  readonly #timeoutMs: number;

  /**
   * @param socket path of the control socket
   * @param options `timeoutMs` per request (default {@linkcode CONTROL_TIMEOUT_MS_DEFAULT})
   */
  constructor(socket: string, options: { timeoutMs?: number } = {}) {
    this.socket = socket;
    this.#timeoutMs = options.timeoutMs ?? CONTROL_TIMEOUT_MS_DEFAULT;
    this.#http = Deno.createHttpClient({ proxy: { transport: "unix", path: socket } });
  }

  /**
   * Sends one request and decodes the JSON answer.
   *
   * @param method HTTP method
   * @param path e.g. `/status` (already encoded)
   * @param options query paths, body, accepted error statuses, signal
   * @returns the decoded JSON body
   * @throws {DaemonNotRunningError} when nothing listens on the socket
   * @throws {ControlResponseError} for an error answer
   * @throws {Error} on a timeout or an unreadable answer
   */
  async request<T>(method: string, path: string, options: RequestOptions = {}): Promise<T> {
    const res = await this.#send(method, path, options);
    const text = await res.text();
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch (cause) {
      throw new Error(
        `Cannot read the answer to ${method} ${path} from "${this.socket}": not JSON ` +
          `(status ${res.status})`,
        { cause },
      );
    }
    if (res.ok || (options.accept ?? []).includes(res.status)) return body as T;
    const error = (body as { error?: unknown } | null)?.error;
    throw new ControlResponseError(
      res.status,
      typeof error === "string" ? error : `${method} ${path} failed with status ${res.status}`,
    );
  }

  async #send(method: string, path: string, options: RequestOptions): Promise<Response> {
    const query = new URLSearchParams();
    for (const p of options.paths ?? []) query.append("path", p);
    const url = `http://realize${path}${query.size === 0 ? "" : `?${query}`}`;
    const timeout = AbortSignal.timeout(this.#timeoutMs);
    const signal = options.signal === undefined
      ? timeout
      : AbortSignal.any([timeout, options.signal]);
    const init: RequestInit & { client: Deno.HttpClient } = { method, client: this.#http, signal };
    if (options.body !== undefined) {
      init.body = JSON.stringify(options.body);
      init.headers = { "content-type": "application/json" };
    }
    try {
      return await fetch(url, init);
    } catch (error) {
      if (timeout.aborted) {
        throw new Error(
          `Control request ${method} ${path} timed out after ${this.#timeoutMs} ms`,
          { cause: error },
        );
      }
      if (signal.aborted) throw error;
      throw await this.#explain(error);
    }
  }

  /** Why a request could not be sent: no socket, a stale one, or something else. */
  async #explain(error: unknown): Promise<Error> {
    const socket = this.socket;
    try {
      await Deno.lstat(socket);
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) {
        return new DaemonNotRunningError(socket, `no control socket at ${socket}`, { cause: e });
      }
    }
    try {
      (await Deno.connect({ transport: "unix", path: socket })).close();
    } catch (e) {
      if (e instanceof Deno.errors.ConnectionRefused || e instanceof Deno.errors.NotFound) {
        return new DaemonNotRunningError(socket, `nothing listens on ${socket}`, { cause: e });
      }
      return new Error(`Cannot connect to the control socket "${socket}"`, { cause: e });
    }
    return new Error(`Cannot send a control request to "${socket}"`, { cause: error });
  }

  /** @returns `/health`, whether ok (200) or not (503) */
  health(): Promise<HealthResponse> {
    return this.request("GET", "/health", { accept: [503] });
  }

  /** @returns `/status` */
  status(): Promise<Status> {
    return this.request("GET", "/status");
  }

  /** @returns `/peers` */
  peers(): Promise<PeersResponse> {
    return this.request("GET", "/peers");
  }

  /**
   * @param peer a configured peer
   * @returns the daemon's answer
   */
  connect(peer: string): Promise<PeerActionResponse> {
    return this.request("POST", `/peers/${encodeURIComponent(peer)}/connect`);
  }

  /**
   * @param peer a configured peer
   * @returns the daemon's answer
   */
  disconnect(peer: string): Promise<PeerActionResponse> {
    return this.request("POST", `/peers/${encodeURIComponent(peer)}/disconnect`);
  }

  /**
   * @param arena the arena (may contain `/`)
   * @param paths paths in the arena; none: the arena's own mark
   * @returns the marks, in the order of `paths`
   */
  async getMarks(arena: string, paths: readonly string[]): Promise<MarksResponse> {
    const marks: MarkInfo[] = [];
    for (const chunk of chunks(paths)) {
      const r = await this.request<MarksResponse>("GET", marksPath(arena), { paths: chunk });
      marks.push(...r.marks);
    }
    return { arena, marks };
  }

  /**
   * @param arena the arena
   * @param paths paths in the arena; none: the arena itself
   * @param mark `watch`, `keep` or `own`
   * @returns how many marks were set
   */
  async setMarks(arena: string, paths: readonly string[], mark: string): Promise<SetMarksResponse> {
    let set = 0;
    for (const chunk of chunks(paths)) {
      const body = { mark };
      const r = await this.request<SetMarksResponse>("PUT", marksPath(arena), {
        paths: chunk,
        body,
      });
      set += r.set;
    }
    return { arena, mark, set };
  }

  /**
   * @param arena the arena
   * @param paths paths in the arena; none: the arena itself
   * @returns how many explicit marks were cleared
   */
  async clearMarks(arena: string, paths: readonly string[]): Promise<ClearMarksResponse> {
    let cleared = 0;
    for (const chunk of chunks(paths)) {
      const r = await this.request<ClearMarksResponse>("DELETE", marksPath(arena), {
        paths: chunk,
      });
      cleared += r.cleared;
    }
    return { arena, cleared };
  }

  /**
   * @param arena the arena
   * @param path a directory or file in it (`""`: its root)
   * @returns the entries, as `realize ls --json` prints them
   */
  list(arena: string, path: string): Promise<ListResponse> {
    const at = `/arenas/${encodeURIComponent(arena)}/ls`;
    return this.request("GET", at, { paths: path === "" ? [] : [path] });
  }

  /** @returns the Prometheus text of `/metrics` */
  async metrics(): Promise<string> {
    const res = await this.#send("GET", "/metrics", {});
    const text = await res.text();
    if (!res.ok) throw new ControlResponseError(res.status, `GET /metrics failed: ${text}`);
    return text;
  }

  /** Releases the client's connections. */
  close(): void {
    this.#http.close();
  }

  /** Same as {@linkcode ControlClient.close}. */
  [Symbol.dispose](): void {
    this.close();
  }
}

function marksPath(arena: string): string {
  return `/arenas/${encodeURIComponent(arena)}/marks`;
}

/** `paths` in chunks; no paths is one empty chunk (the arena itself). */
function chunks(paths: readonly string[]): (readonly string[])[] {
  if (paths.length === 0) return [[]];
  const out: (readonly string[])[] = [];
  for (let i = 0; i < paths.length; i += CLIENT_PATHS_PER_REQUEST) {
    out.push(paths.slice(i, i + CLIENT_PATHS_PER_REQUEST));
  }
  return out;
}
