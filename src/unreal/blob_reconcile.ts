/**
 * Start-up reconciliation of the blob table with the blob files, after a crash or files
 * touched behind realize's back. It restores the invariant "a range recorded in the
 * database is really in the file" and frees what no row accounts for:
 *
 * - a file with no row (or not named like a blob) is deleted;
 * - a row whose file is gone keeps its area and LRU position, with its ranges cleared;
 * - a row recording ranges the file does not hold (`SEEK_DATA`/`SEEK_HOLE`) is trimmed to
 *   what is there (and loses `verified` unless still complete);
 * - a file of the wrong size is truncated to the row's size;
 * - data in whole blocks no recorded range touches (written before a crash, never
 *   recorded) is punched out, so the accounting matches the disk.
 *
 * The database is always changed before the file, as everywhere in the store.
 *
 * @module
 */

import { join } from "node:path";
import { dataExtents, punchHole } from "../../ffi/libc/mod.ts";
import type { Database } from "../storage/mod.ts";
import { ByteRange, ByteRanges } from "../types/mod.ts";
import { logger } from "../util/mod.ts";
import { blobFileName, parseBlobFileName } from "./blob_file.ts";
import { allBlobRows, type BlobRow, putBlobRow } from "./blob_schema.ts";
import { alignOutward, blockUsage } from "./cache_usage.ts";

const log = logger("blob");

/** What {@linkcode reconcileBlobs} changed. */
export interface ReconcileReport {
  /** Files deleted because no row names them. */
  readonly strayFiles: number;
  /** Rows whose file was missing; their ranges were cleared. */
  readonly missingFiles: number;
  /** Rows whose recorded ranges were trimmed to the data really in the file. */
  readonly trimmedRows: number;
  /** Recorded bytes dropped from those rows. */
  readonly trimmedBytes: number;
  /** Files truncated or extended to their row's size. */
  readonly resizedFiles: number;
  /** Bytes of unrecorded data punched out of files. */
  readonly punchedBytes: number;
}

/**
 * Reconciles the blob table with the files of `dir`. Nothing may use the blobs meanwhile.
 *
 * @param db the arena database (schema `blob`)
 * @param dir the blobs directory
 * @returns what was changed
 * @throws {StorageError} when the database fails
 * @throws {Error} when a file cannot be listed, deleted, truncated or punched
 */
export function reconcileBlobs(db: Database, dir: string): ReconcileReport {
  const rows = db.read((tx) => [...allBlobRows(tx)]);
  const report = {
    strayFiles: removeStrays(dir, new Set(rows.map((row) => blobFileName(row.hash)))),
    missingFiles: 0,
    trimmedRows: 0,
    trimmedBytes: 0,
    resizedFiles: 0,
    punchedBytes: 0,
  };
  for (const row of rows) reconcileRow(db, dir, row, report);
  if (Object.values(report).some((n) => n > 0)) {
    log.info(`reconciled blobs in ${dir}: ${JSON.stringify(report)}`);
  }
  return report;
}

function removeStrays(dir: string, known: ReadonlySet<string>): number {
  let removed = 0;
  for (const entry of Deno.readDirSync(dir)) {
    const hash = parseBlobFileName(entry.name);
    if (entry.isFile && hash !== null && known.has(entry.name)) continue;
    Deno.removeSync(join(dir, entry.name), { recursive: true });
    removed++;
  }
  return removed;
}

type Counts = { -readonly [K in keyof ReconcileReport]: number };

function reconcileRow(db: Database, dir: string, row: BlobRow, report: Counts): void {
  const path = join(dir, blobFileName(row.hash));
  const extents = dataExtents(path);
  if (extents === null) {
    if (!row.ranges.isEmpty()) report.missingFiles++;
    record(db, row, ByteRanges.empty());
    return;
  }
  const full = ByteRange.of(0, row.size);
  const actual = ByteRanges.from(extents.map(([start, end]) => ByteRange.of(start, end)))
    .intersection(ByteRanges.of(full));
  const kept = row.ranges.intersection(actual);
  if (!kept.equals(row.ranges)) {
    report.trimmedRows++;
    report.trimmedBytes += row.ranges.byteCount() - kept.byteCount();
  }
  record(db, row, kept);
  const fileSize = Deno.statSync(path).size;
  if (fileSize !== row.size) {
    Deno.truncateSync(path, row.size);
    report.resizedFiles++;
  }
  for (const extra of actual.subtract(alignOutward(kept)).ranges()) {
    punchHole(path, extra.start, extra.byteCount());
    report.punchedBytes += extra.byteCount();
  }
}

/** Records `ranges` when the row says otherwise (or its usage or flag disagree). */
function record(db: Database, row: BlobRow, ranges: ByteRanges): void {
  const verified = row.verified && ranges.contains(ByteRange.of(0, row.size));
  const usage = blockUsage(ranges);
  if (ranges.equals(row.ranges) && verified === row.verified && usage === row.usage) return;
  db.write((tx) => putBlobRow(tx, { ...row, ranges, verified, usage }));
}
