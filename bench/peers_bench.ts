/**
 * Two peers over TLS on loopback, each in its own process: peer `a` (`peers_child.ts serve`,
 * a datadir, its real and a household) and peer `b` (this process, no datadir, or a fresh
 * `peers_child.ts catchup`). Four measures, each against a reference in the same run:
 *
 * 1. reading a 1 GiB file (`REALIZE_BENCH_PEERS_BYTES`) through `Household.read` with several
 *    requests in flight, interactive, uncompressed, against raw TLS between two processes;
 * 2. a fresh `b` catching up with 100,000 files (`REALIZE_BENCH_FILES`), against copying the
 *    same rows from `a`'s index into a fresh SQLite table;
 * 3. a small file written on `a` until `b` shows it and has its hash, against the same write
 *    (outside the arena) observed by the same poll loop on the local filesystem;
 * 4. 8 MiB batch reads of text and random data with `b` asking for 2 MB/s, compressed or not.
 *
 * @module
 */

import { DatabaseSync } from "node:sqlite";
import { exists, firstLine, reap, spawnChild } from "./_child.ts";
import type { Result } from "./_report.ts";
import { rawBulk } from "./net_bench.ts";
import type { PeerConfig } from "../src/config/mod.ts";
import { decodePublicKeyPem, generateKeyPair, type KeyPair } from "../src/keys/mod.ts";
import { DOCS, TestPeer } from "../src/net/_peer_testing.ts";
import { ARENA_DB_FILE } from "../src/storage/mod.ts";
import { type Hash, parsePeerName, type Path, paths } from "../src/types/mod.ts";
import { defaultVersion } from "../src/unreal/mod.ts";
import { configure } from "../src/util/mod.ts";

const MiB = 1 << 20;
const BYTES = Number(Deno.env.get("REALIZE_BENCH_PEERS_BYTES") ?? 2 ** 30);
const FILES = Number(Deno.env.get("REALIZE_BENCH_FILES") ?? 100_000);
const RUNS = 3;
const CATCHUP_RUNS = 3;
const THROTTLE_RUNS = 2;
const SAMPLES = 20;
const THROTTLE_RATE = 2_000_000; // bytes per second, seed #compress
const THROTTLE_BYTES = 8 * MiB;
/** Reads in flight × MiB per read request. */
/** Requests in flight × MiB each; `REALIZE_BENCH_PEERS_SHAPES=8x1,2x8` for others. */
const SHAPES: readonly (readonly [number, number])[] =
  Deno.env.get("REALIZE_BENCH_PEERS_SHAPES")?.split(",").map((s) => {
    const [n, mib] = s.split("x").map(Number);
    if (!(n! >= 1 && mib! > 0)) throw new Error(`bad shape "${s}": want NxMIB, e.g. 8x1`);
    return [n!, mib!] as const;
  }) ?? [[1, 16], [2, 16], [4, 4], [4, 16], [8, 8]];
const WAIT_MS = 60_000;
const CHILD = new URL("./peers_child.ts", import.meta.url).pathname;

/** What a serving child prints once ready. */
interface Ready {
  readonly port: number;
  readonly pem: string;
  readonly dir: string;
}

/** What a catch-up child prints. */
interface CatchupReport {
  readonly ms: number;
  readonly files: number;
  readonly startRssMiB: number;
  readonly peakRssMiB: number;
  readonly heapMiB: number;
}

/** Peer `a` in its own process, told what to do through its stdin. */
class ServeChild {
  readonly ready: Ready;
  readonly #child: Deno.ChildProcess;
  readonly #stdin: WritableStreamDefaultWriter<Uint8Array>;

  private constructor(child: Deno.ChildProcess, ready: Ready) {
    this.#child = child;
    this.ready = ready;
    this.#stdin = child.stdin.getWriter();
  }

  /** Starts `peers_child.ts serve` and waits until it has indexed its data and listens. */
  static async start(settings: object): Promise<ServeChild> {
    const child = spawnChild(CHILD, "REALIZE_BENCH_PEERS", "serve", settings, "piped");
    try {
      return new ServeChild(child, JSON.parse(await firstLine(child.stdout, "peers_child")));
    } catch (error) {
      child.kill("SIGKILL");
      await reap(child);
      throw error;
    }
  }

  /** Sends one command (`{ write }` or `{ touch }`). */
  async command(c: { write?: string; touch?: string }): Promise<void> {
    await this.#stdin.write(new TextEncoder().encode(`${JSON.stringify(c)}\n`));
  }

  /** This peer as `b`'s `[[peer]]` entry. */
  asPeer(batchRateLimit: number | null): PeerConfig {
    return {
      name: parsePeerName("a"),
      address: { host: "127.0.0.1", port: this.ready.port },
      pubkey: decodePublicKeyPem(this.ready.pem),
      batchRateLimitBytesPerSec: batchRateLimit,
    };
  }

  /** Ends its input, waits for it to clean up, and removes what a killed child left. */
  async close(): Promise<void> {
    await this.#stdin.close().catch(() => {});
    const status = await reap(this.#child);
    await Deno.remove(this.ready.dir, { recursive: true }).catch(() => {});
    if (!status.success) throw new Error(`peers_child serve exited with ${status.code}`);
  }
}

/** What `b` shows at a path: nothing, a pending version, or a hashed one. */
function shown(b: TestPeer, path: Path): Hash | null | undefined {
  const d = b.db.read((tx) => defaultVersion(tx, path));
  return d === null ? undefined : d.hash;
}

/** The poll loop of every latency measure (and of its reference): check, sleep 1 ms. */
async function poll(cond: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + WAIT_MS;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 1));
  }
}

function mbs(bytes: number, ms: number): number {
  return bytes / 1e3 / ms;
}

/** Reads `big` whole, `inFlight` requests of `mib` MiB at a time; MB/s. */
async function readAll(b: TestPeer, hash: Hash, [inFlight, mib]: readonly [number, number]) {
  const target = { arena: DOCS, path: paths.parse("big"), hash };
  const step = mib * MiB;
  let next = 0;
  let got = 0;
  const reader = async () => {
    while (next < BYTES) {
      const offset = next;
      next += step;
      const range = { offset, length: Math.min(step, BYTES - offset) };
      await b.household!.read(target, range, (_o, bytes) => void (got += bytes.length));
    }
  };
  const t = performance.now();
  await Promise.all(Array.from({ length: inFlight }, reader));
  const ms = performance.now() - t;
  if (got !== BYTES) throw new Error(`read ${got} of ${BYTES} bytes`);
  return mbs(got, ms);
}

/** Goal 1: reads against raw TLS, round-robin, best of {@linkcode RUNS}. */
async function readResults(b: TestPeer, hash: Hash): Promise<Result[]> {
  const keys = { server: await generateKeyPair(), client: await generateKeyPair() };
  let tls = 0;
  const best = SHAPES.map(() => 0);
  for (let run = 0; run < RUNS; run++) {
    tls = Math.max(tls, await rawBulk("tls-send", keys, undefined, BYTES));
    for (const [i, shape] of SHAPES.entries()) {
      best[i] = Math.max(best[i]!, await readAll(b, hash, shape));
    }
  }
  const size = BYTES >= 2 ** 30 ? `${BYTES / 2 ** 30} GiB` : `${BYTES / MiB} MiB`;
  return SHAPES.map(([n, mib], i) => ({
    name: `household.read of ${size}, ${n} × ${mib} MiB in flight`,
    value: best[i]!,
    unit: "MB/s",
    reference: "raw TLS",
    referenceValue: tls,
  }));
}

function percentile(xs: readonly number[], q: number): number {
  const sorted = [...xs].sort((x, y) => x - y);
  return sorted[Math.max(0, Math.ceil(q * sorted.length) - 1)]!;
}

/** Goal 3: a write on `a` until `b` shows it, then has its hash; floor: stat polling. */
async function latencyResults(b: TestPeer, a: ServeChild): Promise<Result[]> {
  const floor: number[] = [];
  const pending: number[] = [];
  const hashed: number[] = [];
  for (let i = 0; i < SAMPLES; i++) {
    const probe = `${a.ready.dir}/probe/p${i}`;
    let t = performance.now();
    await a.command({ touch: `p${i}` });
    await poll(() => exists(probe), `probe ${i}`);
    floor.push(performance.now() - t);
    const path = paths.parse(`changes/c${i}`);
    t = performance.now();
    await a.command({ write: path });
    await poll(() => shown(b, path) !== undefined, `${path} shown`);
    pending.push(performance.now() - t);
    await poll(() => (shown(b, path) ?? null) !== null, `${path} hashed`);
    hashed.push(performance.now() - t);
  }
  const row = (name: string, xs: number[], q: number, label: string): Result => ({
    name: `${name}, ${label} of ${SAMPLES}`,
    value: percentile(xs, q),
    unit: "ms",
    reference: `write + stat poll, ${label}`,
    referenceValue: percentile(floor, q),
  });
  return [
    row("change on a → shown on b", pending, 0.5, "median"),
    row("change on a → shown on b", pending, 0.9, "p90"),
    row("change on a → hash on b", hashed, 0.5, "median"),
    row("change on a → hash on b", hashed, 0.9, "p90"),
  ];
}

/** Goal 4: 8 MiB batch reads under `b`'s 2 MB/s limit, compressed or raw; best times. */
async function throttleResults(b: TestPeer, hashes: Map<string, Hash>): Promise<Result[]> {
  const cases = [["text", true], ["text", false], ["random", true], ["random", false]] as const;
  const best = cases.map(() => Infinity);
  for (let run = 0; run < THROTTLE_RUNS; run++) {
    for (const [i, [file, compress]] of cases.entries()) {
      const target = { arena: DOCS, path: paths.parse(file), hash: hashes.get(file)! };
      let got = 0;
      const t = performance.now();
      await b.household!.read(target, { offset: 0, length: THROTTLE_BYTES }, (_o, bytes) => {
        got += bytes.length;
      }, { batch: true, compress });
      if (got !== THROTTLE_BYTES) throw new Error(`read ${got} of ${THROTTLE_BYTES} bytes`);
      best[i] = Math.min(best[i]!, performance.now() - t);
    }
  }
  const s = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
  const rate = `${THROTTLE_RATE / 1e6} MB/s`;
  return [0, 2].map((i) => ({
    name: `8 MiB ${cases[i]![0]} over ${rate}, compressed (${s(best[i]!)})`,
    value: mbs(THROTTLE_BYTES, best[i]!),
    unit: "MB/s",
    reference: `raw (${s(best[i + 1]!)})`,
    referenceValue: mbs(THROTTLE_BYTES, best[i + 1]!),
  }));
}

async function announced(b: TestPeer, names: readonly string[]): Promise<Map<string, Hash>> {
  const hashes = new Map<string, Hash>();
  await poll(() => {
    for (const name of names) {
      const h = shown(b, paths.parse(name));
      if (h !== undefined && h !== null) hashes.set(name, h);
    }
    return hashes.size === names.length;
  }, `${names.join(", ")} announced with their hashes`);
  return hashes;
}

/** Goals 1, 3 and 4: this process is `b`, dialling `a`, which has `big`, `text`, `random`. */
async function transferResults(): Promise<Result[]> {
  await using b = await TestPeer.start("b", { local: false });
  const a = await ServeChild.start({
    peerPem: b.keys.publicKey.pem,
    bigBytes: BYTES,
    throttleFiles: true,
  });
  try {
    await b.join([a.asPeer(THROTTLE_RATE)], { listen: null });
    const hashes = await announced(b, ["big", "text", "random"]);
    const read = await readResults(b, hashes.get("big")!);
    const latency = await latencyResults(b, a);
    const throttle = await throttleResults(b, hashes);
    return [...read, ...latency, ...throttle];
  } finally {
    await b.leave();
    await a.close();
  }
}

/** The reference of goal 2: `a`'s index rows into a fresh table, one transaction; ms. */
function copyRows(source: string, dir: string): number {
  const t = performance.now();
  const from = new DatabaseSync(source, { readOnly: true });
  const to = new DatabaseSync(`${dir}/copy-${t}.db`);
  try {
    to.exec("PRAGMA journal_mode = WAL");
    to.exec("PRAGMA synchronous = NORMAL");
    to.exec(`CREATE TABLE peer_file (
      path TEXT NOT NULL, peer TEXT NOT NULL, hash BLOB, size INTEGER NOT NULL,
      mtime_secs INTEGER NOT NULL, mtime_nsecs INTEGER NOT NULL, PRIMARY KEY (path, peer)
    ) WITHOUT ROWID`);
    const insert = to.prepare("INSERT INTO peer_file VALUES (?, 'a', ?, ?, ?, ?)");
    const rows = from.prepare(
      "SELECT path, hash, size, mtime_secs, mtime_nsecs FROM index_file ORDER BY path",
    );
    to.exec("BEGIN");
    let n = 0;
    for (const r of rows.iterate()) {
      insert.run(r.path!, r.hash!, r.size!, r.mtime_secs!, r.mtime_nsecs!);
      n++;
    }
    to.exec("COMMIT");
    if (n !== FILES) throw new Error(`copied ${n} rows of ${FILES}`);
  } finally {
    to.close();
    from.close();
  }
  return performance.now() - t;
}

async function catchupChild(a: ServeChild, keys: KeyPair): Promise<CatchupReport> {
  const child = spawnChild(CHILD, "REALIZE_BENCH_PEERS", "catchup", {
    files: FILES,
    privatePem: keys.privatePem,
    serverPem: a.ready.pem,
    port: a.ready.port,
  }, "null");
  const out = await child.output();
  if (!out.success) throw new Error(`peers_child catchup exited with ${out.code}`);
  return JSON.parse(new TextDecoder().decode(out.stdout));
}

/** Goal 2: a fresh `b` per run, round-robin with the reference, best of {@linkcode CATCHUP_RUNS}. */
async function catchupResults(): Promise<Result[]> {
  const keys = await generateKeyPair();
  const dir = await Deno.makeTempDir({ prefix: "realize-bench-peers-" });
  const a = await ServeChild.start({ peerPem: keys.publicKey.pem, files: FILES });
  try {
    let copyMs = Infinity;
    const reports: CatchupReport[] = [];
    for (let run = 0; run < CATCHUP_RUNS; run++) {
      copyMs = Math.min(copyMs, copyRows(`${a.ready.dir}/work/${ARENA_DB_FILE}`, dir));
      reports.push(await catchupChild(a, keys));
    }
    const best = reports.reduce((x, y) => (y.ms < x.ms ? y : x));
    const peak = Math.max(...reports.map((r) => r.peakRssMiB));
    const start = Math.max(...reports.map((r) => r.startRssMiB));
    const heap = Math.max(...reports.map((r) => r.heapMiB));
    const note = `${(best.ms / 1000).toFixed(2)} s; peak RSS ${peak.toFixed(0)} MiB, ` +
      `${start.toFixed(0)} before dialling, V8 heap ${heap.toFixed(0)} at the end`;
    return [{
      name: `catch-up of ${FILES} files by a fresh b (${note})`,
      value: FILES / (best.ms / 1000),
      unit: "files/s",
      reference: "index rows → fresh SQLite table",
      referenceValue: FILES / (copyMs / 1000),
    }];
  } finally {
    await a.close();
    await Deno.remove(dir, { recursive: true });
  }
}

/**
 * Runs the benchmark on loopback.
 *
 * @returns the results
 */
export async function run(): Promise<Result[]> {
  const previous = configure({ write: () => {} }); // no connection lines in the report
  try {
    const transfer = await transferResults();
    const catchup = await catchupResults();
    return [...transfer.slice(0, SHAPES.length), ...catchup, ...transfer.slice(SHAPES.length)];
  } finally {
    configure(previous);
  }
}

if (import.meta.main) {
  const { table } = await import("./_report.ts");
  Deno.stdout.writeSync(new TextEncoder().encode(`${table(await run())}\n`));
}
