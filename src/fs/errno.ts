/**
 * The one translation table from realize's errors to errno for the FUSE boundary
 * (STYLE habit 8).
 *
 * @module
 */

import { ERRNO } from "../../ffi/libc/mod.ts";
import { NameError, PathError } from "../types/mod.ts";

/** Linux errno values (the bindings' one table of them), as realize answers with them. */
export { ERRNO };

/** A filesystem operation failed with this errno. */
export class FsError extends Error {
  override name = "FsError";
  /**
   * @param errno the errno to answer
   * @param message what failed, for logs
   * @param options cause
   */
  constructor(readonly errno: number, message: string, options?: ErrorOptions) {
    super(message, options);
  }
}

/**
 * The errno for any error an operation threw.
 *
 * @param error what was thrown
 * @returns the errno (EIO for anything unexpected)
 */
export function errnoOf(error: unknown): number {
  if (error instanceof FsError) return error.errno;
  if (error instanceof PathError || error instanceof NameError) return ERRNO.EINVAL;
  if (error instanceof Error && error.name === "PeerError") {
    // No peer has the bytes (or they changed): an I/O error, never a hang. (Matched by
    // name: the FUSE worker does not load the network code.)
    return (error as Error & { code?: string }).code === "notFound" ? ERRNO.ENOENT : ERRNO.EIO;
  }
  if (error instanceof Deno.errors.NotFound) return ERRNO.ENOENT;
  if (error instanceof Deno.errors.PermissionDenied) return ERRNO.EACCES;
  if (error instanceof Deno.errors.IsADirectory) return ERRNO.EISDIR;
  if (error instanceof Deno.errors.NotADirectory) return ERRNO.ENOTDIR;
  if (error instanceof Error && /\(os error 28\)/.test(error.message)) return ERRNO.ENOSPC;
  return ERRNO.EIO;
}
