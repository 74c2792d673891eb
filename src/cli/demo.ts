/**
 * `realize demo`: two peers on loopback, in a temporary directory, narrated. A file
 * written on peer A is read through peer B's FUSE mount, an edit on A shows up on B, B
 * writes a file in his overlay folder (his datadir over the view) that A learns of, and
 * B's cached copy stays readable after A stops. Everything is unmounted and removed at
 * the end, on error, or on Ctrl-C.
 *
 * @module
 */

import { type Config, loadConfig } from "../config/mod.ts";
import { Daemon } from "../daemon/mod.ts";
import { generateKeyPair } from "../keys/mod.ts";
import { defaultOverlayMode, OverlayMounts, overlaySpecs } from "../overlay/mod.ts";
import { parseArenaName, type Path } from "../types/mod.ts";
import { listPath } from "../unreal/mod.ts";
import { configure, describeError } from "../util/mod.ts";
import { type CliIo, EXIT } from "./io.ts";

/** Longest wait for one step. */
const STEP_TIMEOUT_MS = 30_000;

interface Peer {
  readonly name: string;
  readonly dir: string;
  daemon: Daemon | null;
  overlays: OverlayMounts | null;
}

async function writeConfig(
  p: Peer,
  peer: { name: string; pubkey: string; port?: number },
  mountpoint?: string,
): Promise<Config> {
  const address = peer.port === undefined ? "" : `address = "127.0.0.1:${peer.port}"\n`;
  const folder = mountpoint === undefined ? "" : `mountpoint = "${mountpoint}"\n`;
  const file = `${p.dir}/config.toml`;
  await Deno.writeTextFile(
    file,
    `[network]\nprivkey = "peer.key"\n` +
      `[control]\nsocket = "control.sock"\n[cache]\ndb = "cache.db"\n` +
      `[[arena]]\nname = "demo"\nworkdir = "work"\ndatadir = "data"\ndebounce = "100ms"\n${folder}` +
      `[[peer]]\nname = "${peer.name}"\n${address}pubkey = """${peer.pubkey}"""\n`,
  );
  return await loadConfig(file);
}

async function until(
  signal: AbortSignal,
  what: string,
  check: () => Promise<boolean>,
): Promise<void> {
  const deadline = Date.now() + STEP_TIMEOUT_MS;
  while (!(await check().catch(() => false))) {
    signal.throwIfAborted();
    if (Date.now() > deadline) {
      throw new Error(`Timed out after ${STEP_TIMEOUT_MS / 1000} s: ${what}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * Runs the demo.
 *
 * @param io where to narrate
 * @param options `verbose`: show the daemons' logs
 * @returns exit code
 */
export async function demo(io: CliIo, options: { verbose: boolean }): Promise<number> {
  const say = (text: string) => io.out(`${text}\n`);
  if (!options.verbose) configure({ levels: new Map([["daemon", "warn"]]), defaultLevel: "warn" });
  const root = await Deno.makeTempDir({ prefix: "realize-demo-" });
  const a: Peer = { name: "alice", dir: `${root}/alice`, daemon: null, overlays: null };
  const b: Peer = { name: "bob", dir: `${root}/bob`, daemon: null, overlays: null };
  const cleanup = async () => {
    b.overlays?.[Symbol.dispose](); // before the FUSE view beneath it
    await b.daemon?.stop();
    await a.daemon?.stop();
    await Deno.remove(root, { recursive: true }).catch(() => {});
  };
  const interrupt = new AbortController();
  const interrupted = new Promise<number>((resolve) =>
    interrupt.signal.addEventListener("abort", () => resolve(EXIT.interrupted))
  );
  const onSignal = () => interrupt.abort();
  Deno.addSignalListener("SIGINT", onSignal);
  Deno.addSignalListener("SIGTERM", onSignal);
  const running = steps(a, b, say, interrupt.signal);
  try {
    const code = await Promise.race([running, interrupted]);
    if (code === EXIT.interrupted) {
      say("\nInterrupted: cleaning up.");
      await running.catch(() => {}); // a daemon still starting stops itself first
    }
    return code;
  } catch (error) {
    io.err(`realize: error: demo failed: ${describeError(error)}\n`);
    return EXIT.error;
  } finally {
    await cleanup();
    Deno.removeSignalListener("SIGINT", onSignal);
    Deno.removeSignalListener("SIGTERM", onSignal);
    say(`Cleaned up: nothing mounted, ${root} removed.`);
  }
}

async function steps(
  a: Peer,
  b: Peer,
  narrate: (t: string) => void,
  signal: AbortSignal,
): Promise<number> {
  const say = (text: string) => {
    signal.throwIfAborted(); // interrupted: not a word more
    narrate(text);
  };
  say('realize demo: two peers on this machine, alice and bob, sharing the arena "demo".\n');
  const [ka, kb] = await Promise.all([generateKeyPair(), generateKeyPair()]);
  for (const [p, k] of [[a, ka], [b, kb]] as const) {
    await Deno.mkdir(`${p.dir}/data`, { recursive: true });
    await Deno.writeTextFile(`${p.dir}/peer.key`, k.privatePem, { mode: 0o600 });
  }
  const mnt = `${b.dir}/mnt`;
  await Deno.mkdir(mnt);
  say(`1. Each peer gets an ED25519 key; alice listens on loopback, bob dials her.`);
  const ca = await writeConfig(a, { name: b.name, pubkey: kb.publicKey.pem });
  a.daemon = await Daemon.start({
    config: ca,
    keys: ka,
    listen: { host: "127.0.0.1", port: 0 },
    fuse: null,
    signal,
  });
  const port = a.daemon.household!.port!;
  const cb = await writeConfig(b, { name: a.name, pubkey: ka.publicKey.pem, port }, "folder");
  b.daemon = await Daemon.start({ config: cb, keys: kb, listen: null, fuse: mnt, signal });
  await until(
    signal,
    "bob connects to alice",
    () => Promise.resolve(b.daemon!.household!.peers()[0]!.connected),
  );
  say(`   alice: ${a.dir}   bob: ${b.dir}   connected over TLS 1.3 on port ${port}.`);
  say(`   bob's FUSE mount, where every peer's files appear: ${mnt}\n`);

  const file = `${mnt}/demo/notes.txt`;
  say("2. alice writes notes.txt in her folder (a normal file on her disk).");
  await Deno.writeTextFile(`${a.dir}/data/notes.txt`, "Hello from alice.\n");
  await until(
    signal,
    "notes.txt through bob's mount",
    async () => await Deno.readTextFile(file) === "Hello from alice.\n",
  );
  say(
    `   bob reads it through his mount, fetched on demand: ${
      JSON.stringify(await Deno.readTextFile(file))
    }\n`,
  );

  say("3. alice edits it.");
  await Deno.writeTextFile(`${a.dir}/data/notes.txt`, "Hello from alice, edited.\n");
  const edited = "Hello from alice, edited.\n";
  await until(
    signal,
    "the edit through bob's mount",
    async () => await Deno.readTextFile(file) === edited,
  );
  say(`   bob sees the new version: ${JSON.stringify(await Deno.readTextFile(file))}\n`);

  const folder = `${b.dir}/folder`;
  say(`4. bob works in his folder, ${folder}: his own files over the view, writable.`);
  b.overlays = OverlayMounts.mount(overlaySpecs(cb.arenas, mnt), defaultOverlayMode());
  const names = (await Array.fromAsync(Deno.readDir(folder))).map((e) => e.name).sort();
  say(`   it holds ${names.join(", ")}; he writes reply.txt there.`);
  await Deno.writeTextFile(`${folder}/reply.txt`, "Thanks, alice.\n");
  const alices = a.daemon.arenas.get(parseArenaName("demo"))!.db;
  await until(
    signal,
    "alice learns of reply.txt",
    () =>
      Promise.resolve(
        (alices.read((tx) => listPath(tx, "reply.txt" as Path))?.remote ?? null) !== null,
      ),
  );
  const landed = await Deno.readTextFile(`${b.dir}/data/reply.txt`);
  say(
    `   it is a normal file of his datadir (${
      JSON.stringify(landed)
    }); alice's daemon lists it, from bob.\n`,
  );

  say("5. alice stops. Bob's copy was cached when he read it:");
  await a.daemon.stop();
  a.daemon = null;
  say(`   bob still reads it, offline: ${JSON.stringify(await Deno.readTextFile(file))}\n`);
  say("That is realize: every peer sees every file; bytes travel only when read.");
  return EXIT.ok;
}
