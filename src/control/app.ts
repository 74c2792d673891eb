/**
 * The control endpoint as a Hono app (DESIGN §4.5): thin JSON routes over a
 * {@linkcode DaemonApi} and one error table (the `onError` below). No socket here:
 * `serve.ts` puts the app on the UNIX socket and the optional TCP listener, and tests
 * call `app.request()` (STYLE habit 10).
 *
 * Arena names may contain `/` (`photos/2024`): `/arenas/:arena/…` accepts the name
 * percent-encoded (`photos%2F2024`, what the client sends) or with plain slashes
 * (`/arenas/photos/2024/marks`); the fixed last segment (`marks`, `ls`) ends the name.
 *
 * @module
 */

import { createHash, timingSafeEqual } from "node:crypto";
import { type Context, Hono, type MiddlewareHandler } from "hono";
import { bodyLimit } from "hono/body-limit";
import { HTTPException } from "hono/http-exception";
import { isMark } from "../types/mod.ts";
import { describeError, logger } from "../util/mod.ts";
import { ApiError, type DaemonApi, type Health, type MarkInfo, type PeerInfo } from "./api.ts";
import { PROMETHEUS_CONTENT_TYPE, renderPrometheus } from "./prometheus.ts";

/** What the routes see: the daemon, as `c.get("api")`. */
export type ControlEnv = { Variables: { api: DaemonApi } };

/** Options of {@linkcode createApp}. */
export interface CreateAppOptions {
  /**
   * The app is for the TCP listener: without `token` it serves only `/health` and
   * `/metrics` (403 otherwise); with one, every request needs `Authorization: Bearer`.
   */
  readonly tcp?: boolean;
  /** The bearer token of the TCP listener, or `null`/absent for none. Not empty. */
  readonly token?: string | null;
}

/** `GET /health`: 200 when ok, else 503 naming the failing checks. */
export interface HealthResponse {
  readonly ok: boolean;
  /** Names of the failing checks (only when not ok). */
  readonly failing?: readonly string[];
  readonly checks: Health["checks"];
}

/** `GET /peers`. */
export interface PeersResponse {
  readonly peers: readonly PeerInfo[];
}

/** `POST /peers/:name/connect` (202) and `…/disconnect` (200). */
export interface PeerActionResponse {
  readonly ok: true;
  readonly peer: string;
}

/** `GET /arenas/:arena/marks`. */
export interface MarksResponse {
  readonly arena: string;
  readonly marks: readonly MarkInfo[];
}

/** `PUT /arenas/:arena/marks`: how many were set. */
export interface SetMarksResponse {
  readonly arena: string;
  readonly mark: string;
  readonly set: number;
}

/** `DELETE /arenas/:arena/marks`: how many explicit marks were cleared. */
export interface ClearMarksResponse {
  readonly arena: string;
  readonly cleared: number;
}

/** `GET /arenas/:arena/ls`: the entries `realize ls --json` prints. */
export interface ListResponse {
  readonly arena: string;
  readonly path: string;
  readonly entries: readonly unknown[];
}

/** Every error answer: `{ "error": "Unknown arena \"x\"" }`. */
export interface ErrorResponse {
  readonly error: string;
}

/** Largest request body accepted (`PUT …/marks`), in bytes. */
export const BODY_BYTES_MAX = 64 * 1024;
/** Most `path` parameters in one request; clients send more in several requests. */
export const PATHS_PER_REQUEST_MAX = 1000;
/** What the TCP listener serves without a token. */
const TCP_PUBLIC_PATHS: ReadonlySet<string> = new Set(["/health", "/metrics"]);

const log = logger("control");

/**
 * The control endpoint.
 *
 * @param api the daemon
 * @param options `tcp` and `token` for the TCP listener's app
 * @returns the Hono app; `app.fetch` is the request handler
 * @throws {TypeError} for an empty token
 */
export function createApp(api: DaemonApi, options: CreateAppOptions = {}): Hono<ControlEnv> {
  const token = options.token ?? null;
  if (token === "") throw new TypeError("Invalid control token: empty");
  const app = new Hono<ControlEnv>();
  app.onError(translateError);
  app.notFound((c) =>
    c.json({ error: `Not found: ${c.req.method} ${c.req.path}` } satisfies ErrorResponse, 404)
  );
  if (options.tcp === true) app.use("*", tcpGuard(token));
  app.use("*", async (c, next) => {
    c.set("api", api);
    await next();
  });
  daemonRoutes(app);
  arenaRoutes(app);
  app.get("/metrics", (c) =>
    c.body(renderPrometheus(c.get("api").metrics()), 200, {
      "content-type": PROMETHEUS_CONTENT_TYPE,
    }));
  return app;
}

/** The one error table of the endpoint: domain and request errors → HTTP status. */
function translateError(error: Error, c: Context<ControlEnv>): Response {
  if (error instanceof ApiError) {
    return c.json({ error: error.message } satisfies ErrorResponse, error.status);
  }
  if (error instanceof HTTPException) {
    const headers: Record<string, string> = error.status === 401
      ? { "www-authenticate": 'Bearer realm="realize"' }
      : {};
    return c.json({ error: error.message } satisfies ErrorResponse, error.status, headers);
  }
  log.error(`${c.req.method} ${c.req.path} failed`, error);
  return c.json({ error: describeError(error) } satisfies ErrorResponse, 500);
}

function sha256(text: string): Uint8Array {
  return createHash("sha256").update(text).digest();
}

/** Restricts the TCP listener (see {@linkcode CreateAppOptions.tcp}). */
function tcpGuard(token: string | null): MiddlewareHandler<ControlEnv> {
  const expected = token === null ? null : sha256(token);
  return async (c, next) => {
    if (expected === null) {
      if (!TCP_PUBLIC_PATHS.has(c.req.path)) {
        throw new HTTPException(403, {
          message: `Forbidden: ${c.req.path} is served over TCP only with a token ` +
            `(control.token_file); without one only /health and /metrics`,
        });
      }
    } else {
      const m = /^Bearer +([^ ]+) *$/i.exec(c.req.header("authorization") ?? "");
      // Digests have one length, so the comparison takes the same time for any guess.
      const same = timingSafeEqual(sha256(m?.[1] ?? ""), expected);
      if (m === null || !same) {
        throw new HTTPException(401, { message: "Unauthorized: missing or wrong bearer token" });
      }
    }
    await next();
  };
}

function daemonRoutes(app: Hono<ControlEnv>): void {
  app.get("/health", (c) => {
    const health = c.get("api").health();
    if (health.ok) return c.json({ ok: true, checks: health.checks } satisfies HealthResponse);
    const failing = Object.entries(health.checks).filter(([, v]) => !v.ok).map(([k]) => k);
    return c.json({ ok: false, failing, checks: health.checks } satisfies HealthResponse, 503);
  });
  app.get("/status", (c) => c.json(c.get("api").status()));
  app.get("/peers", (c) => c.json({ peers: c.get("api").peers() } satisfies PeersResponse));
  app.post("/peers/:name/connect", (c) => {
    const peer = c.req.param("name");
    c.get("api").connect(peer);
    return c.json({ ok: true, peer } satisfies PeerActionResponse, 202);
  });
  app.post("/peers/:name/disconnect", async (c) => {
    const peer = c.req.param("name");
    await c.get("api").disconnect(peer);
    return c.json({ ok: true, peer } satisfies PeerActionResponse);
  });
}

function arenaRoutes(app: Hono<ControlEnv>): void {
  const marks = "/arenas/:arena{.+}/marks";
  app.get(marks, (c) => {
    const arena = c.req.param("arena");
    const found = c.get("api").getMarks(arena, pathsQuery(c));
    return c.json({ arena, marks: found } satisfies MarksResponse);
  });
  app.put(marks, bodyLimit({ maxSize: BODY_BYTES_MAX, onError: tooLarge }), async (c) => {
    const arena = c.req.param("arena");
    const paths = pathsQuery(c);
    const mark = await markBody(c);
    const set = c.get("api").setMarks(arena, paths, mark);
    return c.json({ arena, mark, set } satisfies SetMarksResponse);
  });
  app.delete(marks, (c) => {
    const arena = c.req.param("arena");
    const cleared = c.get("api").clearMarks(arena, pathsQuery(c));
    return c.json({ arena, cleared } satisfies ClearMarksResponse);
  });
  app.get("/arenas/:arena{.+}/ls", (c) => {
    const arena = c.req.param("arena");
    const path = pathQuery(c);
    return c.json({ arena, path, entries: c.get("api").list(arena, path) } satisfies ListResponse);
  });
}

function tooLarge(): never {
  throw new HTTPException(413, { message: `Request body larger than ${BODY_BYTES_MAX} bytes` });
}

function badRequest(message: string, cause?: unknown): HTTPException {
  return new HTTPException(400, { message, cause });
}

/** The query of a route that takes only `path`: rejects any other parameter. */
function onlyPathParameter(c: Context<ControlEnv>): string[] {
  const queries = c.req.queries();
  for (const key of Object.keys(queries)) {
    if (key !== "path") throw badRequest(`Unknown query parameter "${key}" (expected path)`);
  }
  return queries["path"] ?? [];
}

/** `?path=…&path=…`: none means the arena itself. */
function pathsQuery(c: Context<ControlEnv>): string[] {
  const paths = onlyPathParameter(c);
  if (paths.length > PATHS_PER_REQUEST_MAX) {
    throw badRequest(`Too many paths: ${paths.length} (at most ${PATHS_PER_REQUEST_MAX})`);
  }
  return paths;
}

/** `?path=…` at most once; absent: the arena root (`""`). */
function pathQuery(c: Context<ControlEnv>): string {
  const paths = onlyPathParameter(c);
  if (paths.length > 1) throw badRequest(`Too many paths: ${paths.length} (at most 1)`);
  return paths[0] ?? "";
}

/** The body of `PUT …/marks`: `{ "mark": "watch" | "keep" | "own" }`. */
async function markBody(c: Context<ControlEnv>): Promise<string> {
  let body: unknown;
  try {
    body = JSON.parse(await c.req.text());
  } catch (cause) {
    throw badRequest(`Invalid JSON body: ${describeError(cause)}`, cause);
  }
  const expected = 'expected {"mark": "watch" | "keep" | "own"}';
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    throw badRequest(`Invalid body: ${expected}`);
  }
  for (const key of Object.keys(body)) {
    if (key !== "mark") throw badRequest(`Invalid body: unknown key "${key}" (${expected})`);
  }
  const mark: unknown = (body as { mark?: unknown }).mark;
  if (typeof mark !== "string") throw badRequest(`Invalid body: ${expected}`);
  if (!isMark(mark)) throw badRequest(`Invalid mark "${mark}": expected watch, keep or own`);
  return mark;
}
