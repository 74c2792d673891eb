/**
 * The default path of the control socket, shared by the daemon and the CLI so that
 * they agree without configuration.
 *
 * @module
 */

/** What {@linkcode defaultControlSocket} depends on. */
export interface ControlSocketEnv {
  /** `$XDG_RUNTIME_DIR`; ignored unless it is an absolute path. */
  readonly XDG_RUNTIME_DIR?: string | undefined;
  /** The user id of the process. */
  readonly uid: number;
}

/**
 * The default control socket:
 * `$XDG_RUNTIME_DIR/realize/control.sock` when XDG_RUNTIME_DIR is set, otherwise
 * `/run/realize/control.sock` for root and `/tmp/realize-<uid>/control.sock` for
 * other users.
 *
 * @param env the runtime directory and the user id; see {@linkcode currentControlSocketEnv}
 * @returns an absolute path
 */
export function defaultControlSocket(env: ControlSocketEnv): string {
  const runtime = env.XDG_RUNTIME_DIR;
  if (runtime !== undefined && runtime.startsWith("/")) {
    return `${runtime.replace(/\/+$/, "")}/realize/control.sock`;
  }
  if (env.uid === 0) return "/run/realize/control.sock";
  return `/tmp/realize-${env.uid}/control.sock`;
}

/**
 * Reads the environment of this process for {@linkcode defaultControlSocket}.
 *
 * @returns `XDG_RUNTIME_DIR` and the user id (0 where the platform has none)
 * @throws {Deno.errors.NotCapable} without `--allow-env` / `--allow-sys`
 */
export function currentControlSocketEnv(): ControlSocketEnv {
  return { XDG_RUNTIME_DIR: Deno.env.get("XDG_RUNTIME_DIR"), uid: Deno.uid() ?? 0 };
}
