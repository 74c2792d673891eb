/**
 * `realize --config FILE …` (the daemon) and `realize check --config FILE`.
 *
 * @module
 */

import { resolve } from "node:path";
import { type HostPort, loadConfig, parseHostPort } from "../config/mod.ts";
import { Daemon } from "../daemon/mod.ts";
import { type KeyPair, parsePrivateKey } from "../keys/mod.ts";
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
 * Runs the daemon in the foreground until SIGTERM or SIGINT: then it stops cleanly (jobs,
 * databases, FUSE) and exits 0; a second signal exits at once.
 *
 * @param inv the parsed command line
 * @returns the exit code
 * @throws {Error} a fatal set-up error, with its causes
 */
export async function runDaemon(inv: Invocation): Promise<number> {
  const file = inv.values.config;
  if (typeof file !== "string" || file === "") {
    throw new UsageError("missing --config (see realize --help)");
  }
  const address = typeof inv.values.address === "string" ? inv.values.address : null;
  let listen: HostPort | null;
  try {
    listen = address === null ? null : parseHostPort(address, { allowPortZero: true });
  } catch (error) {
    throw new UsageError(`invalid --address "${address}": ${(error as Error).message}`);
  }
  const config = await loadConfig(file);
  listen ??= config.network.address;
  const keyFile = typeof inv.values.privkey === "string"
    ? inv.values.privkey
    : config.network.privkey;
  const keys = keyFile === null ? null : await readKeys(keyFile);
  const fuse = typeof inv.values.fuse === "string" ? resolve(inv.values.fuse) : null;
  // Listening from the start: a signal while starting (a long catch-up scan, the mount
  // coming up) stops cleanly too, instead of killing the process with the mount up.
  const stop = new AbortController();
  let signals = 0;
  const onSignal = () => {
    if (++signals > 1) Deno.exit(EXIT.interrupted); // a second signal: now
    inv.io.err("realize: stopping (a second signal exits at once)\n");
    stop.abort(new StopRequested());
  };
  Deno.addSignalListener("SIGTERM", onSignal);
  Deno.addSignalListener("SIGINT", onSignal);
  try {
    let daemon: Daemon;
    try {
      daemon = await Daemon.start({ config, keys, listen, fuse, signal: stop.signal });
    } catch (error) {
      if (error instanceof StopRequested) return EXIT.ok; // stopped while starting
      throw error;
    }
    if (!stop.signal.aborted) {
      await new Promise((resolve) => stop.signal.addEventListener("abort", resolve));
    }
    await daemon.stop();
  } finally {
    Deno.removeSignalListener("SIGTERM", onSignal);
    Deno.removeSignalListener("SIGINT", onSignal);
  }
  return EXIT.ok;
}

/** The reason a start is stopped: a signal asked for it. */
class StopRequested extends Error {
  constructor() {
    super("stop requested by a signal");
  }
}

async function readKeys(file: string): Promise<KeyPair> {
  let text: string;
  try {
    text = await Deno.readTextFile(file);
  } catch (cause) {
    throw new Error(`Cannot read the private key "${file}"`, { cause });
  }
  try {
    return await parsePrivateKey(text);
  } catch (cause) {
    throw new Error(`Cannot use the private key "${file}"`, { cause });
  }
}
