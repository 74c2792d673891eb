// A process running one arena's real until killed: `real_child.ts WORKDIR DATADIR [--exit-when-idle]`.
// Prints "started <state>" after the catch-up scan and "idle" whenever nothing is left to do.
import { openArenaDatabase } from "../../src/storage/mod.ts";
import { parseArenaName } from "../../src/types/mod.ts";
import { HashPool, REAL_SCHEMAS, RealArena } from "../../src/real/mod.ts";

const [workdir, datadir, flag] = Deno.args;
if (workdir === undefined || datadir === undefined) throw new Error("usage: WORKDIR DATADIR");
const db = openArenaDatabase(workdir, parseArenaName("crash"), { schemas: REAL_SCHEMAS });
const pool = new HashPool({ workers: 2 });
const pollIntervalMs = Number(Deno.env.get("REALIZE_TEST_POLL_MS") ?? 60_000);
const arena = new RealArena({
  name: "crash",
  db,
  datadir,
  debounceMs: 0,
  pool,
  hashersMax: 2,
  pollIntervalMs,
});
const out = (s: string) => Deno.stdout.writeSync(new TextEncoder().encode(s + "\n"));
await arena.start();
out(`started ${arena.status().state}`);
while (!arena.idle()) await new Promise((r) => setTimeout(r, 20));
out(`idle ${arena.status().files}`);
if (flag === "--exit-when-idle") {
  await arena.stop();
  await pool.close();
  db.close();
  Deno.exit(0);
}
// Until killed: report each time the number of indexed files changes.
for (let files = arena.status().files;;) {
  await new Promise((r) => setTimeout(r, 20));
  const now = arena.status();
  if (now.files !== files && now.pending === 0) out(`idle ${files = now.files}`);
}
