/**
 * The real at scale: an arena of 100,000 files in 1,000 directories. Initial index
 * (scan + hash everything) and a restart with nothing changed, each in a fresh process
 * whose peak RSS is reported; references in the same run are `find` stat-ing every file
 * and `b3sum --num-threads 1` reading every file.
 *
 * @module
 */

import type { Result } from "./_report.ts";

const FILES = Number(Deno.env.get("REALIZE_BENCH_FILES") ?? 100_000);
const DIRS = 1000;

function makeTree(root: string): void {
  const data = new Uint8Array(1024);
  for (let d = 0; d < DIRS; d++) Deno.mkdirSync(`${root}/d${d}`, { recursive: true });
  for (let i = 0; i < FILES; i++) {
    crypto.getRandomValues(data.subarray(0, 64));
    Deno.writeFileSync(`${root}/d${i % DIRS}/f${i}`, data.subarray(0, 100 + (i % 900)));
  }
}

async function timed(cmd: string[], cwd: string): Promise<number> {
  const t = performance.now();
  const r = await new Deno.Command(cmd[0]!, { args: cmd.slice(1), cwd, stdout: "null" }).output();
  if (!r.success) throw new Error(`${cmd.join(" ")} failed`);
  return performance.now() - t;
}

interface ChildReport {
  scanMs: number;
  idleMs: number;
  files: number;
  hashed: number;
  peakRssMiB: number;
}

async function child(workdir: string, datadir: string): Promise<ChildReport> {
  const script = new URL("./real_child.ts", import.meta.url).pathname;
  const r = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", script, workdir, datadir],
    stdout: "piped",
    stderr: "inherit",
  }).output();
  if (!r.success) throw new Error("real_child failed");
  return JSON.parse(new TextDecoder().decode(r.stdout));
}

/**
 * Runs the benchmark in a temporary directory.
 *
 * @returns the results
 */
export async function run(): Promise<Result[]> {
  const dir = await Deno.makeTempDir({ prefix: "realize-bench-real-" });
  try {
    const datadir = `${dir}/data`;
    makeTree(datadir);
    const findMs = await timed(["find", ".", "-type", "f", "-printf", "%s %T@\\n"], datadir);
    const b3Ms = await timed([
      "sh",
      "-c",
      "find . -type f -print0 | xargs -0 b3sum --num-threads 1",
    ], datadir);
    const first = await child(`${dir}/work`, datadir);
    const again = await child(`${dir}/work`, datadir);
    if (first.files !== FILES || again.hashed !== 0) {
      throw new Error(`unexpected: ${JSON.stringify({ first, again })}`);
    }
    const note = (r: ChildReport) => `peak RSS ${r.peakRssMiB.toFixed(0)} MiB, ${r.hashed} hashed`;
    return [
      {
        name: `initial index of ${FILES} files (${note(first)})`,
        value: FILES / (first.idleMs / 1000),
        unit: "files/s",
        reference: "b3sum -t1 over find",
        referenceValue: FILES / (b3Ms / 1000),
      },
      {
        name: `restart, nothing changed (${note(again)})`,
        value: FILES / (again.idleMs / 1000),
        unit: "files/s",
        reference: "find -printf size,mtime",
        referenceValue: FILES / (findMs / 1000),
      },
    ];
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}
