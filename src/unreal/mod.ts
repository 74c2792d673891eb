/**
 * The unreal: what other peers have. The tree of stable inodes, each peer's versions and
 * the default version shown (one version chain), the filesystem-shaped view over the
 * union of local and remote files, and the blob cache of remote content.
 *
 * @module
 */

import { ARENA_INODE_SCHEMA, DIRTY_SCHEMA, ENGINE_SCHEMA, type Schema } from "../storage/mod.ts";
import { REAL_SCHEMAS } from "../real/mod.ts";
import { BLOB_SCHEMA } from "./blob_schema.ts";
import { UNREAL_SCHEMA } from "./tree.ts";

export * from "./blobs.ts";
export {
  ArenaView,
  type Attr,
  type DirEntry,
  READDIR_BATCH_MAX,
  type Versioned,
} from "./arena_view.ts";
export { Filesystem, GLOBAL_TREE_SCHEMA } from "./filesystem.ts";
export {
  type Cached,
  cachedOf,
  fileStatusText,
  listDir,
  type Listed,
  type ListedJson,
  listedToJson,
  listPath,
  statusText,
} from "./listing.ts";
export { UnrealArena, type UnrealArenaOptions } from "./unreal_arena.ts";
export {
  applyNotification,
  catchupComplete,
  catchupStart,
  type DefaultVersion,
  defaultVersion,
  peerAdded,
  peerDropped,
  type PeerFile,
  peerFile,
  peerFiles,
  peerMoved,
  peerProgress,
  peerRemoved,
  peerReplaced,
  peersWith,
  remoteDir,
  type RemoteVersion,
  setPeerProgress,
  shownHash,
} from "./remote.ts";
export { type Node, nodeByIno, nodeByPath, UNREAL_SCHEMA } from "./tree.ts";

/** Every schema an arena database needs (real, unreal, the engine's dirty log and decisions, inodes). */
export const ARENA_SCHEMAS: readonly Schema[] = [
  ...REAL_SCHEMAS,
  UNREAL_SCHEMA,
  BLOB_SCHEMA,
  DIRTY_SCHEMA,
  ENGINE_SCHEMA,
  ARENA_INODE_SCHEMA,
];
