/**
 * Loads libfuse3 once. `REALIZE_LIBFUSE_PATH` overrides where it is found.
 *
 * @module
 */

import { FUSE3_SYMBOLS } from "./symbols.ts";

const PATH = Deno.env.get("REALIZE_LIBFUSE_PATH") ?? "libfuse3.so.3";

let library: Deno.DynamicLibrary<typeof FUSE3_SYMBOLS> | null = null;

/**
 * The loaded libfuse3 symbols.
 *
 * @returns the symbol table
 * @throws {Error} when libfuse3 cannot be loaded (install the Debian package libfuse3-3)
 */
export function fuse3(): Deno.DynamicLibrary<typeof FUSE3_SYMBOLS>["symbols"] {
  if (library === null) {
    try {
      library = Deno.dlopen(PATH, FUSE3_SYMBOLS);
    } catch (cause) {
      throw new Error(
        `Cannot load libfuse3 from "${PATH}" (install the Debian package libfuse3-3)`,
        { cause },
      );
    }
  }
  return library.symbols;
}
