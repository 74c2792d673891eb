/**
 * The real: an arena's local files. The index (size, nanosecond mtime, inode, BLAKE3
 * hash of every file), the history of local changes that peers subscribe to, and the
 * {@linkcode RealArena} that keeps both in line with the datadir (catch-up scan,
 * inotify, hashing in workers, marks from xattrs).
 *
 * @module
 */

import { MARKS_SCHEMA, type Schema } from "../storage/mod.ts";
import { HISTORY_SCHEMA } from "./history.ts";
import { INDEX_SCHEMA } from "./index.ts";

export { type BaseOf } from "./changes.ts";
export { MARK_XATTR } from "./datadir.ts";
export {
  HASH_QUEUE_MAX,
  HASH_WORKERS_MAX,
  type HashFileOptions,
  HashPool,
  type HashPoolOptions,
  type HashResult,
} from "./hash_pool.ts";
export {
  ackHistory,
  appendHistory,
  canResume,
  firstIndex,
  HISTORY_BATCH_MAX,
  HISTORY_SCHEMA,
  historyAfter,
  type HistoryEntry,
  type IndexedEntry,
  lastIndex,
  storeId,
  translate,
  TRIM_BOUNDS_DEFAULT,
  type TrimBounds,
  trimHistory,
  waitForHistory,
} from "./history.ts";
export {
  dirsIn,
  filesAfter,
  filesIn,
  type FileVersion,
  getFile,
  hasDir,
  INDEX_SCHEMA,
  type IndexEntry,
  indexStats,
} from "./index.ts";
export {
  type FileHasher,
  POLL_INTERVAL_MS_DEFAULT,
  RACY_WINDOW_MS,
  RealArena,
  type RealArenaOptions,
  type RealStatus,
} from "./real_arena.ts";
export { type WatchEvent, type WatchFactory, WatchLimitError } from "./watcher.ts";

/** The schemas an arena database needs for the real. */
export const REAL_SCHEMAS: readonly Schema[] = [MARKS_SCHEMA, INDEX_SCHEMA, HISTORY_SCHEMA];
