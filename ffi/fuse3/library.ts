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

let held: Deno.DynamicLibrary<Pick<typeof FUSE3_SYMBOLS, "fuse_session_fd">> | null = null;

/**
 * Keeps libfuse3 loaded by the calling thread (the daemon's main thread) for the process's
 * life. A Worker serving FUSE that dies unloads its own handle with its isolate, and its
 * thread's exit then runs libfuse's per-thread destructor (of its splice pipe) from
 * unmapped memory: the whole process segfaulted. Held here, the library stays mapped.
 * Does nothing when libfuse3 cannot be loaded (the worker reports that).
 */
export function holdFuse3(): void {
  if (held !== null) return;
  try {
    held = Deno.dlopen(PATH, { fuse_session_fd: FUSE3_SYMBOLS.fuse_session_fd });
  } catch {
    // The mount fails with the clear error from `fuse3()`.
  }
}
