/**
 * The blob table of the arena database (schema `blob`): one row per cached remote version.
 * Every function takes a transaction, as storage functions do.
 *
 * Invariant: the ranges a row records are really in its file (written before they were
 * recorded; recorded as gone before they are punched out or the file deleted). A row's
 * `usage` is always {@linkcode blockUsage} of its ranges, and `verified` implies that the
 * ranges cover the whole blob.
 *
 * @module
 */

import type { ReadTx, Schema, WriteTx } from "../storage/mod.ts";
import { ByteRange, ByteRanges, Hash } from "../types/mod.ts";
import { assert } from "../util/mod.ts";
import { blockUsage } from "./cache_usage.ts";

/**
 * Where a blob sits in the cache: `working` (mark `watch`, evicted in LRU order),
 * `protected` (marks `keep`/`own`, never evicted) or `pending` (a replaced or deleted
 * version, evicted first).
 */
export type Area = "working" | "protected" | "pending";

/** Every area. */
export const AREAS: readonly Area[] = ["working", "protected", "pending"];

/** The order in which the cleaner evicts areas; `protected` is never evicted. */
export const EVICTION_ORDER: readonly Area[] = ["pending", "working"];

/** The `blob` schema: table `blob_entry`. */
export const BLOB_SCHEMA: Schema = {
  name: "blob",
  migrations: [
    `CREATE TABLE blob_entry (
      hash BLOB PRIMARY KEY CHECK (length(hash) = 32),
      size INTEGER NOT NULL CHECK (size >= 0),
      ranges TEXT NOT NULL,
      verified INTEGER NOT NULL CHECK (verified IN (0, 1)),
      area TEXT NOT NULL CHECK (area IN ('working', 'protected', 'pending')),
      lru INTEGER NOT NULL,
      usage INTEGER NOT NULL CHECK (usage >= 0)
    ) WITHOUT ROWID;
    CREATE INDEX blob_entry_lru ON blob_entry (area, lru);`,
  ],
};

/** One row of `blob_entry`. */
export interface BlobRow {
  /** The version's BLAKE3 hash; names the file. */
  readonly hash: Hash;
  /** The version's size in bytes. */
  readonly size: number;
  /** Bytes recorded as present in the file. */
  readonly ranges: ByteRanges;
  /** Whether the content was hashed and matched. */
  readonly verified: boolean;
  /** The cache area. */
  readonly area: Area;
  /** Last-access sequence number: higher is more recent. */
  readonly lru: number;
  /** Bytes of the blocks the ranges touch. */
  readonly usage: number;
}

interface RawRow {
  hash: Uint8Array;
  size: number;
  ranges: string;
  verified: number;
  area: string;
  lru: number;
  usage: number;
}

const COLUMNS = "hash, size, ranges, verified, area, lru, usage";

function decode(raw: RawRow): BlobRow {
  const ranges = ByteRanges.fromJSON(JSON.parse(raw.ranges));
  const row: BlobRow = {
    hash: Hash.fromBytes(raw.hash),
    size: raw.size,
    ranges,
    verified: raw.verified === 1,
    area: raw.area as Area,
    lru: raw.lru,
    usage: raw.usage,
  };
  checkRow(row);
  return row;
}

/**
 * Asserts a row's invariants (before it is written and after it is read).
 *
 * @param row the row
 * @throws {AssertionError} when ranges pass the end, usage disagrees with the ranges, or a
 *   verified row is incomplete
 */
export function checkRow(row: BlobRow): void {
  assert(AREAS.includes(row.area), `blob area "${row.area}" is known`);
  assert(Number.isSafeInteger(row.size) && row.size >= 0, "a blob size is a natural number");
  const full = ByteRange.of(0, row.size);
  assert(row.ranges.subtract(ByteRanges.of(full)).isEmpty(), "ranges fit in the blob");
  assert(row.usage === blockUsage(row.ranges), "blob usage is the blocks of its ranges");
  assert(!row.verified || row.ranges.contains(full), "a verified blob is complete");
}

/**
 * Reads the row of a blob.
 *
 * @param tx a transaction
 * @param hash the blob
 * @returns its row, or `null`
 */
export function getBlobRow(tx: ReadTx, hash: Hash): BlobRow | null {
  const raw = tx.get<RawRow>(`SELECT ${COLUMNS} FROM blob_entry WHERE hash = ?`, hash.bytes());
  return raw === undefined ? null : decode(raw);
}

/**
 * Reads every row, in hash order.
 *
 * @param tx a transaction
 * @returns an iterator valid inside the transaction
 */
export function* allBlobRows(tx: ReadTx): Generator<BlobRow, void, undefined> {
  for (const raw of tx.iterate<RawRow>(`SELECT ${COLUMNS} FROM blob_entry ORDER BY hash`)) {
    yield decode(raw);
  }
}

/**
 * The blobs of an area that hold data, least recently used first (eviction candidates).
 *
 * @param tx a transaction
 * @param area the area
 * @returns an iterator of hash and usage, valid inside the transaction
 */
export function* leastRecentlyUsed(
  tx: ReadTx,
  area: Area,
): Generator<{ hash: Hash; usage: number }, void, undefined> {
  const sql = "SELECT hash, usage FROM blob_entry WHERE area = ? AND usage > 0 ORDER BY lru";
  for (const raw of tx.iterate<{ hash: Uint8Array; usage: number }>(sql, area)) {
    yield { hash: Hash.fromBytes(raw.hash), usage: raw.usage };
  }
}

/**
 * Inserts or replaces a row.
 *
 * @param tx a write transaction
 * @param row the row; its invariants are asserted
 */
export function putBlobRow(tx: WriteTx, row: BlobRow): void {
  checkRow(row);
  tx.run(
    `INSERT OR REPLACE INTO blob_entry (${COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)`,
    row.hash.bytes(),
    row.size,
    JSON.stringify(row.ranges),
    row.verified ? 1 : 0,
    row.area,
    row.lru,
    row.usage,
  );
}

/**
 * Records the ranges present in a blob's file (and its usage and verified flag).
 *
 * @param tx a write transaction
 * @param hash the blob
 * @param ranges the ranges now known present
 * @param verified whether the content is verified; only for complete ranges
 * @returns false when the blob has no row
 */
export function setBlobRanges(
  tx: WriteTx,
  hash: Hash,
  ranges: ByteRanges,
  verified: boolean,
): boolean {
  const row = getBlobRow(tx, hash);
  if (row === null) return false;
  putBlobRow(tx, { ...row, ranges, verified, usage: blockUsage(ranges) });
  return true;
}

/**
 * Moves a blob to another area.
 *
 * @param tx a write transaction
 * @param hash the blob
 * @param area the new area
 * @returns the row before the change, or `null` when there is none
 */
export function setBlobArea(tx: WriteTx, hash: Hash, area: Area): BlobRow | null {
  const row = getBlobRow(tx, hash);
  if (row !== null) tx.run("UPDATE blob_entry SET area = ? WHERE hash = ?", area, hash.bytes());
  return row;
}

/**
 * Records a blob's last-access sequence number.
 *
 * @param tx a write transaction
 * @param hash the blob
 * @param lru the sequence number
 */
export function setBlobLru(tx: WriteTx, hash: Hash, lru: number): void {
  tx.run("UPDATE blob_entry SET lru = ? WHERE hash = ?", lru, hash.bytes());
}

/**
 * Deletes a blob's row.
 *
 * @param tx a write transaction
 * @param hash the blob
 * @returns the deleted row, or `null` when there was none
 */
export function deleteBlobRow(tx: WriteTx, hash: Hash): BlobRow | null {
  const row = getBlobRow(tx, hash);
  if (row !== null) tx.run("DELETE FROM blob_entry WHERE hash = ?", hash.bytes());
  return row;
}

/**
 * Usage per area, summed over the rows.
 *
 * @param tx a transaction
 * @returns bytes per area
 */
export function usageByArea(tx: ReadTx): Record<Area, number> {
  const usage: Record<Area, number> = { working: 0, protected: 0, pending: 0 };
  const sql = "SELECT area, sum(usage) AS usage FROM blob_entry GROUP BY area";
  for (const row of tx.all<{ area: Area; usage: number }>(sql)) usage[row.area] = row.usage;
  return usage;
}

/**
 * The highest last-access sequence number recorded.
 *
 * @param tx a transaction
 * @returns it, or 0 when there is no row
 */
export function maxBlobLru(tx: ReadTx): number {
  return tx.get<{ lru: number | null }>("SELECT max(lru) AS lru FROM blob_entry")?.lru ?? 0;
}
