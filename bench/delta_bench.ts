/**
 * Deltas, compression and throttling (src/delta/). Three parts, each against a reference
 * measured in the same run:
 *
 * - rsync on 64 MiB: `DeltaPool` signature, delta (similar data, and unrelated data, the
 *   worst case) and `patch`, against librsync's `rdiff` (same block and strong-hash sizes)
 *   on the same files, timed as whole processes reading the page cache. Without `rdiff`,
 *   the reference is reading the file.
 * - zstd on 1 MiB chunks of text-like and random data: `compressChunk`/`decompressChunk`
 *   against a memcpy of the same bytes; and the longest main-thread stall while 8 MiB of
 *   text is compressed inline or through the pool.
 * - seed #compress: 8 MiB through a 2 MB/s link, compressed (compression time plus the
 *   compressed bytes at the rate, plus decompression) against raw (the bytes at the rate).
 *
 * @module
 */

import { Buffer } from "node:buffer";
import {
  compressChunk,
  decompressChunk,
  delta,
  DeltaPool,
  isEmptyDelta,
  patch,
  signature,
} from "../src/delta/mod.ts";
import type { Result } from "./_report.ts";

const MiB = 1 << 20;
const RSYNC_BYTES = 64 * MiB;
const CHUNK_BYTES = MiB;
const LINK_BYTES = 8 * MiB;
const LINK_RATE = 2_000_000; // bytes per second, the rate of seed #compress
const BLOCK_BYTES = 16 << 10;
const STRONG_BYTES = 16;
const RUNS = 3;
const ROOT = new URL("..", import.meta.url).pathname;

function randomBytes(size: number): Uint8Array {
  const out = new Uint8Array(size);
  for (let i = 0; i < size; i += 65536) crypto.getRandomValues(out.subarray(i, i + 65536));
  return out;
}

/** Source text of this repository and its npm packages (TS, JS, JSON, Markdown), repeated. */
function textLike(size: number): Uint8Array {
  const files: string[] = [];
  const walk = (dir: string) => {
    for (const entry of [...Deno.readDirSync(dir)].sort((a, b) => a.name < b.name ? -1 : 1)) {
      const path = `${dir}/${entry.name}`;
      if (entry.isDirectory && !/^(\.git|\.tools)$/.test(entry.name)) walk(path);
      else if (entry.isFile && /\.(ts|js|mjs|json|md)$/.test(entry.name)) files.push(path);
    }
  };
  for (const dir of ["src", "docs", "node_modules/.deno"]) walk(`${ROOT}${dir}`);
  const out = new Uint8Array(size);
  for (let at = 0, i = 0; at < size; i++) {
    const bytes = Deno.readFileSync(files[i % files.length]!);
    out.set(bytes.subarray(0, size - at), at);
    at += Math.min(bytes.length, size - at);
  }
  return out;
}

/** Old data, new data with 5 flipped bytes and a 3-byte insertion, and unrelated data. */
function rsyncData(): { old: Uint8Array; similar: Uint8Array; other: Uint8Array } {
  const old = randomBytes(RSYNC_BYTES);
  const at = 20_000_000;
  const similar = new Uint8Array(RSYNC_BYTES + 3);
  similar.set(old.subarray(0, at));
  similar.set([1, 2, 3], at);
  similar.set(old.subarray(at), at + 3);
  for (const flip of [1e6, 3e7, 4e7, 5e7, 6e7]) similar[flip]! ^= 0xff;
  return { old, similar, other: randomBytes(RSYNC_BYTES) };
}

async function hasRdiff(): Promise<boolean> {
  try {
    return (await new Deno.Command("rdiff", { args: ["--version"], stdout: "null" }).output())
      .success;
  } catch {
    return false;
  }
}

async function rdiff(...args: string[]): Promise<void> {
  const flags = ["-f", "-b", `${BLOCK_BYTES}`, "-S", `${STRONG_BYTES}`];
  const out = await new Deno.Command("rdiff", { args: [...flags, ...args] }).output();
  if (!out.success) {
    throw new Error(`rdiff ${args.join(" ")}: ${new TextDecoder().decode(out.stderr)}`);
  }
}

/** One measured operation: `run` processes `bytes` bytes. */
interface Case {
  readonly bytes: number;
  readonly run: () => unknown;
}

/**
 * Times every case {@linkcode RUNS} times, round-robin, so that a disturbance hits
 * references and measured values alike, and returns each case's best rate in MB/s.
 */
async function bestRates(cases: readonly Case[], runs = RUNS): Promise<number[]> {
  const best = cases.map(() => Infinity);
  for (let i = 0; i < runs; i++) {
    for (const [c, { run }] of cases.entries()) {
      const t = performance.now();
      await run();
      best[c] = Math.min(best[c]!, performance.now() - t);
    }
  }
  return cases.map(({ bytes }, c) => bytes / 1e6 / (best[c]! / 1000));
}

function mbs(name: string, value: number, reference: string, referenceValue: number): Result {
  return { name, value, reference, referenceValue, unit: "MB/s" };
}

async function rsyncCases(dir: string, pool: DeltaPool) {
  const { old, similar, other } = rsyncData();
  const files = { old, similar, other };
  for (const [name, bytes] of Object.entries(files)) await Deno.writeFile(`${dir}/${name}`, bytes);
  const sig = await pool.signature(old);
  const deltas = { similar: await pool.delta(sig, similar), other: await pool.delta(sig, other) };
  if (isEmptyDelta(deltas.similar, old.length)) throw new Error("similar data gave no change");
  if (Buffer.compare(patch(old, deltas.similar), similar) !== 0) throw new Error("bad patch");
  const useRdiff = await hasRdiff();
  const p = (name: string) => `${dir}/${name}`;
  const ref = useRdiff
    ? {
      sig: () => rdiff("signature", p("old"), p("old.sig")),
      similar: () => rdiff("delta", p("old.sig"), p("similar"), p("similar.delta")),
      other: () => rdiff("delta", p("old.sig"), p("other"), p("other.delta")),
      patch: () => rdiff("patch", p("old"), p("similar.delta"), p("similar.out")),
    }
    : null;
  await ref?.sig(); // the signature file the deltas need
  const read = () => Deno.readFile(p("old"));
  const ours: Case[] = [
    { bytes: RSYNC_BYTES, run: () => pool.signature(old) },
    { bytes: RSYNC_BYTES, run: () => pool.delta(sig, similar) },
    { bytes: RSYNC_BYTES, run: () => pool.delta(sig, other) },
    { bytes: RSYNC_BYTES, run: () => patch(old, deltas.similar) },
    { bytes: RSYNC_BYTES, run: () => signature(old) },
    { bytes: RSYNC_BYTES, run: () => delta(sig, other) },
  ];
  const theirs: Case[] = ref === null
    ? [{ bytes: RSYNC_BYTES, run: read }]
    : [ref.sig, ref.similar, ref.other, ref.patch].map((run) => ({ bytes: RSYNC_BYTES, run }));
  const rates = await bestRates([...ours, ...theirs]);
  return { rates, useRdiff, deltas, sig };
}

async function rsyncResults(dir: string): Promise<Result[]> {
  using pool = new DeltaPool({ workers: 1 });
  const { rates, useRdiff, deltas, sig } = await rsyncCases(dir, pool);
  const [sigRate, similarRate, otherRate, patchRate, sigInline, otherInline, ...refs] = rates as [
    number,
    number,
    number,
    number,
    number,
    number,
    ...number[],
  ];
  const ref = (i: number) => refs[useRdiff ? i : 0]!;
  const names = useRdiff
    ? ["rdiff signature", "rdiff delta", "rdiff delta", "rdiff patch"]
    : ["read file", "read file", "read file", "read file"];
  const results = [
    mbs("signature, 64 MiB (pool)", sigRate, names[0]!, ref(0)),
    mbs("delta, similar 64 MiB (pool)", similarRate, names[1]!, ref(1)),
    mbs("delta, unrelated 64 MiB (pool)", otherRate, names[2]!, ref(2)),
    mbs("patch, similar 64 MiB (inline)", patchRate, names[3]!, ref(3)),
    mbs("signature, 64 MiB (inline, no copy to a worker)", sigInline, names[0]!, ref(0)),
    mbs("delta, unrelated 64 MiB (inline)", otherInline, names[2]!, ref(2)),
  ];
  if (useRdiff) {
    const size = async (name: string) => (await Deno.stat(`${dir}/${name}`)).size / 1000;
    results.push(
      sizeRow("signature size", sig.length / 1000, await size("old.sig")),
      sizeRow("delta size, similar", deltas.similar.length / 1000, await size("similar.delta")),
    );
  }
  return results;
}

function sizeRow(name: string, value: number, referenceValue: number): Result {
  return { name, value, reference: "rdiff", referenceValue, unit: "kB" };
}

/**
 * Compresses 8 chunks of each kind and decompresses the text ones (random chunks go raw:
 * the probe decides), against memcpy of the same bytes.
 */
async function zstdResults(text: Uint8Array, random: Uint8Array): Promise<Result[]> {
  const texts = chunksOf(text);
  const randoms = chunksOf(random);
  const packed = texts.map((part) => compressChunk(part));
  if (randoms.some((part) => compressChunk(part).compressed)) throw new Error("random compressed");
  const ratio = packed.reduce((sum, c) => sum + c.data.length, 0) / text.length;
  const [compress, decompress, probe, memcpy] = await bestRates([
    { bytes: text.length, run: () => texts.forEach((part) => compressChunk(part)) },
    {
      bytes: text.length,
      run: () => packed.forEach((c) => decompressChunk(c.data, { maxSize: CHUNK_BYTES })),
    },
    { bytes: random.length, run: () => randoms.forEach((part) => compressChunk(part)) },
    { bytes: text.length, run: () => texts.forEach((part) => new Uint8Array(part)) },
  ], 5);
  return [
    mbs(`compressChunk, 1 MiB text (out/in ${ratio.toFixed(3)})`, compress!, "memcpy", memcpy!),
    mbs("decompressChunk, 1 MiB text", decompress!, "memcpy", memcpy!),
    mbs("compressChunk, 1 MiB random (probe: raw)", probe!, "memcpy", memcpy!),
  ];
}

function chunksOf(data: Uint8Array): Uint8Array[] {
  return Array.from(
    { length: data.length / CHUNK_BYTES },
    (_, i) => data.subarray(i * CHUNK_BYTES, (i + 1) * CHUNK_BYTES),
  );
}

/** The longest gap between 1 ms timer ticks while `work` runs: how long the loop stalls. */
async function longestStall(work: () => Promise<unknown>): Promise<number> {
  let last = performance.now();
  let longest = 0;
  const tick = setInterval(() => {
    const now = performance.now();
    longest = Math.max(longest, now - last);
    last = now;
  }, 1);
  try {
    await new Promise((resolve) => setTimeout(resolve, 20));
    longest = 0;
    last = performance.now();
    await work();
    await new Promise((resolve) => setTimeout(resolve, 5)); // the gap the work ended in
    return longest;
  } finally {
    clearInterval(tick);
  }
}

/** Compressing 8 MiB of text, 1 MiB at a time, yielding between chunks as a sender would. */
async function stallResults(text: Uint8Array): Promise<Result[]> {
  using pool = new DeltaPool({ workers: 1 });
  const parts = chunksOf(text);
  await pool.compressChunk(parts[0]!); // starts the worker
  let inline = Infinity;
  let pooled = Infinity;
  for (let i = 0; i < RUNS; i++) {
    inline = Math.min(
      inline,
      await longestStall(async () => {
        for (const part of parts) {
          compressChunk(part);
          await new Promise((resolve) => setTimeout(resolve, 0));
        }
      }),
    );
    pooled = Math.min(
      pooled,
      await longestStall(async () => {
        for (const part of parts) await pool.compressChunk(part);
      }),
    );
  }
  const name = "longest main-thread stall, 8 × 1 MiB text, DeltaPool";
  return [{
    name,
    value: pooled,
    reference: "compressChunk inline",
    referenceValue: inline,
    unit: "ms",
  }];
}

/**
 * Seed #compress: the time to move `data` over a {@linkcode LINK_RATE} link, compressed
 * chunk by chunk (compress, send the compressed bytes at the rate, decompress), against
 * sending it raw. Reported as the data's effective rate.
 */
async function linkResults(text: Uint8Array, random: Uint8Array): Promise<Result[]> {
  const results: Result[] = [];
  for (const [kind, data] of [["text", text], ["random", random]] as const) {
    const parts = chunksOf(data);
    const packed = parts.map((part) => compressChunk(part));
    const wire = packed.reduce((sum, c) => sum + c.data.length + 1, 0); // + a raw/zstd flag
    const [compress, decompress] = await bestRates([
      { bytes: data.length, run: () => parts.forEach((part) => compressChunk(part)) },
      {
        bytes: data.length,
        run: () =>
          packed.forEach((c) => c.compressed && decompressChunk(c.data, { maxSize: CHUNK_BYTES })),
      },
    ]);
    const cpuSeconds = data.length / 1e6 / compress! + data.length / 1e6 / decompress!;
    const seconds = cpuSeconds + wire / LINK_RATE;
    const raw = data.length / LINK_RATE;
    results.push(
      mbs(
        `8 MiB ${kind} over 2 MB/s, compressed (${seconds.toFixed(2)} s)`,
        data.length / 1e6 / seconds,
        `raw (${raw.toFixed(2)} s)`,
        data.length / 1e6 / raw,
      ),
    );
  }
  return results;
}

/**
 * Runs the benchmark in a temporary directory.
 *
 * @returns the results
 */
export async function run(): Promise<Result[]> {
  const dir = await Deno.makeTempDir({ prefix: "realize-bench-delta-" });
  try {
    const rsync = await rsyncResults(dir);
    const text = textLike(LINK_BYTES);
    const random = randomBytes(LINK_BYTES);
    return [
      ...rsync,
      ...(await zstdResults(text, random)),
      ...(await stallResults(text)),
      ...(await linkResults(text, random)),
    ];
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}
