/**
 * Logging: one line per event on stderr, `LEVEL category: message`
 * (`INFO net: connected to laptop`). `REALIZE_LOG` sets levels, e.g. `debug` or
 * `info,net=trace,auth=debug`; `REALIZE_LOG_FORMAT=systemd` prefixes lines with a
 * `<N>` syslog priority for journald instead of the level word.
 *
 * @module
 */

/** Log levels, most severe first. */
export const LEVELS = ["error", "warn", "info", "debug", "trace"] as const;
/** A log level. */
export type Level = typeof LEVELS[number];

const PRIORITY: Record<Level, number> = { error: 3, warn: 4, info: 6, debug: 7, trace: 7 };

/** Where log lines go and how levels are chosen. */
export interface LogSettings {
  /** The level for categories without their own. */
  readonly defaultLevel: Level;
  /** Per-category levels. */
  readonly levels: ReadonlyMap<string, Level>;
  /** `plain` (`INFO net: …`) or `systemd` (`<6>net: …`). */
  readonly format: "plain" | "systemd";
  /** Receives each finished line, without the newline. */
  readonly write: (line: string) => void;
}

/**
 * Parses a `REALIZE_LOG` value.
 *
 * @param spec e.g. `"debug,net=trace"`; empty means `info`
 * @returns the default level and per-category levels
 * @throws {TypeError} for an unknown level, naming it
 */
export function parseLogSpec(spec: string): { defaultLevel: Level; levels: Map<string, Level> } {
  let defaultLevel: Level = "info";
  const levels = new Map<string, Level>();
  for (const part of spec.split(",").map((s) => s.trim()).filter((s) => s !== "")) {
    const eq = part.indexOf("=");
    const level = eq < 0 ? part : part.slice(eq + 1);
    if (!(LEVELS as readonly string[]).includes(level)) {
      throw new TypeError(`Invalid REALIZE_LOG "${spec}": unknown level "${level}"`);
    }
    if (eq < 0) defaultLevel = level as Level;
    else levels.set(part.slice(0, eq), level as Level);
  }
  return { defaultLevel, levels };
}

const encoder = new TextEncoder();

function stderrWrite(line: string): void {
  Deno.stderr.writeSync(encoder.encode(line + "\n"));
}

let settings: LogSettings = {
  defaultLevel: "info",
  levels: new Map(),
  format: "plain",
  write: stderrWrite,
};

/**
 * Reads `REALIZE_LOG` and `REALIZE_LOG_FORMAT` from the environment.
 *
 * @param env the environment (defaults to the process's)
 * @throws {TypeError} for an invalid `REALIZE_LOG`
 */
export function configureFromEnv(env: { get(key: string): string | undefined } = Deno.env): void {
  const { defaultLevel, levels } = parseLogSpec(env.get("REALIZE_LOG") ?? "");
  const format = env.get("REALIZE_LOG_FORMAT") === "systemd" ? "systemd" : "plain";
  settings = { ...settings, defaultLevel, levels, format };
}

/**
 * The current log settings (a worker copies the levels and format).
 *
 * @returns the settings
 */
export function currentLogSettings(): LogSettings {
  return settings;
}

/**
 * Replaces the log settings (tests capture lines this way).
 *
 * @param next the fields to change
 * @returns the previous settings, to restore
 */
export function configure(next: Partial<LogSettings>): LogSettings {
  const previous = settings;
  settings = { ...settings, ...next };
  return previous;
}

function enabled(category: string, level: Level): boolean {
  const max = settings.levels.get(category) ?? settings.defaultLevel;
  return LEVELS.indexOf(level) <= LEVELS.indexOf(max);
}

function errorText(error: unknown): string {
  let text = error instanceof Error ? error.message : String(error);
  for (let c = error instanceof Error ? error.cause : undefined; c !== undefined;) {
    const part = c instanceof Error ? c.message : String(c);
    // A message that already quotes its cause is not repeated.
    if (!text.includes(part)) text += `: ${part}`;
    c = c instanceof Error ? c.cause : undefined;
  }
  return text;
}

/** A logger for one category. */
export class Logger {
  /** @param category e.g. `net`, `auth`, `storage` */
  constructor(readonly category: string) {}

  #emit(level: Level, message: string, error?: unknown): void {
    if (!enabled(this.category, level)) return;
    const text = error === undefined ? message : `${message}: ${errorText(error)}`;
    const head = settings.format === "systemd" ? `<${PRIORITY[level]}>` : `${level.toUpperCase()} `;
    settings.write(`${head}${this.category}: ${text}`);
  }

  /** @param message what happened @param error optional cause, printed as a chain */
  error(message: string, error?: unknown): void {
    this.#emit("error", message, error);
  }
  /** @param message what happened @param error optional cause, printed as a chain */
  warn(message: string, error?: unknown): void {
    this.#emit("warn", message, error);
  }
  /** @param message what happened */
  info(message: string): void {
    this.#emit("info", message);
  }
  /** @param message what happened */
  debug(message: string): void {
    this.#emit("debug", message);
  }
  /** @param message what happened */
  trace(message: string): void {
    this.#emit("trace", message);
  }
  /**
   * Whether a level is on, to skip building expensive messages.
   *
   * @param level the level
   * @returns true when lines at `level` are written
   */
  enabled(level: Level): boolean {
    return enabled(this.category, level);
  }
}

/**
 * The logger of a category.
 *
 * @param category e.g. `net`
 * @returns a logger
 */
export function logger(category: string): Logger {
  return new Logger(category);
}

/**
 * An error and its causes as one line: `message: cause: cause`.
 *
 * @param error anything thrown
 * @returns the chain
 */
export function describeError(error: unknown): string {
  return errorText(error);
}
