/**
 * The daemon as the control endpoint sees it ({@linkcode DaemonApi}).
 *
 * @module
 */

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
} from "../control/mod.ts";
import { overlayMounted } from "../overlay/mod.ts";
import { indexStats } from "../real/mod.ts";
import { clearMark, getMark, markFor, setMark } from "../storage/mod.ts";
import { type ArenaName, isMark, type Path, paths, type PeerName } from "../types/mod.ts";
import { listDir, listedToJson, listPath } from "../unreal/mod.ts";
import { describeError } from "../util/mod.ts";
import { VERSION } from "../version.ts";
import type { Daemon, RunningArena } from "./daemon.ts";

/** The control API over a running {@linkcode Daemon}. */
export class DaemonControl implements DaemonApi {
  readonly #d: Daemon;

  /** @param daemon the daemon (its parts may still be starting) */
  constructor(daemon: Daemon) {
    this.#d = daemon;
  }

  #arena(name: string): RunningArena {
    const a = this.#d.arenas.get(name as ArenaName);
    if (a === undefined) throw new ApiError(404, `Unknown arena "${name}"`);
    return a;
  }

  #paths(list: readonly string[]): Path[] {
    return list.map((p) => {
      const why = paths.problem(p);
      if (why !== null) throw new ApiError(400, `Invalid path "${p}": ${why}`);
      return p as Path;
    });
  }

  health(): Health {
    const checks: Record<string, HealthCheck> = {};
    for (const a of this.#d.arenas.values()) {
      try {
        a.db.read((tx) => tx.get("SELECT 1"));
        checks[`db ${a.config.name}`] = { ok: true, detail: "readable" };
      } catch (error) {
        checks[`db ${a.config.name}`] = { ok: false, detail: describeError(error) };
      }
    }
    if (this.#d.options.fuse !== null) {
      const mounted = this.#d.mount?.mounted === true;
      checks.fuse = { ok: mounted, detail: mounted ? this.#d.options.fuse : "not mounted" };
      // An arena's mountpoint is the folder its user works in: without its overlay (put
      // there by `realize mountall`) it shows the bare directory.
      for (const a of this.#d.arenas.values()) {
        const at = a.config.mountpoint;
        if (at === null) continue;
        const ok = overlayMounted(at);
        checks[`overlay ${a.config.name}`] = {
          ok,
          detail: ok ? at : `not mounted on ${at} (realize mountall)`,
        };
      }
    }
    if (this.#d.options.listen !== null) {
      const port = this.#d.household?.port ?? null;
      checks.listener = {
        ok: port !== null,
        detail: port === null ? "not listening" : `port ${port}`,
      };
    }
    const peers = this.peers();
    const up = peers.filter((p) => p.connected).length;
    checks.peers = { ok: true, detail: `${up} of ${peers.length} connected` };
    return { ok: Object.values(checks).every((c) => c.ok), checks };
  }

  status(): Status {
    const d = this.#d;
    const arenas: ArenaInfo[] = [...d.arenas.values()].map((a) => {
      const s = a.db.read((tx) => indexStats(tx));
      const usage = a.unreal.blobs.usage();
      return {
        name: a.config.name,
        state: a.real === null ? "remote-only" : a.real.status().state,
        files: s.files,
        pending: s.pending,
        cacheBytes: usage.total,
        cacheQuota: a.unreal.blobs.quota(),
        mark: a.db.read((tx) => markFor(tx, paths.ROOT, a.config.mark)),
        folder: a.config.mountpoint === null
          ? null
          : { mountpoint: a.config.mountpoint, mounted: overlayMounted(a.config.mountpoint) },
      };
    });
    const listen = d.household?.port ?? null;
    return {
      version: VERSION,
      pid: Deno.pid,
      uptimeSeconds: Math.round((Date.now() - d.startedAt) / 1000),
      fuse: d.options.fuse === null ? null : {
        mountpoint: d.options.fuse,
        mounted: d.mount?.mounted === true,
        passthrough: d.mount?.passthrough === true,
      },
      listening: listen === null ? null : `${d.options.listen?.host ?? ""}:${listen}`,
      arenas,
      peers: this.peers(),
    };
  }

  peers(): PeerInfo[] {
    const h = this.#d.household;
    if (h !== null) return h.peers().map((p) => ({ ...p }));
    return this.#d.options.config.peers.map((p) => ({
      name: p.name,
      address: p.address === null ? null : `${p.address.host}:${p.address.port}`,
      connected: false,
      direction: null,
      arenas: [],
      bytesSent: 0,
      bytesReceived: 0,
    }));
  }

  #peer(name: string): PeerName {
    if (!this.#d.options.config.peers.some((p) => p.name === name)) {
      throw new ApiError(404, `Unknown peer "${name}"`);
    }
    if (this.#d.household === null) throw new ApiError(503, "Networking is off (no private key)");
    return name as PeerName;
  }

  connect(peer: string): void {
    this.#d.household!.connect(this.#peer(peer));
  }

  async disconnect(peer: string): Promise<void> {
    await this.#d.household!.disconnect(this.#peer(peer));
  }

  getMarks(arena: string, list: readonly string[]): MarkInfo[] {
    const a = this.#arena(arena);
    const targets = list.length === 0 ? [paths.ROOT] : this.#paths(list);
    return a.db.read((tx) =>
      targets.map((path) => ({
        path,
        mark: markFor(tx, path, a.config.mark),
        explicit: getMark(tx, path) !== null,
      }))
    );
  }

  setMarks(arena: string, list: readonly string[], mark: string): number {
    const a = this.#arena(arena);
    if (!isMark(mark)) throw new ApiError(400, `Invalid mark "${mark}": own, keep or watch`);
    const targets = list.length === 0 ? [paths.ROOT] : this.#paths(list);
    a.db.write((tx) => targets.forEach((p) => setMark(tx, p, mark)));
    return targets.length;
  }

  clearMarks(arena: string, list: readonly string[]): number {
    const a = this.#arena(arena);
    const targets = list.length === 0 ? [paths.ROOT] : this.#paths(list);
    return a.db.write((tx) => targets.filter((p) => clearMark(tx, p)).length);
  }

  list(arena: string, path: string): unknown[] {
    const a = this.#arena(arena);
    const [p] = this.#paths([path]);
    const entries = a.db.read((tx) => {
      if (p === paths.ROOT) return listDir(tx, p);
      const self = listPath(tx, p!);
      if (self === null) return null;
      return self.kind === "dir" ? listDir(tx, p!) : [self];
    });
    if (entries === null) {
      throw new ApiError(404, `Cannot list "${arena}/${path}": no such file or directory`);
    }
    return entries.map(listedToJson);
  }

  metrics(): Metric[] {
    const d = this.#d;
    const peers = this.peers();
    const arenas = [...d.arenas.values()];
    const per = <T>(xs: T[], label: (x: T) => Record<string, string>, value: (x: T) => number) =>
      xs.map((x) => ({ labels: label(x), value: value(x) }));
    const stats = arenas.map((a) => ({
      a,
      s: a.db.read((tx) => indexStats(tx)),
      u: a.unreal.blobs.usage(),
    }));
    const r = d.reader?.stats ??
      { fromCache: 0, fromNetwork: 0, bytesFetched: 0, failures: 0, passthroughOpens: 0 };
    return [
      {
        name: "realize_peer_bytes_sent_total",
        help: "Bytes sent to a peer",
        type: "counter",
        samples: per(peers, (p) => ({ peer: p.name }), (p) => p.bytesSent),
      },
      {
        name: "realize_peer_bytes_received_total",
        help: "Bytes received from a peer",
        type: "counter",
        samples: per(peers, (p) => ({ peer: p.name }), (p) => p.bytesReceived),
      },
      {
        name: "realize_peer_connected",
        help: "1 when a peer is connected",
        type: "gauge",
        samples: per(peers, (p) => ({ peer: p.name }), (p) => p.connected ? 1 : 0),
      },
      {
        name: "realize_files_indexed",
        help: "Local files indexed",
        type: "gauge",
        samples: per(stats, (x) => ({ arena: x.a.config.name }), (x) => x.s.files),
      },
      {
        name: "realize_files_pending_hash",
        help: "Local files waiting for their hash",
        type: "gauge",
        samples: per(stats, (x) => ({ arena: x.a.config.name }), (x) => x.s.pending),
      },
      {
        name: "realize_cache_bytes",
        help: "Bytes used by the blob cache",
        type: "gauge",
        samples: per(stats, (x) => ({ arena: x.a.config.name }), (x) => x.u.total),
      },
      {
        name: "realize_reads_total",
        help: "Remote reads through the mount, by source",
        type: "counter",
        samples: [{ labels: { source: "cache" }, value: r.fromCache }, {
          labels: { source: "network" },
          value: r.fromNetwork,
        }],
      },
      {
        name: "realize_read_bytes_fetched_total",
        help: "Bytes fetched from peers for reads",
        type: "counter",
        samples: [{ labels: {}, value: r.bytesFetched }],
      },
      {
        name: "realize_read_failures_total",
        help: "Remote reads that failed (EIO)",
        type: "counter",
        samples: [{ labels: {}, value: r.failures }],
      },
      {
        name: "realize_passthrough_opens_total",
        help: "Opens of cached files the kernel reads itself (FUSE passthrough)",
        type: "counter",
        samples: [{ labels: {}, value: r.passthroughOpens }],
      },
    ];
  }
}
