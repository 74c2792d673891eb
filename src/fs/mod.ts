/**
 * The realize filesystem over FUSE (DESIGN §4.4): a worker serving every arena (union of
 * local and remote files, xattrs for marks, status and version) and the main-thread side
 * that fetches remote content into the blob cache.
 *
 * @module
 */

export { ERRNO, errnoOf, FsError } from "./errno.ts";
export { CACHED_FILES_MAX, CachedReads } from "./cached_reads.ts";
export {
  FuseMount,
  type FuseMountOptions,
  READ_AHEAD_KIB,
  TTL_SECONDS_DEFAULT,
} from "./fuse_mount.ts";
export { OPEN_FILES_MAX, TOUCH_INTERVAL_MS, XATTR } from "./realize_fs.ts";
export {
  CHUNK_BYTES,
  PEER_WAIT_MS,
  READ_AHEAD_CHUNKS,
  type ReadableArena,
  RemoteReader,
  type RemoteReadRequest,
} from "./remote_reader.ts";
