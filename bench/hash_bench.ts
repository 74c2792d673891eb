/**
 * Hashing: `HashPool.hashFile` on files in the page cache, against the `b3sum` command
 * (BLAKE3's reference tool, memory-mapping the file) on the same files in the same run.
 *
 * @module
 */

import { HashPool } from "../src/real/hash_pool.ts";
import type { Result } from "./_report.ts";

const FILE_BYTES = 1 << 30;
const FILL_BYTES = 16 << 20;
const RANDOM_SLICE_BYTES = 65536; // the most crypto.getRandomValues fills at once
const RUNS = 3;

async function writeRandomFile(path: string): Promise<void> {
  const buffer = new Uint8Array(FILL_BYTES);
  for (let i = 0; i < FILL_BYTES; i += RANDOM_SLICE_BYTES) {
    crypto.getRandomValues(buffer.subarray(i, i + RANDOM_SLICE_BYTES));
  }
  using file = await Deno.open(path, { write: true, create: true, truncate: true });
  for (let written = 0; written < FILE_BYTES; written += FILL_BYTES) {
    let done = 0;
    while (done < FILL_BYTES) done += await file.write(buffer.subarray(done));
  }
}

/** Reads a file once so that every measurement finds it in the page cache. */
async function warm(path: string): Promise<void> {
  const buffer = new Uint8Array(FILL_BYTES);
  using file = await Deno.open(path);
  while (await file.read(buffer) !== null) { /* read on */ }
}

async function b3sum(path: string, threads: number | null): Promise<string> {
  const args = [...(threads === null ? [] : ["--num-threads", `${threads}`]), "--no-names", path];
  const out = await new Deno.Command("b3sum", { args, stdout: "piped" }).output();
  if (!out.success) throw new Error(`Cannot run b3sum: ${new TextDecoder().decode(out.stderr)}`);
  return new TextDecoder().decode(out.stdout).trim();
}

/** One measured operation: `run` processes `bytes` bytes. */
interface Case {
  readonly bytes: number;
  readonly run: () => Promise<unknown>;
}

/**
 * Times every case {@linkcode RUNS} times, round-robin, so that a disturbance hits
 * references and measured values alike, and returns each case's best rate in MB/s.
 */
async function bestRates(cases: readonly Case[]): Promise<number[]> {
  const best = cases.map(() => Infinity);
  for (let i = 0; i < RUNS; i++) {
    for (const [c, { run }] of cases.entries()) {
      const t = performance.now();
      await run();
      best[c] = Math.min(best[c]!, performance.now() - t);
    }
  }
  return cases.map(({ bytes }, c) => bytes / 1e6 / (best[c]! / 1000));
}

async function checkSameHash(pool: HashPool, path: string): Promise<void> {
  const ours = (await pool.hashFile(path)).hash.bytes().toHex();
  const theirs = await b3sum(path, 1);
  if (ours !== theirs) throw new Error(`Hash mismatch on "${path}": ${ours} vs b3sum ${theirs}`);
}

async function measure(a: string, b: string): Promise<Result[]> {
  const one = new HashPool({ workers: 1 });
  const two = new HashPool({ workers: 2 });
  try {
    await checkSameHash(one, a); // also starts the worker
    await Promise.all([two.hashFile(a), two.hashFile(b)]); // starts both workers
    const [b3One, b3All, pool, b3Two, pool2] = await bestRates([
      { bytes: FILE_BYTES, run: () => b3sum(a, 1) },
      { bytes: FILE_BYTES, run: () => b3sum(a, null) },
      { bytes: FILE_BYTES, run: () => one.hashFile(a) },
      { bytes: 2 * FILE_BYTES, run: () => Promise.all([a, b].map((f) => b3sum(f, 1))) },
      { bytes: 2 * FILE_BYTES, run: () => Promise.all([a, b].map((f) => two.hashFile(f))) },
    ]);
    const single = "b3sum --num-threads 1";
    return [
      { name: "HashPool, 1 worker", value: pool!, reference: single, referenceValue: b3One! },
      { name: "b3sum, all threads", value: b3All!, reference: single, referenceValue: b3One! },
      {
        name: "HashPool, 2 files on 2 workers",
        value: pool2!,
        reference: `2 × ${single} in parallel`,
        referenceValue: b3Two!,
      },
    ].map((r) => ({ ...r, unit: "MB/s" }));
  } finally {
    await one.close();
    await two.close();
  }
}

/**
 * Runs the hash benchmarks on two 1 GiB files in a temporary directory.
 *
 * @returns the results
 * @throws {Error} when `b3sum` is missing or disagrees with {@linkcode HashPool}
 */
export async function run(): Promise<Result[]> {
  const dir = await Deno.makeTempDir({ prefix: "realize-bench-" });
  try {
    const a = `${dir}/a`;
    const b = `${dir}/b`;
    for (const path of [a, b]) await writeRandomFile(path);
    for (const path of [a, b]) await warm(path);
    return await measure(a, b);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}
