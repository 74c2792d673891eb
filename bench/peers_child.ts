/**
 * The other peers of `peers_bench.ts`, each in its own process: `peers_child.ts MODE`,
 * settings in `REALIZE_BENCH_PEERS` (JSON).
 *
 * - `serve`: peer `a`, with a datadir. It writes `bigBytes` of random data to `big`, 8 MiB of
 *   text-like data to `text` and 8 MiB of random data to `random` (each when asked for), or
 *   `files` small files in 1,000 directories; indexes them until idle; joins a household
 *   that knows the peer `b` (public key `peerPem`, it dials us) and prints one JSON line
 *   `{ port, pem, dir }`. It then reads commands from stdin, one JSON object a line:
 *   `{ "write": "changes/c1" }` writes a small file in the datadir, `{ "touch": "p1" }` one
 *   in `dir/probe` (outside the arena). It stops at the end of its input.
 * - `catchup`: a fresh peer `b` without a datadir (private key `privatePem`) dials `a`
 *   (`port`, `serverPem`), waits until its unreal has all `files` files of `a` and prints
 *   `{ ms, files, startRssMiB, peakRssMiB, heapMiB }` (heap: V8's, at the end).
 *
 * @module
 */

import type { PeerConfig } from "../src/config/mod.ts";
import { decodePublicKeyPem, parsePrivateKey } from "../src/keys/mod.ts";
import { TestPeer } from "../src/net/_peer_testing.ts";
import { serveB } from "./_child.ts";
import { parsePeerName } from "../src/types/mod.ts";
import { configure } from "../src/util/mod.ts";

/** What the parent passes in `REALIZE_BENCH_PEERS`. */
interface Settings {
  readonly peerPem?: string;
  readonly bigBytes?: number;
  readonly throttleFiles?: boolean;
  readonly files?: number;
  readonly privatePem?: string;
  readonly serverPem?: string;
  readonly port?: number;
}

const MiB = 1 << 20;
const THROTTLE_BYTES = 8 * MiB;
const DIRS = 1000;
const IDLE_TIMEOUT_MS = 900_000;
const ROOT = new URL("..", import.meta.url).pathname;

configure({ write: () => {} }); // the parent prints the report
const settings: Settings = JSON.parse(Deno.env.get("REALIZE_BENCH_PEERS") ?? "{}");

function randomBytes(size: number): Uint8Array {
  const out = new Uint8Array(size);
  for (let i = 0; i < size; i += 65536) crypto.getRandomValues(out.subarray(i, i + 65536));
  return out;
}

/** Source text of this repository and its npm packages (TS, JS, JSON, Markdown), repeated. */
async function textLike(size: number): Promise<Uint8Array> {
  const files: string[] = [];
  const walk = async (dir: string) => {
    const entries = await Array.fromAsync(Deno.readDir(dir));
    for (const entry of entries.sort((a, b) => a.name < b.name ? -1 : 1)) {
      const path = `${dir}/${entry.name}`;
      if (entry.isDirectory) await walk(path);
      else if (entry.isFile && /\.(ts|js|mjs|json|md)$/.test(entry.name)) files.push(path);
    }
  };
  for (const dir of ["src", "docs", "node_modules/.deno"]) await walk(`${ROOT}${dir}`);
  const out = new Uint8Array(size);
  for (let at = 0, i = 0; at < size; i++) {
    const bytes = await Deno.readFile(files[i % files.length]!);
    out.set(bytes.subarray(0, size - at), at);
    at += Math.min(bytes.length, size - at);
  }
  return out;
}

/** Writes `bytes` of random data (a 16 MiB random block, repeated). */
async function writeBig(path: string, bytes: number): Promise<void> {
  const block = randomBytes(Math.min(bytes, 16 * MiB));
  using file = await Deno.open(path, { write: true, create: true, truncate: true });
  for (let at = 0; at < bytes;) {
    const part = block.subarray(0, Math.min(block.length, bytes - at));
    for (let done = 0; done < part.length;) done += await file.write(part.subarray(done));
    at += part.length;
  }
}

/** `files` files of 100–1,000 bytes in 1,000 directories (as in real_bench.ts). */
function writeTree(root: string, files: number): void {
  const data = new Uint8Array(1024);
  for (let d = 0; d < DIRS; d++) Deno.mkdirSync(`${root}/d${d}`, { recursive: true });
  for (let i = 0; i < files; i++) {
    crypto.getRandomValues(data.subarray(0, 64));
    Deno.writeFileSync(`${root}/d${i % DIRS}/f${i}`, data.subarray(0, 100 + (i % 900)));
  }
}

async function makeData(peer: TestPeer): Promise<void> {
  const data = peer.datadir!;
  await Deno.mkdir(`${data}/changes`);
  await Deno.mkdir(`${peer.dir}/probe`);
  if ((settings.bigBytes ?? 0) > 0) await writeBig(`${data}/big`, settings.bigBytes!);
  if (settings.throttleFiles === true) {
    await Deno.writeFile(`${data}/text`, await textLike(THROTTLE_BYTES));
    await Deno.writeFile(`${data}/random`, randomBytes(THROTTLE_BYTES));
  }
  if ((settings.files ?? 0) > 0) writeTree(data, settings.files!);
}

/** Lines of stdin, until its end. */
async function* lines(): AsyncGenerator<string> {
  let rest = "";
  for await (const text of Deno.stdin.readable.pipeThrough(new TextDecoderStream())) {
    rest += text;
    for (let nl = rest.indexOf("\n"); nl >= 0; nl = rest.indexOf("\n")) {
      yield rest.slice(0, nl);
      rest = rest.slice(nl + 1);
    }
  }
}

async function serve(): Promise<void> {
  await using a = await TestPeer.start("a");
  await a.close(); // write the data with the arena stopped, then index it from scratch
  await makeData(a);
  await a.open();
  await serveB(a, settings.peerPem!);
  for await (const line of lines()) {
    const command: { write?: string; touch?: string } = JSON.parse(line);
    if (command.write !== undefined) {
      await Deno.writeTextFile(`${a.datadir}/${command.write}`, `changed ${line}`);
    } else if (command.touch !== undefined) {
      await Deno.writeTextFile(`${a.dir}/probe/${command.touch}`, `changed ${line}`);
    }
  }
}

function rssMiB(field: "VmRSS" | "VmHWM"): number {
  const status = Deno.readTextFileSync("/proc/self/status");
  return Number(new RegExp(`${field}:\\s+(\\d+)`).exec(status)?.[1] ?? 0) / 1024;
}

function countRemote(peer: TestPeer): number {
  return peer.db.read((tx) =>
    tx.get<{ n: number }>("SELECT count(*) AS n FROM unreal_peer_file WHERE peer = 'a'")?.n ?? 0
  );
}

/** Waits until every file of `a` is in the unreal, checking the count once all arrived. */
async function caughtUp(peer: TestPeer, files: number): Promise<void> {
  const deadline = Date.now() + IDLE_TIMEOUT_MS;
  for (;;) {
    const applied = peer.applied.reduce((n, x) => n + x.notifications, 0);
    // catchupStart + one per file + catchupComplete.
    if (applied >= files + 2) break;
    if (Date.now() > deadline) throw new Error(`catch-up incomplete: ${applied} notifications`);
    await new Promise((r) => setTimeout(r, 5));
  }
  const n = countRemote(peer);
  if (n !== files) throw new Error(`caught up with ${n} files of ${files}`);
}

async function catchup(): Promise<Record<string, number>> {
  const files = settings.files!;
  await using b = await TestPeer.start("b", { local: false });
  b.keys = await parsePrivateKey(settings.privatePem!);
  const a: PeerConfig = {
    name: parsePeerName("a"),
    address: { host: "127.0.0.1", port: settings.port! },
    pubkey: decodePublicKeyPem(settings.serverPem!),
    batchRateLimitBytesPerSec: null,
  };
  const startRssMiB = rssMiB("VmRSS");
  const t = performance.now();
  await b.join([a], { listen: null });
  await caughtUp(b, files);
  const ms = performance.now() - t;
  const heapMiB = Deno.memoryUsage().heapTotal / MiB;
  return { ms, files: countRemote(b), startRssMiB, peakRssMiB: rssMiB("VmHWM"), heapMiB };
}

const [mode] = Deno.args;
if (mode === "serve") {
  await serve();
} else if (mode === "catchup") {
  const report = await catchup();
  Deno.stdout.writeSync(new TextEncoder().encode(`${JSON.stringify(report)}\n`));
} else {
  throw new TypeError(`Unknown mode "${mode}"`);
}
