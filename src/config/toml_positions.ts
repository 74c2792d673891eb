/**
 * Where each key of a TOML document is written. `smol-toml` returns values without
 * positions, so this scanner walks the text once more and maps every key path to the
 * 1-based line where it is defined, for error messages.
 *
 * Key paths join segments with `.`; array elements are `[i]`; a segment that is not a
 * bare key is written as a JSON string: `network.address`, `arena[1].disk_usage.max`,
 * `peer[0].pubkey`, `a."b.c"`. Tables get the line of their header (`[[arena]]`), values
 * the line where their key starts.
 *
 * The scanner expects a document that `smol-toml` already accepted; on anything else it
 * stops early and returns what it found, never throws.
 *
 * @module
 */

/** One step of a key path: a key, or the index of an array element. */
export type KeySegment = string | number;

const BARE_KEY = /^[A-Za-z0-9_-]+$/;
const BARE_KEY_AT = /[A-Za-z0-9_-]+/y;
/** A number, boolean or date: everything up to the next separator or comment. */
const SCALAR_AT = /[^,\]}#\r\n]*/y;

/**
 * Formats a key path as used in error messages and by {@linkcode scanKeyLines}.
 *
 * @param segments keys and array indices, outermost first
 * @returns e.g. `arena[1].disk_usage.max`
 */
export function formatKeyPath(segments: readonly KeySegment[]): string {
  let out = "";
  for (const s of segments) {
    if (typeof s === "number") out += `[${s}]`;
    else {
      const key = BARE_KEY.test(s) ? s : JSON.stringify(s);
      out += out === "" ? key : `.${key}`;
    }
  }
  return out;
}

/**
 * Maps every key path of a TOML document to the line where it is defined.
 *
 * Handles table headers (`[a]`, `[[a]]`), dotted and quoted keys, inline tables,
 * arrays (also spread over lines, and arrays of inline tables), single- and multi-line
 * basic and literal strings, and comments. The first definition of a path wins.
 *
 * @param text a TOML document that parses without error
 * @returns key path (see {@linkcode formatKeyPath}) → 1-based line
 */
export function scanKeyLines(text: string): Map<string, number> {
  const scanner = new Scanner(text);
  try {
    scanner.document();
  } catch (e) {
    if (!(e instanceof StopScan)) throw e;
  }
  return scanner.lines;
}

/** Thrown inside the scanner on text it does not understand; ends the scan. */
class StopScan extends Error {
  override name = "StopScan";
}

class Scanner {
  readonly lines = new Map<string, number>();
  #text: string;
  #pos = 0;
  #lineStarts: number[] = [0];
  /** Arrays of tables seen so far (formatted path → element count). */
  #arrayTables = new Map<string, number>();

  constructor(text: string) {
    this.#text = text;
    for (let i = 0; i < text.length; i++) {
      if (text[i] === "\n") this.#lineStarts.push(i + 1);
    }
  }

  /** Walks the whole document: headers and key/value lines. */
  document(): void {
    let table: KeySegment[] = [];
    while (this.#pos < this.#text.length) {
      this.#skipBlank();
      const c = this.#peek();
      if (c === "") return;
      if (c === "[") table = this.#header();
      else this.#keyValue(table);
      this.#skipBlank();
    }
  }

  #header(): KeySegment[] {
    const start = this.#pos;
    const isArray = this.#text.startsWith("[[", start);
    this.#pos += isArray ? 2 : 1;
    this.#skipSpaces();
    const keys = this.#key();
    this.#skipSpaces();
    this.#expect(isArray ? "]]" : "]");
    const path: KeySegment[] = [];
    keys.forEach((key, i) => {
      path.push(key);
      this.#record(path, start);
      const count = this.#arrayTables.get(formatKeyPath(path));
      if (isArray && i === keys.length - 1) {
        this.#arrayTables.set(formatKeyPath(path), (count ?? 0) + 1);
        path.push(count ?? 0);
      } else if (count !== undefined) {
        path.push(count - 1);
      }
    });
    this.#record(path, start);
    return path;
  }

  #keyValue(table: readonly KeySegment[]): void {
    const start = this.#pos;
    const path = [...table, ...this.#key()];
    for (let n = table.length + 1; n <= path.length; n++) this.#record(path.slice(0, n), start);
    this.#skipSpaces();
    this.#expect("=");
    this.#skipSpaces();
    this.#value(path);
  }

  /** A possibly dotted key made of bare and quoted parts. */
  #key(): string[] {
    const keys: string[] = [];
    for (;;) {
      this.#skipSpaces();
      const c = this.#peek();
      if (c === '"') keys.push(decodeBasic(this.#string()));
      else if (c === "'") keys.push(this.#string().slice(1, -1));
      else {
        const m = this.#match(BARE_KEY_AT);
        if (m === "") throw new StopScan("key expected");
        keys.push(m);
      }
      this.#skipSpaces();
      if (this.#peek() !== ".") return keys;
      this.#pos++;
    }
  }

  #value(path: KeySegment[]): void {
    const c = this.#peek();
    if (c === '"' || c === "'") this.#string();
    else if (c === "{") this.#inlineTable(path);
    else if (c === "[") this.#array(path);
    else {
      if (this.#match(SCALAR_AT).trim() === "") throw new StopScan("value expected");
    }
  }

  #inlineTable(path: KeySegment[]): void {
    this.#expect("{");
    for (;;) {
      this.#skipBlank();
      if (this.#peek() === "}") break;
      this.#keyValue(path);
      this.#skipBlank();
      if (this.#peek() === ",") this.#pos++;
      else if (this.#peek() !== "}") throw new StopScan("} expected");
    }
    this.#pos++;
  }

  #array(path: KeySegment[]): void {
    this.#expect("[");
    for (let i = 0;; i++) {
      this.#skipBlank();
      if (this.#peek() === "]") break;
      const element = [...path, i];
      this.#record(element, this.#pos);
      this.#value(element);
      this.#skipBlank();
      if (this.#peek() === ",") this.#pos++;
      else if (this.#peek() !== "]") throw new StopScan("] expected");
    }
    this.#pos++;
  }

  /** Consumes a basic or literal string, single- or multi-line; returns its source. */
  #string(): string {
    const start = this.#pos;
    const quote = this.#peek();
    const triple = quote.repeat(3);
    const multi = this.#text.startsWith(triple, start);
    const close = multi ? triple : quote;
    let i = start + close.length;
    for (;;) {
      const c = this.#text[i];
      if (c === undefined || (!multi && c === "\n")) throw new StopScan("unterminated string");
      if (c === "\\" && quote === '"') i += 2;
      else if (this.#text.startsWith(close, i)) break;
      else i++;
    }
    i += close.length;
    // A multi-line string may end with up to two more quotes: `"""a"""""` holds `a""`.
    for (let extra = 0; multi && extra < 2 && this.#text[i] === quote; extra++) i++;
    this.#pos = i;
    return this.#text.slice(start, i);
  }

  #record(path: readonly KeySegment[], pos: number): void {
    const key = formatKeyPath(path);
    if (!this.lines.has(key)) this.lines.set(key, this.#lineAt(pos));
  }

  #lineAt(pos: number): number {
    let lo = 0;
    let hi = this.#lineStarts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.#lineStarts[mid]! <= pos) lo = mid;
      else hi = mid - 1;
    }
    return lo + 1;
  }

  /** Consumes what the sticky `regex` matches at the current position; returns it. */
  #match(regex: RegExp): string {
    regex.lastIndex = this.#pos;
    const m = regex.exec(this.#text);
    const text = m === null ? "" : m[0];
    this.#pos += text.length;
    return text;
  }

  #peek(): string {
    return this.#text[this.#pos] ?? "";
  }

  #expect(token: string): void {
    if (!this.#text.startsWith(token, this.#pos)) throw new StopScan(`${token} expected`);
    this.#pos += token.length;
  }

  #skipSpaces(): void {
    while (this.#peek() === " " || this.#peek() === "\t") this.#pos++;
  }

  /** Skips spaces, newlines and comments. */
  #skipBlank(): void {
    for (;;) {
      const c = this.#peek();
      if (c === " " || c === "\t" || c === "\r" || c === "\n") this.#pos++;
      else if (c === "#") {
        const end = this.#text.indexOf("\n", this.#pos);
        this.#pos = end === -1 ? this.#text.length : end;
      } else return;
    }
  }
}

const ESCAPES: Record<string, string> = {
  b: "\b",
  t: "\t",
  n: "\n",
  f: "\f",
  r: "\r",
  e: "\x1b",
  '"': '"',
  "\\": "\\",
};

/** Decodes a one-line basic string (with its quotes), as used in a quoted key. */
function decodeBasic(source: string): string {
  return source.slice(1, -1).replace(
    /\\(u[0-9A-Fa-f]{4}|U[0-9A-Fa-f]{8}|x[0-9A-Fa-f]{2}|.)/g,
    (all, esc: string) => {
      if (esc.length > 1) return String.fromCodePoint(parseInt(esc.slice(1), 16));
      return ESCAPES[esc] ?? all;
    },
  );
}
