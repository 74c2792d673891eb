// One arena's real in its own process, for bench/real_bench.ts: indexes DATADIR into
// WORKDIR, waits until idle, prints timings, the number of files hashed and peak RSS.
import { openArenaDatabase } from "../src/storage/mod.ts";
import { parseArenaName } from "../src/types/mod.ts";
import { HashPool, REAL_SCHEMAS, RealArena } from "../src/real/mod.ts";

const [workdir, datadir] = Deno.args;
if (workdir === undefined || datadir === undefined) throw new Error("usage: WORKDIR DATADIR");
const t0 = performance.now();
const db = openArenaDatabase(workdir, parseArenaName("bench"), { schemas: REAL_SCHEMAS });
const pool = new HashPool({ workers: 2 });
let hashed = 0;
const counting = {
  hashFile: (p: string, o?: { signal?: AbortSignal }) => {
    hashed++;
    return pool.hashFile(p, o);
  },
};
const arena = new RealArena({
  name: "bench",
  db,
  datadir,
  debounceMs: 0,
  pool: counting,
  hashersMax: 4,
});
await arena.start();
const scanMs = performance.now() - t0;
while (!arena.idle()) await new Promise((r) => setTimeout(r, 20));
const idleMs = performance.now() - t0;
const files = arena.status().files;
await arena.stop();
await pool.close();
db.close();
const status = Deno.readTextFileSync("/proc/self/status");
const hwmKiB = Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0);
Deno.stdout.writeSync(
  new TextEncoder().encode(
    JSON.stringify({ scanMs, idleMs, files, hashed, peakRssMiB: hwmKiB / 1024 }),
  ),
);
