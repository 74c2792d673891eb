/**
 * `realize --config FILE …` (the daemon) and `realize check --config FILE`.
 *
 * @module
 */

import { loadConfig } from "../config/mod.ts";
import type { Invocation } from "./commands.ts";
import { type CliIo, EXIT, UsageError } from "./io.ts";

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? "" : "s"}`;
}

/**
 * Validates a configuration file and the directories it names.
 *
 * @param file the config file
 * @param io where to print the summary
 * @returns exit code 0 when valid
 * @throws {Error} the first problem found, naming file, line and key
 */
export async function checkConfig(file: string, io: CliIo): Promise<number> {
  const config = await loadConfig(file);
  io.out(
    `${file}: ok (${plural(config.arenas.length, "arena")}, ${
      plural(config.peers.length, "peer")
    })\n`,
  );
  return EXIT.ok;
}

/**
 * Runs the daemon in the foreground. Until the daemon issue lands this validates the
 * configuration and says that the daemon itself is not implemented yet.
 *
 * @param inv the parsed command line
 * @returns the exit code
 */
export async function runDaemon(inv: Invocation): Promise<number> {
  const file = inv.values.config;
  if (typeof file !== "string" || file === "") {
    throw new UsageError("missing --config (see realize --help)");
  }
  await loadConfig(file);
  inv.io.err("realize: the daemon is not implemented yet (arrives with the daemon issue)\n");
  return EXIT.usage;
}
