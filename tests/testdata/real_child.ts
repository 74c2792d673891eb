// A process running one arena's real until killed: `real_child.ts WORKDIR DATADIR [--exit-when-idle]`.
// Prints "started" after the catch-up scan and "idle" when nothing is left to do.
import { openArenaDatabase } from "../../src/storage/mod.ts";
import { parseArenaName } from "../../src/types/mod.ts";
import { HashPool, REAL_SCHEMAS, RealArena } from "../../src/real/mod.ts";

const [workdir, datadir, flag] = Deno.args;
if (workdir === undefined || datadir === undefined) throw new Error("usage: WORKDIR DATADIR");
const db = openArenaDatabase(workdir, parseArenaName("crash"), { schemas: REAL_SCHEMAS });
const pool = new HashPool({ workers: 2 });
const arena = new RealArena({ name: "crash", db, datadir, debounceMs: 0, pool, hashersMax: 2 });
const out = (s: string) => Deno.stdout.writeSync(new TextEncoder().encode(s + "\n"));
await arena.start();
out("started");
while (!arena.idle()) await new Promise((r) => setTimeout(r, 20));
out("idle");
if (flag === "--exit-when-idle") {
  await arena.stop();
  await pool.close();
  db.close();
  Deno.exit(0);
}
await new Promise(() => {}); // until killed
