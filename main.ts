/**
 * The `realize` executable: the daemon and its command-line clients.
 * Only parses arguments and wires subsystems; the logic lives under `src/`.
 *
 * @module
 */

import { processIo, runCli } from "./src/cli/mod.ts";
import { configureFromEnv } from "./src/util/log.ts";

if (import.meta.main) {
  let code: number;
  try {
    configureFromEnv();
    code = await runCli(Deno.args, processIo());
  } catch (error) {
    // Only a bad REALIZE_LOG gets here; runCli itself never throws.
    Deno.stderr.writeSync(new TextEncoder().encode(`realize: ${String(error)}\n`));
    code = 2;
  }
  Deno.exit(code);
}
