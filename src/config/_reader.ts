/**
 * Typed access to a parsed TOML document that reports every problem as a
 * {@linkcode ConfigError} with file, line and key. Private to `src/config/`.
 *
 * @module
 */

import { ConfigError } from "./error.ts";
import type { ConfigSource } from "./types.ts";
import { formatKeyPath, type KeySegment } from "./toml_positions.ts";

/** A TOML table as smol-toml returns it. */
export type Table = Record<string, unknown>;

/** Key path as a list of segments, outermost first. */
export type KeyPath = readonly KeySegment[];

/**
 * The line of `path`, or of its nearest enclosing key that has one (a missing key is
 * reported at its table's header).
 *
 * @param lines from `scanKeyLines`
 * @param path key path
 * @returns 1-based line, or `undefined` when nothing encloses the path
 */
export function lineOf(lines: ReadonlyMap<string, number>, path: KeyPath): number | undefined {
  for (let n = path.length; n > 0; n--) {
    const line = lines.get(formatKeyPath(path.slice(0, n)));
    if (line !== undefined) return line;
  }
  return undefined;
}

/** Builds located errors and reads typed values. */
export class Reader {
  #source: ConfigSource;
  /** How to name the items of arrays: `arena[0]` → `arena "docs"`. */
  #labels = new Map<string, string>();

  constructor(source: ConfigSource) {
    this.#source = source;
  }

  /** Names the element at `prefix` (e.g. `["arena", 0]`) by `label` in messages. */
  label(prefix: KeyPath, label: string): void {
    this.#labels.set(formatKeyPath(prefix), label);
  }

  /** The line of `path` (see {@linkcode lineOf}). */
  line(path: KeyPath): number | undefined {
    return lineOf(this.#source.lines, path);
  }

  /** A {@linkcode ConfigError} about `path`. */
  error(path: KeyPath, problem: string, options?: ErrorOptions): ConfigError {
    const key = formatKeyPath(path);
    let where = key;
    for (let n = path.length; n > 0; n--) {
      const label = this.#labels.get(formatKeyPath(path.slice(0, n)));
      if (label === undefined) continue;
      const rest = formatKeyPath(path.slice(n));
      where = rest === "" ? label : `${label}: ${rest}`;
      break;
    }
    const line = lineOf(this.#source.lines, path);
    return new ConfigError({ file: this.#source.name, line, key, where }, problem, options);
  }

  /** Throws {@linkcode error}. */
  fail(path: KeyPath, problem: string, options?: ErrorOptions): never {
    throw this.error(path, problem, options);
  }

  /** Throws for a `RangeError` of a value parser, keeping it as the cause. */
  failWith(path: KeyPath, cause: unknown): never {
    if (!(cause instanceof RangeError)) throw cause;
    const problem = cause.message.charAt(0).toLowerCase() + cause.message.slice(1);
    throw this.error(path, problem, { cause });
  }

  /** Checks that `value` is a table. */
  table(value: unknown, path: KeyPath): Table {
    if (typeName(value) !== "table") this.fail(path, `expected a table, got ${typeName(value)}`);
    return value as Table;
  }

  /** Rejects keys of `table` that are not in `allowed`. */
  keys(table: Table, path: KeyPath, allowed: readonly string[]): void {
    for (const key of Object.keys(table)) {
      if (!allowed.includes(key)) this.fail([...path, key], "unknown key");
    }
  }

  /** A string value, or `undefined` when absent (or an error when `required`). */
  string(table: Table, path: KeyPath, key: string, required: true): string;
  string(table: Table, path: KeyPath, key: string, required?: boolean): string | undefined;
  string(table: Table, path: KeyPath, key: string, required = false): string | undefined {
    const value = table[key];
    if (value === undefined) {
      if (required) this.fail([...path, key], "required key is missing");
      return undefined;
    }
    if (typeof value !== "string") {
      this.fail([...path, key], `expected a string, got ${typeName(value)}`);
    }
    return value;
  }

  /** A number or string value, or `undefined` when absent. */
  numberOrString(
    table: Table,
    path: KeyPath,
    key: string,
    what: string,
  ): number | string | undefined {
    const value = table[key];
    if (value === undefined || typeof value === "number" || typeof value === "string") return value;
    this.fail([...path, key], `expected ${what}, got ${typeName(value)}`);
  }
}

/**
 * The TOML type of a value, for messages.
 *
 * @param value a value from smol-toml
 * @returns `string`, `integer`, `float`, `boolean`, `date`, `array` or `table`
 */
export function typeName(value: unknown): string {
  if (typeof value === "number") return Number.isInteger(value) ? "integer" : "float";
  if (typeof value === "string" || typeof value === "boolean") return typeof value;
  if (value instanceof Date) return "date";
  if (Array.isArray(value)) return "array";
  if (typeof value === "object" && value !== null) return "table";
  return typeof value;
}
