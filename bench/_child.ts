/**
 * What the multi-process benchmarks share: spawning a child script of this directory,
 * reading its ready line, reaping it, and the child's side — peer `a` indexing its data,
 * then serving peer `b` and saying so on stdout.
 *
 * @module
 */

import type { PeerConfig } from "../src/config/mod.ts";
import { decodePublicKeyPem } from "../src/keys/mod.ts";
import type { Household } from "../src/net/mod.ts";
import type { TestPeer } from "../src/net/_peer_testing.ts";
import { parsePeerName } from "../src/types/mod.ts";

/** How long a child may take to exit before it is killed. */
export const CHILD_EXIT_MS = 30_000;
/** How long peer `a` may take to index its data. */
const IDLE_TIMEOUT_MS = 900_000;

/**
 * Starts `deno run -A <script> <mode>` with its settings in an environment variable.
 *
 * @param script the child's path
 * @param env the variable that carries `settings` as JSON
 * @param mode the child's first argument
 * @param settings what the child needs
 * @param stdin whether to keep a pipe to its input
 * @returns the child (stdout piped, stderr inherited)
 */
export function spawnChild(
  script: string,
  env: string,
  mode: string,
  settings: object,
  stdin: "piped" | "null",
): Deno.ChildProcess {
  // REALIZE_BENCH_CHILD_FLAGS: extra flags for the child's `deno run`, e.g. `--cpu-prof`.
  const flags = (Deno.env.get("REALIZE_BENCH_CHILD_FLAGS") ?? "").split(" ").filter((f) => f);
  return new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", ...flags, script, mode],
    env: { [env]: JSON.stringify(settings) },
    stdin,
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
}

/**
 * Reads the first line of a child's output.
 *
 * @param stream its stdout
 * @param who its name, for the error
 * @returns the line, without its newline
 * @throws {Error} when the child exits first
 */
export async function firstLine(stream: ReadableStream<Uint8Array>, who: string): Promise<string> {
  const reader = stream.getReader();
  const dec = new TextDecoder();
  let text = "";
  try {
    while (!text.includes("\n")) {
      const { value, done } = await reader.read();
      if (done) throw new Error(`${who} exited before it was ready`);
      text += dec.decode(value, { stream: true });
    }
  } finally {
    reader.releaseLock();
  }
  return text.slice(0, text.indexOf("\n"));
}

/**
 * Waits for a child to exit, killing it after `timeoutMs`.
 *
 * @param child the child
 * @param piped whether its stdout is a pipe to cancel
 * @param timeoutMs how long to wait
 * @returns its status
 */
export async function reap(
  child: Deno.ChildProcess,
  piped = true,
  timeoutMs = CHILD_EXIT_MS,
): Promise<Deno.CommandStatus> {
  const timer = setTimeout(() => {
    try {
      child.kill("SIGKILL");
    } catch { /* already gone */ }
  }, timeoutMs);
  try {
    return await child.status;
  } finally {
    clearTimeout(timer);
    if (piped) await child.stdout.cancel().catch(() => {});
  }
}

/**
 * Whether a path exists (without following a last symlink).
 *
 * @param path the path
 * @returns true when it does
 */
export function exists(path: string): boolean {
  try {
    Deno.lstatSync(path);
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}

/**
 * The child's side: waits until peer `a` has indexed its data, lets peer `b` in, and
 * prints `{port, pem, dir}` as the ready line.
 *
 * @param a peer `a`, started
 * @param peerPem `b`'s public key
 * @returns `a`'s household
 */
export async function serveB(a: TestPeer, peerPem: string): Promise<Household> {
  const deadline = Date.now() + IDLE_TIMEOUT_MS;
  while (!a.real!.idle()) {
    if (Date.now() > deadline) throw new Error("peer a did not finish indexing");
    await new Promise((r) => setTimeout(r, 20));
  }
  const b: PeerConfig = {
    name: parsePeerName("b"),
    address: null,
    pubkey: decodePublicKeyPem(peerPem),
    batchRateLimitBytesPerSec: null,
  };
  const household = await a.join([b]);
  const hello = { port: household.port, pem: a.keys.publicKey.pem, dir: a.dir };
  Deno.stdout.writeSync(new TextEncoder().encode(`${JSON.stringify(hello)}\n`));
  return household;
}
