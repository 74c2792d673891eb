/**
 * The `realize` command line: parses arguments, dispatches to a command, and turns
 * errors into the documented exit codes and one-line messages.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { describeError } from "../util/mod.ts";
import { VERSION } from "../version.ts";
import {
  type Command,
  COMMANDS,
  DAEMON_OPTIONS,
  findCommand,
  type Invocation,
  type OptionSpec,
  overview,
  requireString,
} from "./commands.ts";
import { type CliIo, EXIT, UsageError } from "./io.ts";
import { demo } from "./demo.ts";
import { keygen } from "./keygen.ts";
import { ls, printListing } from "./ls.ts";
import { loadConfig } from "../config/mod.ts";
import { DaemonNotRunningError } from "../control/mod.ts";
import { paths } from "../types/mod.ts";
import { CONTROL_HANDLERS, listThroughDaemon } from "./control.ts";
import { checkConfig, runDaemon } from "./daemon.ts";
import { mountAll, unmountAll } from "./overlay.ts";

export { captureIo, type CliIo, EXIT, processIo, UsageError } from "./io.ts";

type Handler = (inv: Invocation) => Promise<number>;

const HANDLERS: Record<string, Handler> = {
  demo: ({ values, io }) =>
    demo(io, { verbose: values.verbose === true || io.env("REALIZE_LOG") !== undefined }),
  keygen: async ({ values, io }) => {
    await keygen(requireString(values, "out"), io);
    return EXIT.ok;
  },
  check: ({ values, io }) => checkConfig(requireString(values, "config"), io),
  mountall: mountAll,
  unmountall: unmountAll,
  ls: async ({ values, positionals, io }) => {
    const [arena, path, ...extra] = positionals;
    if (arena === undefined) throw new UsageError("missing ARENA (usage: realize ls ARENA [PATH])");
    if (extra.length > 0) throw new UsageError(`unexpected argument "${extra[0]}"`);
    const json = values.json === true;
    const why = paths.problem(path ?? "");
    if (why !== null) throw new UsageError(`invalid path "${path}": ${why}`);
    // Through the daemon when it runs (it holds the database); else read it directly.
    const entries = await listThroughDaemon(values, io, { arena, path: path ?? "" });
    if (entries !== null) {
      printListing(entries, io, { json });
      return EXIT.ok;
    }
    const config = await loadConfig(configPath(values, io));
    return ls(config, { arena, path, io }, { json });
  },
  ...CONTROL_HANDLERS,
};

/** `--config`, else `$REALIZE_CONFIG`, else `/etc/realize/config.toml`. */
function configPath(values: Invocation["values"], io: CliIo): string {
  const v = values.config;
  if (typeof v === "string" && v !== "") return v;
  return io.env("REALIZE_CONFIG") ?? "/etc/realize/config.toml";
}

function parse(args: readonly string[], options: OptionSpec): ReturnType<typeof parseArgs> {
  try {
    return parseArgs({
      args: [...args],
      options: { ...options, help: { type: "boolean", short: "h" } },
      allowPositionals: true,
      strict: true,
    });
  } catch (cause) {
    // node:util messages are long and mention "node"; keep the first clause.
    const text = cause instanceof Error ? cause.message.split(". ")[0] ?? "" : String(cause);
    throw new UsageError(text.replace(/^Unknown option '(.*)'$/, "unknown option $1"));
  }
}

function commandHelp(c: Command): string {
  const opts = Object.keys(c.options).map((o) => `--${o}`).join(" ");
  return `Usage: realize ${c.usage}\n${c.summary}\n${opts === "" ? "" : `Options: ${opts}\n`}`;
}

async function dispatch(args: readonly string[], io: CliIo): Promise<number> {
  if (args.length === 0) throw new UsageError("no command given (see realize --help)");
  if (args[0] === "--version" || args[0] === "-V") {
    io.out(`realize ${VERSION} (deno ${Deno.version.deno})\n`);
    return EXIT.ok;
  }
  if (args[0] === "--help" || args[0] === "-h" || args[0] === "help") {
    const found = args[0] === "help" ? findCommand(args.slice(1)) : null;
    if (args[0] === "help" && args.length > 1 && found === null) {
      throw new UsageError(`unknown command "${args.slice(1).join(" ")}" (see realize --help)`);
    }
    io.out(found === null ? overview() : commandHelp(found.command));
    return EXIT.ok;
  }
  if (args[0]?.startsWith("-")) {
    const { values, positionals } = parse(args, DAEMON_OPTIONS);
    if (values.help === true) return dispatch(["--help"], io);
    if (positionals.length > 0) {
      throw new UsageError(`unexpected argument "${positionals[0]}" (see realize --help)`);
    }
    return runDaemon({ values, positionals, io });
  }
  const found = findCommand(args);
  if (found === null) {
    const words = args.slice(0, 2).join(" ");
    const group = COMMANDS.some((c) => c.name.startsWith(`${args[0]} `));
    throw new UsageError(
      group
        ? `unknown command "${words}" (see realize --help)`
        : `unknown command "${args[0]}" (see realize --help)`,
    );
  }
  const { command, used } = found;
  const { values, positionals } = parse(args.slice(used), command.options);
  if (values.help === true) {
    io.out(commandHelp(command));
    return EXIT.ok;
  }
  const handler = HANDLERS[command.name];
  if (handler === undefined) {
    io.err(`realize: ${command.name}: not implemented yet (arrives with ${command.arrivesWith})\n`);
    return EXIT.usage;
  }
  return await handler({ values, positionals, io });
}

/**
 * Runs `realize` with `args` and returns its exit code. Never throws: usage errors
 * print `realize: <message>` (exit 2), a daemon that is not running
 * `realize is not running (…)` (exit 10), failures
 * `realize: error: <message>: <cause>…` (exit 1).
 *
 * @param args the arguments after the program name
 * @param io the process
 * @returns the exit code
 */
export async function runCli(args: readonly string[], io: CliIo): Promise<number> {
  try {
    return await dispatch(args, io);
  } catch (error) {
    if (error instanceof UsageError) {
      io.err(`realize: ${error.message}\n`);
      return EXIT.usage;
    }
    if (error instanceof DaemonNotRunningError) {
      io.err(`${error.message}\n`);
      return EXIT.notRunning;
    }
    io.err(`realize: error: ${describeError(error)}\n`);
    return EXIT.error;
  }
}
