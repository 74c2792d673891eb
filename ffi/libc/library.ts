/**
 * Loads libc once and turns failed calls into `Deno.errors`-style errors with errno.
 *
 * @module
 */

import { LIBC_SYMBOLS } from "./symbols.ts";

/** Path of libc; `REALIZE_LIBC_PATH` overrides it. */
const LIBC_PATH = Deno.env.get("REALIZE_LIBC_PATH") ?? "libc.so.6";

let library: Deno.DynamicLibrary<typeof LIBC_SYMBOLS> | null = null;

/**
 * The loaded libc symbols.
 *
 * @returns the symbol table
 * @throws {Error} when libc cannot be loaded (with the cause)
 */
export function libc(): Deno.DynamicLibrary<typeof LIBC_SYMBOLS>["symbols"] {
  if (library === null) {
    try {
      library = Deno.dlopen(LIBC_PATH, LIBC_SYMBOLS);
    } catch (cause) {
      throw new Error(`Cannot load libc from "${LIBC_PATH}"`, { cause });
    }
  }
  return library.symbols;
}

/** A failed libc call, with its errno. */
export class ErrnoError extends Error {
  override name = "ErrnoError";
  /**
   * @param call what was called, e.g. `flock("/x/arena.lock")`
   * @param errno the C errno
   */
  constructor(readonly call: string, readonly errno: number) {
    super(`${call}: ${strerror(errno)} (errno ${errno})`);
  }
}

/**
 * The errno of the last failed synchronous call on this thread. Read it right after
 * the call: any other FFI call may overwrite it.
 *
 * @returns errno
 */
export function lastErrno(): number {
  const p = libc().__errno_location();
  return p === null ? 0 : new Deno.UnsafePointerView(p).getInt32(0);
}

/**
 * The C library's message for an errno.
 *
 * @param errno an errno value
 * @returns e.g. `"Resource temporarily unavailable"`
 */
export function strerror(errno: number): string {
  const p = libc().strerror(errno);
  return p === null ? `errno ${errno}` : Deno.UnsafePointerView.getCString(p);
}

const ENCODER = new TextEncoder();

/**
 * A NUL-terminated UTF-8 copy of a string, for `const char *` parameters.
 *
 * @param text the string
 * @returns its UTF-8 bytes followed by NUL
 * @throws {TypeError} when `text` contains NUL, which C would read as its end
 */
export function cString(text: string): Uint8Array<ArrayBuffer> {
  // One UTF-16 code unit never takes more than 3 UTF-8 bytes; the tail stays zero.
  return encodeC(text, new Uint8Array(text.length * 3 + 1));
}

let scratch = new Uint8Array(1024);

/**
 * Like {@linkcode cString}, in memory that the next call reuses: for an argument C copies
 * before it returns (a listing passes each entry's name), without an allocation each.
 *
 * @param text the string
 * @returns its UTF-8 bytes followed by NUL, valid until the next call
 * @throws {TypeError} when `text` contains NUL
 */
export function cStringScratch(text: string): Uint8Array<ArrayBuffer> {
  if (scratch.length < text.length * 3 + 1) scratch = new Uint8Array(text.length * 3 + 1);
  return encodeC(text, scratch);
}

function encodeC(text: string, out: Uint8Array<ArrayBuffer>): Uint8Array<ArrayBuffer> {
  if (text.includes("\0")) {
    throw new TypeError(`Cannot pass "${text.replaceAll("\0", "\\0")}" to C: it contains NUL`);
  }
  const { written } = ENCODER.encodeInto(text, out);
  out[written] = 0;
  return out.subarray(0, written + 1);
}
