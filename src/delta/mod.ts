/**
 * Leaf utilities for moving file data between peers: rsync signatures, deltas and patches
 * (with the empty-delta test of seed #emptydelta), zstd chunk compression with an
 * incompressible-chunk probe (seed #compress), a Worker pool for the CPU-heavy parts, and
 * the token bucket behind `batch_rate_limit`. Formats and limits: docs/delta.md.
 *
 * @module
 */

export {
  COMPRESS_CHUNK_MAX,
  COMPRESS_LEVEL,
  COMPRESS_PROBE_BYTES,
  COMPRESS_PROBE_RATIO_MAX,
  compressChunk,
  type CompressedChunk,
  decompressChunk,
  type DecompressOptions,
} from "./compress.ts";
export { delta } from "./delta.ts";
export {
  type DecompressJobOptions,
  DELTA_QUEUE_MAX,
  DELTA_WORKERS_MAX,
  DeltaPool,
  type DeltaPoolOptions,
  type JobOptions,
  type SignatureJobOptions,
} from "./delta_pool.ts";
export { DeltaError } from "./errors.ts";
export { isEmptyDelta, patch, type PatchOptions } from "./patch.ts";
export {
  BLOCK_SIZE_DEFAULT,
  BLOCK_SIZE_MAX,
  BLOCK_SIZE_MIN,
  DELTA_DATA_MAX,
  signature,
} from "./signature.ts";
export {
  type Clock,
  type RateLimiter,
  rateLimiter,
  REAL_CLOCK,
  type TakeOptions,
  type TimerHandle,
  TokenBucket,
  type TokenBucketOptions,
  Unlimited,
} from "./token_bucket.ts";
