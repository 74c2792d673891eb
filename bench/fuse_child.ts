/**
 * The other processes of `fuse_bench.ts`: `fuse_child.ts MODE`, settings in
 * `REALIZE_BENCH_FUSE` (JSON).
 *
 * - `serve`: peer `a`, with a datadir. It writes `bigBytes` of random data to `big` and
 *   `files` small files in 1,000 directories under `tree/` (as in `real_bench.ts`), indexes
 *   them until idle, joins a household that knows the peer `b` (public key `peerPem`, it
 *   dials us) and prints one JSON line `{ port, pem, dir }`. It stops at the end of its
 *   input.
 * - `meta`: `lstat` and then `lgetxattr(xattr)` of the files `root/d<i % 1000>/f<i>` for
 *   `i < files`, in batches of {@linkcode META_BATCH} (each batch stat-ed, then its xattrs
 *   read while the kernel still caches the entries), with synchronous calls: this process
 *   does not serve the mount. Prints `{ statMs, xattrMs }`, the sums over the batches.
 *
 * @module
 */

import { getXattr } from "../ffi/libc/mod.ts";
import { TestPeer } from "../src/net/_peer_testing.ts";
import { serveB } from "./_child.ts";
import { configure } from "../src/util/mod.ts";

/** What the parent passes in `REALIZE_BENCH_FUSE`. */
interface Settings {
  readonly peerPem?: string;
  readonly bigBytes?: number;
  readonly files?: number;
  readonly root?: string;
  readonly xattr?: string;
}

const MiB = 1 << 20;
/** Directories of the tree. */
export const DIRS = 1000;
/** Files stat-ed, then their xattrs read, per batch of `meta`. */
export const META_BATCH = 500;

/**
 * The path of file `i` of the tree.
 *
 * @param i its number
 * @returns `d<i % 1000>/f<i>`
 */
export function treePath(i: number): string {
  return `d${i % DIRS}/f${i}`;
}

/**
 * Writes `files` files of 100–1,000 bytes in 1,000 directories (as in real_bench.ts).
 *
 * @param root the tree's root (created)
 * @param files how many
 */
export function writeTree(root: string, files: number): void {
  const data = new Uint8Array(1024);
  for (let d = 0; d < Math.min(DIRS, files); d++) {
    Deno.mkdirSync(`${root}/d${d}`, { recursive: true });
  }
  for (let i = 0; i < files; i++) {
    crypto.getRandomValues(data.subarray(0, 64));
    Deno.writeFileSync(`${root}/${treePath(i)}`, data.subarray(0, 100 + (i % 900)));
  }
}

/** Writes `bytes` of random data (a 16 MiB random block, repeated). */
async function writeBig(path: string, bytes: number): Promise<void> {
  const block = new Uint8Array(Math.min(bytes, 16 * MiB));
  for (let i = 0; i < block.length; i += 65536) {
    crypto.getRandomValues(block.subarray(i, i + 65536));
  }
  using file = await Deno.open(path, { write: true, create: true, truncate: true });
  for (let at = 0; at < bytes;) {
    const part = block.subarray(0, Math.min(block.length, bytes - at));
    for (let done = 0; done < part.length;) done += await file.write(part.subarray(done));
    at += part.length;
  }
}

async function serve(settings: Settings): Promise<void> {
  await using a = await TestPeer.start("a");
  await a.close(); // write the data with the arena stopped, then index it from scratch
  if ((settings.bigBytes ?? 0) > 0) await writeBig(`${a.datadir}/big`, settings.bigBytes!);
  if ((settings.files ?? 0) > 0) writeTree(`${a.datadir}/tree`, settings.files!);
  await a.open();
  await serveB(a, settings.peerPem!);
  for await (const _ of Deno.stdin.readable) { /* until the parent closes our input */ }
}

function meta(settings: Settings): { statMs: number; xattrMs: number } {
  const files = settings.files!;
  let statMs = 0;
  let xattrMs = 0;
  for (let start = 0; start < files; start += META_BATCH) {
    const batch: string[] = [];
    for (let i = start; i < Math.min(files, start + META_BATCH); i++) {
      batch.push(`${settings.root}/${treePath(i)}`);
    }
    let t = performance.now();
    for (const p of batch) Deno.lstatSync(p);
    statMs += performance.now() - t;
    t = performance.now();
    for (const p of batch) {
      if (getXattr(p, settings.xattr!) === null) throw new Error(`${p}: no ${settings.xattr}`);
    }
    xattrMs += performance.now() - t;
  }
  return { statMs, xattrMs };
}

if (import.meta.main) {
  configure({ write: () => {} }); // the parent prints the report
  const settings: Settings = JSON.parse(Deno.env.get("REALIZE_BENCH_FUSE") ?? "{}");
  const [mode] = Deno.args;
  if (mode === "serve") {
    await serve(settings);
  } else if (mode === "meta") {
    Deno.stdout.writeSync(new TextEncoder().encode(`${JSON.stringify(meta(settings))}\n`));
  } else {
    throw new TypeError(`Unknown mode "${mode}"`);
  }
}
