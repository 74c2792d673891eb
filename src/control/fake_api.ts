/**
 * An in-memory twin of the daemon as the control endpoint sees it
 * ({@linkcode DaemonApi}), for tests of the endpoint, its client and the CLI: peers that
 * connect and disconnect, arenas with hierarchical marks, canned listings, and switches
 * to fail health checks or throw.
 *
 * @module
 */

import { isMark, paths } from "../types/mod.ts";
import {
  ApiError,
  type ArenaInfo,
  type DaemonApi,
  type Health,
  type HealthCheck,
  type MarkInfo,
  type Metric,
  type PeerInfo,
  type Status,
} from "./api.ts";

/** A peer of the fake. */
export interface FakePeer {
  readonly name: string;
  readonly address?: string | null;
  readonly connected?: boolean;
}

/** An arena of the fake. */
export interface FakeArena {
  readonly name: string;
  /** Mark of the arena when none is set (the configuration's); default `watch`. */
  readonly mark?: string;
  readonly files?: number;
  readonly pending?: number;
  readonly cacheBytes?: number;
  readonly cacheQuota?: number | null;
  /** What `list()` answers, by path (`""`: the arena root). */
  readonly listings?: Readonly<Record<string, unknown[]>>;
}

interface ArenaState {
  readonly info: FakeArena;
  arenaMark: string | null;
  readonly marks: Map<string, string>;
}

/** The fake daemon. Every call is recorded in {@linkcode FakeDaemonApi.calls}. */
export class FakeDaemonApi implements DaemonApi {
  /** Calls, e.g. `connect laptop`, `setMarks docs a,b own`. */
  readonly calls: string[] = [];
  /** Health checks by name; make one fail to get a 503. */
  readonly checks: Record<string, HealthCheck> = {
    db: { ok: true, detail: "arena databases open" },
    peers: { ok: true, detail: "listening" },
  };
  /** Metrics added to the built-in ones. */
  readonly extraMetrics: Metric[] = [];
  /** When set, the next call throws it (then it is cleared). */
  failNext: Error | null = null;
  readonly #peers = new Map<string, { address: string | null; connected: boolean }>();
  readonly #arenas = new Map<string, ArenaState>();
  readonly #started = Date.now();

  /** @param options the peers and arenas of the fake */
  constructor(options: { peers?: readonly FakePeer[]; arenas?: readonly FakeArena[] } = {}) {
    for (const p of options.peers ?? []) {
      this.#peers.set(p.name, { address: p.address ?? null, connected: p.connected ?? false });
    }
    for (const a of options.arenas ?? []) {
      this.#arenas.set(a.name, { info: a, arenaMark: null, marks: new Map() });
    }
  }

  #call(text: string): void {
    this.calls.push(text);
    const error = this.failNext;
    if (error !== null) {
      this.failNext = null;
      throw error;
    }
  }

  #arena(name: string): ArenaState {
    const a = this.#arenas.get(name);
    if (a === undefined) throw new ApiError(404, `Unknown arena "${name}"`);
    return a;
  }

  #peer(name: string): { address: string | null; connected: boolean } {
    const p = this.#peers.get(name);
    if (p === undefined) throw new ApiError(404, `Unknown peer "${name}"`);
    return p;
  }

  /** @returns ok when every check is */
  health(): Health {
    this.#call("health");
    return { ok: Object.values(this.checks).every((c) => c.ok), checks: { ...this.checks } };
  }

  /** @returns the fake's state */
  status(): Status {
    this.#call("status");
    return {
      version: "0.0.0-fake",
      pid: Deno.pid,
      uptimeSeconds: Math.floor((Date.now() - this.#started) / 1000),
      fuse: null,
      listening: "127.0.0.1:9771",
      arenas: [...this.#arenas.values()].map((a) => this.#arenaInfo(a)),
      peers: this.#peerInfos(),
    };
  }

  #arenaInfo(a: ArenaState): ArenaInfo {
    return {
      name: a.info.name,
      state: "watching",
      files: a.info.files ?? 0,
      pending: a.info.pending ?? 0,
      cacheBytes: a.info.cacheBytes ?? 0,
      cacheQuota: a.info.cacheQuota ?? null,
      mark: a.arenaMark ?? a.info.mark ?? "watch",
      folder: null,
    };
  }

  #peerInfos(): PeerInfo[] {
    return [...this.#peers].map(([name, p]) => ({
      name,
      address: p.address,
      connected: p.connected,
      direction: p.connected ? "outgoing" : null,
      arenas: [...this.#arenas.keys()],
      bytesSent: 0,
      bytesReceived: 0,
    }));
  }

  /** @returns every peer */
  peers(): PeerInfo[] {
    this.#call("peers");
    return this.#peerInfos();
  }

  /** @param peer a configured peer; connected at once */
  connect(peer: string): void {
    this.#call(`connect ${peer}`);
    this.#peer(peer).connected = true;
  }

  /** @param peer a configured peer */
  disconnect(peer: string): Promise<void> {
    try {
      this.#call(`disconnect ${peer}`);
      this.#peer(peer).connected = false;
      return Promise.resolve();
    } catch (error) {
      return Promise.reject(error);
    }
  }

  #checkPath(arena: string, path: string): void {
    const why = paths.problem(path);
    if (why !== null) throw new ApiError(400, `Invalid path "${path}" in "${arena}": ${why}`);
  }

  #markOf(a: ArenaState, path: string): MarkInfo {
    const arenaMark = a.arenaMark ?? a.info.mark ?? "watch";
    if (path === "") return { path, mark: arenaMark, explicit: a.arenaMark !== null };
    const own = a.marks.get(path);
    if (own !== undefined) return { path, mark: own, explicit: true };
    const parts = path.split("/");
    for (let n = parts.length - 1; n > 0; n--) {
      const up = a.marks.get(parts.slice(0, n).join("/"));
      if (up !== undefined) return { path, mark: up, explicit: false };
    }
    return { path, mark: arenaMark, explicit: false };
  }

  /** @returns the marks of `paths` (none: the arena's) */
  getMarks(arena: string, paths: readonly string[]): MarkInfo[] {
    this.#call(`getMarks ${arena} ${paths.join(",")}`);
    const a = this.#arena(arena);
    for (const p of paths) this.#checkPath(arena, p);
    return (paths.length === 0 ? [""] : paths).map((p) => this.#markOf(a, p));
  }

  /** @returns how many marks were set */
  setMarks(arena: string, paths: readonly string[], mark: string): number {
    this.#call(`setMarks ${arena} ${paths.join(",")} ${mark}`);
    const a = this.#arena(arena);
    if (!isMark(mark)) throw new ApiError(400, `Invalid mark "${mark}"`);
    for (const p of paths) this.#checkPath(arena, p);
    if (paths.length === 0) a.arenaMark = mark;
    for (const p of paths) {
      if (p === "") a.arenaMark = mark;
      else a.marks.set(p, mark);
    }
    return Math.max(paths.length, 1);
  }

  /** @returns how many explicit marks were cleared */
  clearMarks(arena: string, paths: readonly string[]): number {
    this.#call(`clearMarks ${arena} ${paths.join(",")}`);
    const a = this.#arena(arena);
    for (const p of paths) this.#checkPath(arena, p);
    let cleared = 0;
    for (const p of paths.length === 0 ? [""] : paths) {
      if (p === "" ? a.arenaMark !== null : a.marks.has(p)) cleared++;
      if (p === "") a.arenaMark = null;
      else a.marks.delete(p);
    }
    return cleared;
  }

  /** @returns the canned listing of `path` */
  list(arena: string, path: string): unknown[] {
    this.#call(`list ${arena} ${path}`);
    const a = this.#arena(arena);
    this.#checkPath(arena, path);
    const entries = a.info.listings?.[path];
    if (entries === undefined) {
      throw new ApiError(404, `Cannot list "${arena}/${path}": no such file or directory`);
    }
    return entries;
  }

  /** @returns a gauge per peer and per arena, then {@linkcode FakeDaemonApi.extraMetrics} */
  metrics(): Metric[] {
    this.#call("metrics");
    return [
      {
        name: "realize_peer_connected",
        help: "Whether a peer is connected (1) or not (0).",
        type: "gauge",
        samples: [...this.#peers].map(([peer, p]) => ({
          labels: { peer },
          value: p.connected ? 1 : 0,
        })),
      },
      {
        name: "realize_arena_files",
        help: "Files known in an arena.",
        type: "gauge",
        samples: [...this.#arenas.values()].map((a) => ({
          labels: { arena: a.info.name },
          value: a.info.files ?? 0,
        })),
      },
      ...this.extraMetrics,
    ];
  }
}
