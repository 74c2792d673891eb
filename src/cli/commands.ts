/**
 * The commands of `realize` (DESIGN §4.3), their usage and their handlers.
 * A command without a handler is announced and not implemented yet: it exits 2.
 *
 * @module
 */

import { type CliIo, UsageError } from "./io.ts";

/** Options of one command, as `node:util` `parseArgs` understands them. */
export type OptionSpec = Record<string, { type: "string" | "boolean"; short?: string }>;

/** The parsed command line handed to a handler. */
export interface Invocation {
  /** Option values by name. */
  readonly values: Readonly<Record<string, string | boolean | (string | boolean)[] | undefined>>;
  /** Positional arguments after the command name(s). */
  readonly positionals: readonly string[];
  /** The process. */
  readonly io: CliIo;
}

/**
 * The value of a required string option.
 *
 * @param values the parsed options
 * @param name the option, without `--`
 * @param what what it names, for the error (e.g. `FILE`)
 * @returns its value
 * @throws {UsageError} `missing --name what` when absent or empty
 */
export function requireString(values: Invocation["values"], name: string, what?: string): string {
  const v = values[name];
  if (typeof v !== "string" || v === "") {
    throw new UsageError(`missing --${name}${what === undefined ? "" : ` ${what}`}`);
  }
  return v;
}

/** One command of the CLI. */
export interface Command {
  /** Name as typed, e.g. `keygen` or `peer connect`. */
  readonly name: string;
  /** Synopsis after `realize `. */
  readonly usage: string;
  /** One-line description for `--help`. */
  readonly summary: string;
  /** Its options (`--help` is always accepted). */
  readonly options: OptionSpec;
  /** Runs it and returns the exit code; absent while not implemented. */
  readonly run?: (inv: Invocation) => Promise<number>;
  /** Which issue brings it, for the "not implemented yet" message. */
  readonly arrivesWith?: string;
}

const CONFIG: OptionSpec = { config: { type: "string", short: "c" } };
const CLIENT: OptionSpec = {
  socket: { type: "string", short: "s" },
  json: { type: "boolean" },
  config: { type: "string", short: "c" },
};

const LIST: Command[] = [
  {
    name: "keygen",
    usage: "keygen --out FILE",
    summary: "create an ED25519 key; print its public key for the other peers' configs",
    options: { out: { type: "string", short: "o" } },
  },
  {
    name: "check",
    usage: "check --config FILE",
    summary: "validate a configuration file and its directories",
    options: CONFIG,
  },
  {
    name: "mountall",
    usage: "mountall --config FILE --fuse DIR [--wait SECONDS]",
    summary: "mount the overlay of every arena with a mountpoint (waits for the FUSE view)",
    options: { ...CONFIG, fuse: { type: "string" }, wait: { type: "string" } },
  },
  {
    name: "unmountall",
    usage: "unmountall --config FILE",
    summary: "unmount the overlay of every arena with a mountpoint",
    options: CONFIG,
  },
  { name: "status", usage: "status [--json]", summary: "show the daemon's state", options: CLIENT },
  {
    name: "peers",
    usage: "peers [--json]",
    summary: "list peers and connections",
    options: CLIENT,
  },
  {
    name: "peer connect",
    usage: "peer connect NAME",
    summary: "connect to a peer now",
    options: CLIENT,
  },
  {
    name: "peer disconnect",
    usage: "peer disconnect NAME",
    summary: "drop the connection to a peer",
    options: CLIENT,
  },
  {
    name: "mark get",
    usage: "mark get ARENA [PATH…]",
    summary: "show marks (own, keep, watch)",
    options: CLIENT,
  },
  {
    name: "mark set",
    usage: "mark set MARK ARENA [PATH…]",
    summary: "set a mark on an arena or paths",
    options: CLIENT,
  },
  {
    name: "mark clear",
    usage: "mark clear ARENA [PATH…]",
    summary: "remove explicit marks",
    options: CLIENT,
  },
  {
    name: "ls",
    usage: "ls [--config FILE] [--json] ARENA [PATH]",
    summary: "list files with their versions and cache state",
    options: CLIENT,
  },
  {
    name: "jobs",
    usage: "jobs [--follow] [--json]",
    summary: "show jobs",
    options: { ...CLIENT, follow: { type: "boolean", short: "f" } },
  },
  {
    name: "events",
    usage: "events [--follow] [--json]",
    summary: "show events",
    options: { ...CLIENT, follow: { type: "boolean", short: "f" } },
  },
  {
    name: "move",
    usage: "move --from PEER --to PEER ARENA…",
    summary: "transfer arenas between two peers (resumable)",
    options: { ...CLIENT, from: { type: "string" }, to: { type: "string" } },
  },
  {
    name: "demo",
    usage: "demo [--verbose]",
    summary: "two peers on loopback, narrated: the product in one minute",
    options: { verbose: { type: "boolean", short: "v" } },
  },
];

/** Every command except the daemon itself (which has no command name). */
export const COMMANDS: readonly Command[] = LIST.map((c) => ({
  arrivesWith: "a later issue",
  ...c,
}));

/** Options of the daemon: `realize --config FILE [--fuse DIR] [--address A] [--privkey F]`. */
export const DAEMON_OPTIONS: OptionSpec = {
  ...CONFIG,
  fuse: { type: "string" },
  address: { type: "string" },
  privkey: { type: "string" },
};

/**
 * Finds the command named by the leading positional words.
 *
 * @param words the positionals, e.g. `["peer", "connect", "laptop"]`
 * @returns the command and how many words its name used, or `null`
 */
export function findCommand(words: readonly string[]): { command: Command; used: number } | null {
  for (const used of [2, 1]) {
    const name = words.slice(0, used).join(" ");
    const command = COMMANDS.find((c) => c.name === name);
    if (command !== undefined && used <= words.length) return { command, used };
  }
  return null;
}

/**
 * The text of `realize --help`.
 *
 * @returns the help text
 */
export function overview(): string {
  const width = Math.max(...COMMANDS.map((c) => c.usage.length));
  const lines = COMMANDS.map((c) => `  realize ${c.usage.padEnd(width)}  ${c.summary}`);
  return [
    "realize: peer-to-peer, partial file sync",
    "",
    "Usage:",
    "  realize --config FILE [--fuse DIR] [--address HOST:PORT] [--privkey FILE]",
    "      run the daemon in the foreground",
    ...lines,
    "  realize --version | --help | help COMMAND",
    "",
    "Exit codes: 0 ok, 1 error, 2 usage, 10 not running/false, 11 timed out, 20 interrupted.",
    "Logs: REALIZE_LOG=debug,net=trace  REALIZE_LOG_FORMAT=systemd",
    "",
  ].join("\n");
}
