/**
 * Gate: imports go one way, and only `ffi/` sees pointers (STYLE.md habits 1–3).
 *
 * - A module under `src/<dir>/` may import its own directory, `ffi/`, and lower layers
 *   only (the ranks below); from another directory it imports only `mod.ts`.
 * - `ffi/` imports nothing from `src/`.
 * - `Deno.UnsafePointer`, `UnsafePointerView`, `UnsafeCallback` and `Deno.dlopen`
 *   appear only under `ffi/`.
 *
 * Prints each violation as `file:line: problem` and exits 1 if there is any.
 *
 * @module
 */

/** Layers, lowest first. A directory may import only from strictly lower ranks. */
const RANK: Record<string, number> = {
  util: 0,
  types: 1,
  keys: 1,
  config: 2,
  delta: 2,
  storage: 3,
  real: 4,
  unreal: 5,
  net: 6,
  rpc: 7,
  fs: 7,
  overlay: 7,
  jobs: 8,
  control: 8,
  model: 9,
  daemon: 9,
  move: 10,
  cli: 11,
};
// version.ts sits at the bottom: anyone may read the version.
const ROOT_FILES = new Set(["version.ts"]);

const POINTERS =
  /\bDeno\.(UnsafePointer|UnsafePointerView|UnsafeCallback|UnsafeFnPointer|dlopen)\b/;
const IMPORT =
  /^\s*(?:import|export)\b[^'"]*?from\s+["']([^"']+)["']|^\s*import\s+["']([^"']+)["']/;

function* walk(dir: string): Generator<string> {
  for (const e of Deno.readDirSync(dir)) {
    const p = `${dir}/${e.name}`;
    if (e.isDirectory && e.name !== "node_modules" && !e.name.startsWith(".")) yield* walk(p);
    else if (e.isFile && p.endsWith(".ts")) yield p;
  }
}

function resolve(from: string, spec: string): string | null {
  if (!spec.startsWith(".")) return null;
  const parts = from.split("/").slice(0, -1);
  for (const s of spec.split("/")) {
    if (s === "..") parts.pop();
    else if (s !== ".") parts.push(s);
  }
  return parts.join("/");
}

function checkImport(file: string, target: string): string | null {
  const [top, dir] = file.split("/");
  const [ttop, tdir, ...rest] = target.split("/");
  if (top === "ffi") return ttop === "src" ? "ffi/ must not import src/" : null;
  if (top !== "src" || ttop !== "src" || dir === undefined || tdir === undefined) return null;
  if (dir === tdir || ROOT_FILES.has(tdir)) return null;
  const rank = RANK[dir];
  const trank = RANK[tdir];
  if (rank === undefined) return `src/${dir}/ has no layer rank in tools/check_layers.ts`;
  if (trank === undefined) return `src/${tdir}/ has no layer rank in tools/check_layers.ts`;
  if (trank >= rank) return `src/${dir} (layer ${rank}) imports src/${tdir} (layer ${trank})`;
  if (rest.join("/") !== "mod.ts") return `import src/${tdir}/mod.ts, not ${target}`;
  return null;
}

function check(file: string): string[] {
  const problems: string[] = [];
  const test = file.endsWith("_test.ts") || file.includes("/testdata/");
  Deno.readTextFileSync(file).split("\n").forEach((line, i) => {
    if (!file.startsWith("ffi/") && !file.startsWith("tools/") && POINTERS.test(line)) {
      problems.push(`${file}:${i + 1}: pointers and dlopen belong under ffi/`);
    }
    const m = IMPORT.exec(line);
    const spec = m?.[1] ?? m?.[2];
    const target = spec === undefined ? null : resolve(file, spec);
    const why = target === null || test ? null : checkImport(file, target);
    if (why !== null) problems.push(`${file}:${i + 1}: ${why}`);
  });
  return problems;
}

if (import.meta.main) {
  const files = [
    "main.ts",
    ...["src", "ffi", "tests", "bench"].flatMap((d) => {
      try {
        return [...walk(d)];
      } catch {
        return [];
      }
    }),
  ];
  const problems = files.flatMap(check);
  for (const p of problems) Deno.stderr.writeSync(new TextEncoder().encode(p + "\n"));
  if (problems.length > 0) Deno.exit(1);
}

export { check, checkImport };
