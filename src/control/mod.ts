/**
 * The control endpoint (DESIGN §4.5): JSON over HTTP on a UNIX socket (mode 0600) and
 * an optional TCP listener; its client, used by the CLI. The daemon implements
 * {@linkcode DaemonApi}; see `docs/control.md` for the routes.
 *
 * ```ts ignore
 * const server = await serveControl({ socket: config.control.socket, api: daemon });
 * using client = new ControlClient(config.control.socket);
 * const status = await client.status();
 * await server.close();
 * ```
 *
 * @module
 */

export {
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
export {
  BODY_BYTES_MAX,
  type ClearMarksResponse,
  type ControlEnv,
  createApp,
  type CreateAppOptions,
  type ErrorResponse,
  type HealthResponse,
  type ListResponse,
  type MarksResponse,
  PATHS_PER_REQUEST_MAX,
  type PeerActionResponse,
  type PeersResponse,
  type SetMarksResponse,
} from "./app.ts";
export {
  CLIENT_PATHS_PER_REQUEST,
  CONTROL_TIMEOUT_MS_DEFAULT,
  ControlClient,
  ControlResponseError,
  DaemonNotRunningError,
  type RequestOptions,
} from "./client.ts";
export { PROMETHEUS_CONTENT_TYPE, renderPrometheus } from "./prometheus.ts";
export {
  type ControlServer,
  readControlToken,
  serveControl,
  type ServeControlOptions,
} from "./serve.ts";
