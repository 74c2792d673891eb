/**
 * The clients of the control endpoint: `realize status`, `peers`, `peer connect|disconnect`,
 * `mark get|set|clear`, and `ls` while the daemon runs. Human output by default, the
 * endpoint's JSON with `--json`.
 *
 * The socket is `--socket`, else `[control] socket` of `--config`, else of
 * `$REALIZE_CONFIG`, else the default the daemon uses too
 * (`defaultControlSocket`). Nothing listening there is exit code 10.
 *
 * @module
 */

import {
  ConfigError,
  type ControlSocketEnv,
  defaultControlSocket,
  parseConfig,
} from "../config/mod.ts";
import { ControlClient, DaemonNotRunningError } from "../control/mod.ts";
import { isMark, paths } from "../types/mod.ts";
import type { ListedJson } from "../unreal/mod.ts";
import type { Invocation } from "./commands.ts";
import { formatMarks, formatPeers, formatStatus, plural } from "./format.ts";
import { type CliIo, EXIT, UsageError } from "./io.ts";

type Values = Invocation["values"];

function socketEnv(io: CliIo): ControlSocketEnv {
  return { XDG_RUNTIME_DIR: io.env("XDG_RUNTIME_DIR"), uid: Deno.uid() ?? 0 };
}

async function socketOfConfig(file: string, env: ControlSocketEnv): Promise<string> {
  let text: string;
  try {
    text = await Deno.readTextFile(file);
  } catch (e) {
    throw new ConfigError({ file }, `cannot read: ${(e as Error).message}`, { cause: e });
  }
  return parseConfig(text, file, { env }).control.socket;
}

/**
 * The control socket a client command talks to.
 *
 * @param values the command's options (`socket`, `config`)
 * @param io the process (for `REALIZE_CONFIG`, `XDG_RUNTIME_DIR`)
 * @returns the socket's path
 * @throws {ConfigError} when the named configuration cannot be read or parsed
 */
export async function controlSocket(values: Values, io: CliIo): Promise<string> {
  const socket = values.socket;
  if (typeof socket === "string" && socket !== "") return socket;
  const env = socketEnv(io);
  const config = typeof values.config === "string" && values.config !== ""
    ? values.config
    : io.env("REALIZE_CONFIG");
  if (config !== undefined && config !== "") return await socketOfConfig(config, env);
  return defaultControlSocket(env);
}

async function withClient(inv: Invocation, fn: (c: ControlClient) => Promise<void>) {
  using client = new ControlClient(await controlSocket(inv.values, inv.io));
  await fn(client);
  return EXIT.ok;
}

function printJson(io: CliIo, value: unknown): void {
  io.out(`${JSON.stringify(value, null, 2)}\n`);
}

function expectArgs(inv: Invocation, usage: string, min: number, max: number): string[] {
  const args = [...inv.positionals];
  if (args.length < min) throw new UsageError(`missing arguments (usage: realize ${usage})`);
  if (args.length > max) throw new UsageError(`unexpected argument "${args[max]}"`);
  return args;
}

function nonEmpty(what: string, value: string | undefined): string {
  if (value === undefined || value === "") throw new UsageError(`empty ${what}`);
  return value;
}

function checkPaths(list: readonly string[]): string[] {
  for (const p of list) {
    const why = paths.problem(p);
    if (why !== null) throw new UsageError(`invalid path "${p}": ${why}`);
  }
  return [...list];
}

function status(inv: Invocation): Promise<number> {
  expectArgs(inv, "status [--json]", 0, 0);
  return withClient(inv, async (c) => {
    const s = await c.status();
    if (inv.values.json === true) printJson(inv.io, s);
    else inv.io.out(formatStatus(s));
  });
}

function peers(inv: Invocation): Promise<number> {
  expectArgs(inv, "peers [--json]", 0, 0);
  return withClient(inv, async (c) => {
    const r = await c.peers();
    if (inv.values.json === true) printJson(inv.io, r);
    else inv.io.out(formatPeers(r.peers));
  });
}

function peer(action: "connect" | "disconnect"): (inv: Invocation) => Promise<number> {
  return (inv) => {
    const name = nonEmpty("NAME", expectArgs(inv, `peer ${action} NAME`, 1, 1)[0]);
    return withClient(inv, async (c) => {
      const r = action === "connect" ? await c.connect(name) : await c.disconnect(name);
      if (inv.values.json === true) printJson(inv.io, r);
      else if (action === "connect") inv.io.out(`OK Connecting to peer: ${r.peer}\n`);
      else inv.io.out(`OK Disconnected from peer: ${r.peer}\n`);
    });
  };
}

function markGet(inv: Invocation): Promise<number> {
  const [first, ...rest] = expectArgs(inv, "mark get ARENA [PATH…]", 1, Infinity);
  const arena = nonEmpty("ARENA", first);
  const list = checkPaths(rest);
  return withClient(inv, async (c) => {
    const r = await c.getMarks(arena, list);
    if (inv.values.json === true) printJson(inv.io, r);
    else inv.io.out(formatMarks(arena, r.marks));
  });
}

function markSet(inv: Invocation): Promise<number> {
  const [mark, second, ...rest] = expectArgs(inv, "mark set MARK ARENA [PATH…]", 2, Infinity);
  if (!isMark(mark!)) {
    throw new UsageError(`invalid mark "${mark}" (expected watch, keep or own)`);
  }
  const arena = nonEmpty("ARENA", second);
  const list = checkPaths(rest);
  return withClient(inv, async (c) => {
    const r = await c.setMarks(arena, list, mark);
    if (inv.values.json === true) printJson(inv.io, r);
    else if (list.length === 0) inv.io.out(`OK Arena mark of ${arena} set to ${mark}\n`);
    else inv.io.out(`OK Mark ${mark} set on ${plural(r.set, "path")}\n`);
  });
}

function markClear(inv: Invocation): Promise<number> {
  const [first, ...rest] = expectArgs(inv, "mark clear ARENA [PATH…]", 1, Infinity);
  const arena = nonEmpty("ARENA", first);
  const list = checkPaths(rest);
  return withClient(inv, async (c) => {
    const r = await c.clearMarks(arena, list);
    if (inv.values.json === true) printJson(inv.io, r);
    else if (list.length === 0) inv.io.out(`OK Arena mark of ${arena} cleared\n`);
    else inv.io.out(`OK Marks cleared on ${plural(r.cleared, "path")}\n`);
  });
}

/**
 * `realize ls` through the daemon.
 *
 * @param values the command's options
 * @param io the process
 * @param args arena and path (`""`: its root)
 * @returns the entries, or `null` when the daemon is not running
 * @throws {Error} the daemon's answer to a bad request, or a failure to reach it
 */
export async function listThroughDaemon(
  values: Values,
  io: CliIo,
  args: { arena: string; path: string },
): Promise<ListedJson[] | null> {
  using client = new ControlClient(await controlSocket(values, io));
  try {
    return (await client.list(args.arena, args.path)).entries as ListedJson[];
  } catch (error) {
    if (error instanceof DaemonNotRunningError) return null;
    throw error;
  }
}

/** Handlers of the control-endpoint clients, by command name. */
export const CONTROL_HANDLERS: Readonly<Record<string, (inv: Invocation) => Promise<number>>> = {
  status,
  peers,
  "peer connect": peer("connect"),
  "peer disconnect": peer("disconnect"),
  "mark get": markGet,
  "mark set": markSet,
  "mark clear": markClear,
};
