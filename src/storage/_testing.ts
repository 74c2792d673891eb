/**
 * Test helpers private to `src/storage/`: child processes running the scripts in
 * `testdata/`.
 *
 * @module
 */

import { fileURLToPath } from "node:url";

/** How long a test waits for a child's line or exit before failing. */
export const CHILD_DEADLINE_MS = 30_000;

/** A `deno run -A` child with piped stdio, read line by line. */
export class Child {
  readonly #process: Deno.ChildProcess;
  readonly #lines: AsyncIterator<string>;
  readonly #stdin: WritableStreamDefaultWriter<Uint8Array>;
  readonly #stderr: Promise<string>;
  readonly #output: string[] = [];
  #status: Deno.CommandStatus | null = null;

  private constructor(process: Deno.ChildProcess) {
    this.#process = process;
    this.#lines = splitLines(process.stdout)[Symbol.asyncIterator]();
    this.#stdin = process.stdin.getWriter();
    this.#stderr = new Response(process.stderr).text();
    process.status.then((status) => this.#status = status);
  }

  /**
   * Starts `deno run -A <script> <args…>`.
   *
   * @param script a script next to the tests, e.g. `new URL("./testdata/x.ts", import.meta.url)`
   * @param args its arguments
   * @returns the running child
   */
  static spawn(script: URL, args: readonly string[]): Child {
    const command = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "--quiet", fileURLToPath(script), ...args],
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    });
    return new Child(command.spawn());
  }

  /** The child's pid. */
  get pid(): number {
    return this.#process.pid;
  }

  /** Lines printed so far. */
  get output(): readonly string[] {
    return this.#output;
  }

  /**
   * Reads lines until one contains `text`.
   *
   * @param text what to wait for
   * @returns that line
   * @throws {Error} when the child exits or the deadline passes first
   */
  async waitFor(text: string): Promise<string> {
    const deadline = Date.now() + CHILD_DEADLINE_MS;
    for (;;) {
      const line = await this.#nextLine(deadline - Date.now());
      if (line === null) throw new Error(`Child exited without printing "${text}"`);
      if (line.includes(text)) return line;
    }
  }

  /**
   * Sends a line to the child's stdin.
   *
   * @param text the line, without newline
   */
  async send(text: string): Promise<void> {
    await this.#stdin.write(new TextEncoder().encode(`${text}\n`));
  }

  /**
   * Sends a signal.
   *
   * @param signal e.g. `"SIGKILL"`
   */
  kill(signal: Deno.Signal): void {
    if (this.#status === null) this.#process.kill(signal);
  }

  /**
   * Closes stdin, reads the remaining output and waits for the exit.
   *
   * @returns the exit status, every line printed and stderr
   * @throws {Error} when the child does not exit before the deadline
   */
  async finish(): Promise<
    { code: number; signal: string | null; lines: string[]; stderr: string }
  > {
    await this.#stdin.close().catch(() => {});
    const deadline = Date.now() + CHILD_DEADLINE_MS;
    while ((await this.#nextLine(deadline - Date.now())) !== null);
    const status = await this.#process.status;
    return {
      code: status.code,
      signal: status.signal,
      lines: [...this.#output],
      stderr: await this.#stderr,
    };
  }

  /** Kills the child if it still runs and releases its pipes. */
  async [Symbol.asyncDispose](): Promise<void> {
    this.kill("SIGKILL");
    await this.#stdin.close().catch(() => {});
    while ((await this.#lines.next()).done !== true);
    await this.#stderr;
    await this.#process.status;
  }

  async #nextLine(remainingMs: number): Promise<string | null> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`Child printed nothing for ${CHILD_DEADLINE_MS} ms`)),
        Math.max(0, remainingMs),
      );
    });
    try {
      const next = await Promise.race([this.#lines.next(), timeout]);
      if (next.done === true) return null;
      this.#output.push(next.value);
      return next.value;
    } finally {
      clearTimeout(timer);
    }
  }
}

async function* splitLines(stream: ReadableStream<Uint8Array>): AsyncGenerator<string> {
  let buffered = "";
  for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
    buffered += chunk;
    for (let i = buffered.indexOf("\n"); i >= 0; i = buffered.indexOf("\n")) {
      yield buffered.slice(0, i);
      buffered = buffered.slice(i + 1);
    }
  }
  if (buffered !== "") yield buffered;
}
