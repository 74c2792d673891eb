/**
 * What a CLI command may touch of the process: output streams and the environment.
 * Tests pass a capturing twin.
 *
 * @module
 */

/** The process seen by a command. */
export interface CliIo {
  /** Writes to standard output (no newline added). */
  out(text: string): void;
  /** Writes to standard error (no newline added). */
  err(text: string): void;
  /** Reads an environment variable. */
  env(key: string): string | undefined;
}

/** Thrown for a command line that cannot be understood: exit code 2. */
export class UsageError extends Error {
  override name = "UsageError";
}

/** Exit codes of `realize` (DESIGN §4.3). */
export const EXIT = {
  ok: 0,
  error: 1,
  usage: 2,
  notRunning: 10,
  timedOut: 11,
  interrupted: 20,
} as const;

const encoder = new TextEncoder();

/**
 * The real process.
 *
 * @returns an io writing to stdout/stderr
 */
export function processIo(): CliIo {
  return {
    out: (text) => void Deno.stdout.writeSync(encoder.encode(text)),
    err: (text) => void Deno.stderr.writeSync(encoder.encode(text)),
    env: (key) => Deno.env.get(key),
  };
}

/** A capturing io for tests. */
export interface CapturedIo extends CliIo {
  /** Everything written to stdout. */
  readonly stdout: string[];
  /** Everything written to stderr. */
  readonly stderr: string[];
}

/**
 * An io that records output.
 *
 * @param env environment variables visible to the command
 * @returns the capturing io
 */
export function captureIo(env: Record<string, string> = {}): CapturedIo {
  const stdout: string[] = [];
  const stderr: string[] = [];
  return {
    stdout,
    stderr,
    out: (text) => void stdout.push(text),
    err: (text) => void stderr.push(text),
    env: (key) => env[key],
  };
}
