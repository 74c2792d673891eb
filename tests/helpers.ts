/**
 * Helpers for cross-module tests: temp directories, running commands, waiting with
 * deadlines.
 *
 * @module
 */

/** The repository root. */
export const REPO = new URL("..", import.meta.url).pathname.replace(/\/$/, "");

/** The output of a finished command. */
export interface Ran {
  /** Exit code. */
  readonly code: number;
  /** Standard output, decoded. */
  readonly stdout: string;
  /** Standard error, decoded. */
  readonly stderr: string;
}

/**
 * Runs a command to completion.
 *
 * @param cmd program and arguments
 * @param options working directory, environment, standard input
 * @returns its exit code and output
 */
export async function run(
  cmd: readonly string[],
  options: { cwd?: string; env?: Record<string, string>; stdin?: string; clearEnv?: boolean } = {},
): Promise<Ran> {
  const [program, ...args] = cmd;
  if (program === undefined) throw new TypeError("run() needs a program");
  const child = new Deno.Command(program, {
    args,
    cwd: options.cwd ?? REPO,
    env: options.env ?? {},
    clearEnv: options.clearEnv ?? false,
    stdin: options.stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (options.stdin !== undefined) {
    const w = child.stdin.getWriter();
    await w.write(new TextEncoder().encode(options.stdin));
    await w.close();
  }
  const out = await child.output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

/**
 * The command line that runs `realize` from this checkout the way the launcher does.
 *
 * @param args arguments after `realize`
 * @returns the whole argv, the Deno executable first
 */
export function realizeArgv(args: readonly string[]): string[] {
  return [
    Deno.execPath(),
    "run",
    "--allow-all",
    "--no-prompt",
    "--cached-only",
    "--frozen",
    "--config",
    `${REPO}/deno.json`,
    `${REPO}/main.ts`,
    ...args,
  ];
}

/**
 * Starts `realize` from this checkout, its output piped (a daemon, a command to interrupt).
 *
 * @param args arguments after `realize`
 * @returns the running process
 */
export function spawnRealize(args: readonly string[]): Deno.ChildProcess {
  const [exe, ...rest] = realizeArgv(args);
  return new Deno.Command(exe!, { args: rest, stdout: "piped", stderr: "piped" }).spawn();
}

/**
 * Runs `realize` from this checkout the way the launcher does.
 *
 * @param args arguments after `realize`
 * @param options as for {@linkcode run}
 * @returns its exit code and output
 */
export function realize(
  args: readonly string[],
  options: { cwd?: string; env?: Record<string, string> } = {},
): Promise<Ran> {
  return run(realizeArgv(args), options);
}

/**
 * A temporary directory removed (recursively) when disposed.
 *
 * @param prefix name prefix
 * @returns the directory, usable with `using`
 */
export function tempDir(prefix = "realize-test-"): { path: string } & Disposable {
  const path = Deno.makeTempDirSync({ prefix });
  return {
    path,
    [Symbol.dispose]: () => Deno.removeSync(path, { recursive: true }),
  };
}

/**
 * Waits until `condition` returns true, polling, or fails after the deadline.
 *
 * @param condition checked every `intervalMs`
 * @param what description for the timeout error
 * @param options deadline and polling interval
 * @throws {Error} when the deadline passes
 */
export async function waitFor(
  condition: () => boolean | Promise<boolean>,
  what: string,
  options: { timeoutMs?: number; intervalMs?: number } = {},
): Promise<void> {
  const deadline = Date.now() + (options.timeoutMs ?? 10_000);
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, options.intervalMs ?? 20));
  }
}
