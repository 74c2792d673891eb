/**
 * `deno task bench`: runs every benchmark and prints ratios against references measured
 * in the same run (see docs/benchmarks.md).
 *
 * @module
 */

import { type Result, table } from "./_report.ts";
import * as delta from "./delta_bench.ts";
import * as fuse from "./fuse_bench.ts";
import * as hash from "./hash_bench.ts";
import * as net from "./net_bench.ts";
import * as peers from "./peers_bench.ts";
import * as real from "./real_bench.ts";
import * as storage from "./storage_bench.ts";
import * as view from "./view_bench.ts";

const SUITES: Record<string, () => Result[] | Promise<Result[]>> = {
  storage: storage.run,
  hash: hash.run,
  real: real.run,
  view: view.run,
  delta: delta.run,
  net: net.run,
  peers: peers.run,
  fuse: fuse.run,
};

if (import.meta.main) {
  const only = Deno.args;
  for (const [name, run] of Object.entries(SUITES)) {
    if (only.length > 0 && !only.includes(name)) continue;
    const results = await run();
    const out = `\n## ${name}\n\n${table(results)}\n`;
    Deno.stdout.writeSync(new TextEncoder().encode(out));
  }
}
