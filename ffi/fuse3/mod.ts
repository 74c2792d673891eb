/**
 * libfuse3 through FFI: a session with plain-value handlers and replies (no pointers
 * leave `ffi/`).
 *
 * @module
 */

export { fuse3, holdFuse3 } from "./library.ts";
export {
  abortDevice,
  type Attr,
  type DirEntryOut,
  type DirPlusEntryOut,
  type EntryOut,
  type FuseHandlers,
  FuseReply,
  FuseSession,
  type MountOptions,
  type OpenOut,
  READ_BYTES_MAX,
  type StatfsOut,
  type Timespec,
} from "./session.ts";
