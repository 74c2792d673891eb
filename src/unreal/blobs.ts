/**
 * The blob cache of the unreal: cached bytes of remote file versions in sparse files
 * under `<workdir>/blobs/`, an LRU cleaner under `disk_usage`, crash-safe bookkeeping in
 * the arena database (schema `blob`). See `docs/cache.md`.
 *
 * @module
 */

export {
  type BlobInfo,
  BlobStore,
  type BlobStoreOptions,
  type BlobWriter,
  type CacheUsage,
  type EvictionReport,
  FLUSH_BYTES_DEFAULT,
  type OpenBlobOptions,
  type ReaderFence,
  TOUCH_FLUSH_MS,
  TRIM_BYTES_MIN,
  type VerifyResult,
} from "./blob_store.ts";
export {
  BlobHandle,
  type ReadOptions,
  type ReadResult,
  type StoreResult,
  type WriteResult,
} from "./blob_handle.ts";
export { BlobError, blobFileName, parseBlobFileName } from "./blob_file.ts";
export { type FileHash, type HashFileFn, hashFileInline } from "./blob_hash.ts";
export { type ReconcileReport } from "./blob_reconcile.ts";
export { type Area, AREAS, BLOB_SCHEMA, type BlobRow, EVICTION_ORDER } from "./blob_schema.ts";
export { VICTIMS_MAX } from "./cache_cleaner.ts";
export { alignOutward, BLOCK_SIZE, blockUsage, quotaBytes } from "./cache_usage.ts";
