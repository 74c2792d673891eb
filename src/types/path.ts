/**
 * Paths inside an arena: relative, `/`-separated, no empty, `.` or `..` components,
 * valid Unicode (so valid UTF-8 on disk and on the wire), no NUL. `:` is allowed
 * (seed `#colon`). The arena root is the empty path.
 *
 * A `Path` is a branded string: it compares with `===`, works as a `Map` key and binds
 * directly to SQLite. Only {@linkcode parse} (and the functions here) make one.
 *
 * @module
 */

declare const brand: unique symbol;

/** A validated arena-relative path; `""` is the arena root. */
export type Path = string & { readonly [brand]: "Path" };

/** Thrown when text is not a valid arena path. */
export class PathError extends Error {
  override name = "PathError";
}

/** The arena root. */
export const ROOT = "" as Path;

// `ignoreBOM` keeps a leading U+FEFF: it is part of the name, not a byte order mark.
const decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/**
 * Why `text` is not a valid path, or `null` when it is.
 *
 * @param text candidate path
 * @returns a reason, or `null`
 */
export function problem(text: string): string | null {
  if (text === "") return null;
  if (!text.isWellFormed()) return "not valid Unicode";
  if (text.includes("\0")) return "contains a NUL character";
  if (text.startsWith("/")) return "must be relative (starts with /)";
  for (const c of text.split("/")) {
    if (c === "") return "has an empty component";
    if (c === "." || c === "..") return `has a "${c}" component`;
  }
  return null;
}

/**
 * Parses a path.
 *
 * @param text the path, e.g. `"photos/2024/a:b.jpg"`; `""` is the root
 * @returns the validated path
 * @throws {PathError} when `text` is not a valid path
 */
export function parse(text: string): Path {
  const why = problem(text);
  if (why !== null) throw new PathError(`Invalid path "${text}": ${why}`);
  return text as Path;
}

/**
 * Parses a path from raw bytes (a directory entry, a wire message).
 *
 * @param bytes UTF-8 encoded path
 * @returns the validated path
 * @throws {PathError} when the bytes are not UTF-8 or not a valid path
 */
export function fromBytes(bytes: Uint8Array): Path {
  let text: string;
  try {
    text = decoder.decode(bytes);
  } catch (cause) {
    throw new PathError("Invalid path: not valid UTF-8", { cause });
  }
  return parse(text);
}

/**
 * Whether `p` is the arena root.
 *
 * @param p a path
 * @returns true for the root
 */
export function isRoot(p: Path): boolean {
  return p === ROOT;
}

/**
 * The last component.
 *
 * @param p a path
 * @returns the file or directory name, `""` for the root
 */
export function name(p: Path): string {
  return p.slice(p.lastIndexOf("/") + 1);
}

/**
 * The containing directory.
 *
 * @param p a path
 * @returns the parent, the root for a single component, `null` for the root
 */
export function parent(p: Path): Path | null {
  if (p === ROOT) return null;
  const i = p.lastIndexOf("/");
  return (i < 0 ? ROOT : p.slice(0, i)) as Path;
}

/**
 * The components, root first.
 *
 * @param p a path
 * @returns the components; empty for the root
 */
export function components(p: Path): string[] {
  return p === ROOT ? [] : p.split("/");
}

/**
 * The path itself and every ancestor, nearest first, ending with the root.
 *
 * @param p a path
 * @returns `[p, parent(p), …, ROOT]`
 */
export function selfAndAncestors(p: Path): Path[] {
  const out: Path[] = [p];
  for (let q = parent(p); q !== null; q = parent(q)) out.push(q);
  return out;
}

/**
 * Appends a relative path or a single name.
 *
 * @param p the base path
 * @param rest a name or a relative path (validated)
 * @returns `p/rest`
 * @throws {PathError} when `rest` is not a valid path
 */
export function join(p: Path, rest: string): Path {
  const tail = parse(rest);
  if (tail === ROOT) return p;
  if (p === ROOT) return tail;
  return `${p}/${tail}` as Path;
}

/**
 * Component-wise prefix test: `a/b/c` starts with `a` and `a/b`, but `a/bc` does not start
 * with `a/b`.
 *
 * @param p the path
 * @param prefix the candidate ancestor (or `p` itself)
 * @returns true when `prefix` is `p` or one of its ancestors; the root prefixes all
 */
export function startsWith(p: Path, prefix: Path): boolean {
  if (prefix === ROOT || p === prefix) return true;
  return p.startsWith(prefix) && p.charCodeAt(prefix.length) === 0x2f; // "/"
}

/**
 * The file extension, with the dot.
 *
 * @param p a path
 * @returns `".txt"` for `a/b.txt`, `""` when the name has no extension
 */
export function ext(p: Path): string {
  const n = name(p);
  const i = n.lastIndexOf(".");
  return i <= 0 ? "" : n.slice(i);
}
