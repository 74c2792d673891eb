/**
 * Storage: one SQLite database per arena shared by its subsystems, the global database,
 * and the tables of marks, engine decisions, the dirty log and inode ranges.
 *
 * Every storage function takes a transaction as its first parameter and never opens its
 * own; transactions are synchronous. See `docs/storage.md`.
 *
 * @module
 */

export {
  AFTER_COMMIT_HOOKS_MAX,
  BUSY_TIMEOUT_MS_DEFAULT,
  Database,
  type DatabaseOptions,
  type ReadTx,
  type RunResult,
  SAVEPOINTS_MAX,
  type Schema,
  type SqlValue,
  STATEMENTS_CACHED_MAX,
  StorageError,
  type Sync,
  type WriteTx,
} from "./database.ts";
export {
  ARENA_DB_FILE,
  ARENA_LOCK_FILE,
  openArenaDatabase,
  openGlobalDatabase,
  type OpenOptions,
} from "./arena_db.ts";
export { clearMark, getMark, listMarks, markFor, MARKS_SCHEMA, setMark } from "./marks.ts";
export {
  clearDecision,
  type Decision,
  DECISIONS,
  ENGINE_SCHEMA,
  getDecision,
  isDecision,
  setDecision,
} from "./engine.ts";
export {
  clearDirty,
  DIRTY_BATCH_MAX,
  DIRTY_SCHEMA,
  DIRTY_WAITERS_MAX,
  dirtyAfter,
  dirtyCounter,
  type DirtyEntry,
  isDirty,
  lastDirtyCounter,
  markDirty,
  markDirtyMany,
  waitForDirty,
} from "./dirty.ts";
export {
  allocateRange,
  ARENA_INODE_SCHEMA,
  FIRST_RANGE_START,
  GLOBAL_INODE_SCHEMA,
  InodeAllocator,
  type InodeAllocatorOptions,
  inodeOwner,
  type InodeRange,
  listRanges,
  RANGE_SIZE_DEFAULT,
  RANGE_SIZE_MAX,
  ROOT_INODE,
} from "./inode_ranges.ts";
export { Watermark, WATERMARK_WAITERS_MAX } from "./watermark.ts";
