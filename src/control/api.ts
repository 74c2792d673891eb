/**
 * What the control endpoint asks of the daemon. The daemon implements it; the endpoint
 * (and its tests) only see this interface (STYLE habit 10).
 *
 * @module
 */

/** A failed control request: its HTTP status and message. */
export class ApiError extends Error {
  override name = "ApiError";
  /**
   * @param status HTTP status (400 bad input, 404 unknown arena/peer/path, 409 conflict,
   *   503 unavailable)
   * @param message std style, naming the thing
   */
  constructor(readonly status: 400 | 404 | 409 | 503, message: string) {
    super(message);
  }
}

/** One check of `/health`. */
export interface HealthCheck {
  readonly ok: boolean;
  /** What is wrong (or fine), one line. */
  readonly detail: string;
}

/** `/health`: ok when every check is. */
export interface Health {
  readonly ok: boolean;
  /** By name: `db`, `fuse`, `listener`, `peers`… */
  readonly checks: Readonly<Record<string, HealthCheck>>;
}

/** A peer's state (`/peers`). */
export interface PeerInfo {
  readonly name: string;
  readonly address: string | null;
  readonly connected: boolean;
  readonly direction: "incoming" | "outgoing" | null;
  readonly arenas: readonly string[];
  readonly bytesSent: number;
  readonly bytesReceived: number;
}

/** An arena's state (`/status`). */
export interface ArenaInfo {
  readonly name: string;
  /** `scanning`, `watching`, `polling`, or `remote-only` (no datadir). */
  readonly state: string;
  readonly files: number;
  readonly pending: number;
  readonly cacheBytes: number;
  readonly cacheQuota: number | null;
  readonly mark: string;
  /** Its `mountpoint` and whether its overlay is mounted there, or `null` without one. */
  readonly folder: { readonly mountpoint: string; readonly mounted: boolean } | null;
}

/** `/status`. */
export interface Status {
  readonly version: string;
  readonly pid: number;
  readonly uptimeSeconds: number;
  readonly fuse: {
    readonly mountpoint: string;
    readonly mounted: boolean;
    /** Cached files are read by the kernel itself (FUSE passthrough). */
    readonly passthrough?: boolean;
  } | null;
  readonly listening: string | null;
  readonly arenas: readonly ArenaInfo[];
  readonly peers: readonly PeerInfo[];
}

/** A path's mark (`/arenas/:arena/marks`). */
export interface MarkInfo {
  /** `""` for the arena itself. */
  readonly path: string;
  /** The effective mark. */
  readonly mark: string;
  /** Whether it is set on this path (else inherited from a directory or the arena). */
  readonly explicit: boolean;
}

/** One metric for `/metrics`: rendered as Prometheus text by the endpoint. */
export interface Metric {
  readonly name: string;
  readonly help: string;
  readonly type: "counter" | "gauge";
  readonly samples: readonly {
    readonly labels: Readonly<Record<string, string>>;
    readonly value: number;
  }[];
}

/** The daemon, as the control endpoint sees it. Methods throw {@linkcode ApiError}. */
export interface DaemonApi {
  health(): Health;
  status(): Status;
  peers(): PeerInfo[];
  /** Dials a peer now (and keeps it connected). */
  connect(peer: string): void;
  /** Drops a peer's connection and stops dialling it until `connect`. */
  disconnect(peer: string): Promise<void>;
  /** Marks of the given paths; no paths: the arena's own mark (path `""`). */
  getMarks(arena: string, paths: readonly string[]): MarkInfo[];
  /** Sets a mark on paths (none: on the arena); returns how many were set. */
  setMarks(arena: string, paths: readonly string[], mark: string): number;
  /** Clears explicit marks (none: the arena's own); returns how many were cleared. */
  clearMarks(arena: string, paths: readonly string[]): number;
  /** `realize ls` through the daemon: the JSON entries `src/cli/ls.ts` prints. */
  list(arena: string, path: string): unknown[];
  /** Every metric. */
  metrics(): Metric[];
}
