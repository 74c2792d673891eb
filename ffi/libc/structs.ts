/**
 * C struct layouts as explicit-offset tables (x86_64 / aarch64 Linux, little-endian), and
 * the readers that decode them. Each table is checked when this module loads: every field
 * is naturally aligned, fits in the struct, and overlaps no other. `structs_test.ts`
 * compares the offsets with a C `offsetof` probe when `cc` is present.
 *
 * @module
 */

/** A field's C type. `i64`/`u64` are read as safe-integer numbers. */
export type FieldType = "u16" | "u32" | "i32" | "i64" | "u64" | "f64";

/** A field: byte offset and type. */
export type Field = readonly [offset: number, type: FieldType];

/** A struct: its `sizeof` and the fields realize reads (padding and unused fields omitted). */
export interface StructLayout {
  /** `sizeof` the struct. */
  readonly size: number;
  /** Fields by name; a nested field is flattened, e.g. `stx_mtime.tv_sec` → `stx_mtime_sec`. */
  readonly fields: Readonly<Record<string, Field>>;
}

/** Size in bytes of each field type. */
export const FIELD_SIZE: Readonly<Record<FieldType, number>> = {
  u16: 2,
  u32: 4,
  i32: 4,
  i64: 8,
  u64: 8,
  f64: 8,
};

/**
 * `struct statx` from `<linux/stat.h>` (via glibc `<sys/stat.h>`). The timestamps are
 * `struct statx_timestamp { __s64 tv_sec; __u32 tv_nsec; __s32 __reserved; }`.
 */
export const STATX = {
  size: 256,
  fields: {
    stx_mask: [0, "u32"],
    stx_blksize: [4, "u32"],
    stx_attributes: [8, "u64"],
    stx_nlink: [16, "u32"],
    stx_uid: [20, "u32"],
    stx_gid: [24, "u32"],
    stx_mode: [28, "u16"],
    stx_ino: [32, "u64"],
    stx_size: [40, "u64"],
    stx_blocks: [48, "u64"],
    stx_attributes_mask: [56, "u64"],
    stx_atime_sec: [64, "i64"],
    stx_atime_nsec: [72, "u32"],
    stx_btime_sec: [80, "i64"],
    stx_btime_nsec: [88, "u32"],
    stx_ctime_sec: [96, "i64"],
    stx_ctime_nsec: [104, "u32"],
    stx_mtime_sec: [112, "i64"],
    stx_mtime_nsec: [120, "u32"],
    stx_rdev_major: [128, "u32"],
    stx_rdev_minor: [132, "u32"],
    stx_dev_major: [136, "u32"],
    stx_dev_minor: [140, "u32"],
  },
} as const satisfies StructLayout;

/**
 * `struct statvfs` from glibc `<sys/statvfs.h>` (64-bit: every field is an `unsigned long`
 * or a 64-bit count, then `int __f_spare[6]`). Block counts are in `f_frsize` units.
 */
export const STATVFS = {
  size: 112,
  fields: {
    f_bsize: [0, "u64"],
    f_frsize: [8, "u64"],
    f_blocks: [16, "u64"],
    f_bfree: [24, "u64"],
    f_bavail: [32, "u64"],
    f_files: [40, "u64"],
    f_ffree: [48, "u64"],
    f_favail: [56, "u64"],
    f_fsid: [64, "u64"],
    f_flag: [72, "u64"],
    f_namemax: [80, "u64"],
  },
} as const satisfies StructLayout;

/**
 * Checks a layout: fields are naturally aligned, fit in `size`, and do not overlap.
 *
 * @param name the struct's name, for messages
 * @param layout the layout
 * @throws {Error} when the layout is wrong (a bug in this file)
 */
export function checkLayout(name: string, layout: StructLayout): void {
  const spans = Object.entries(layout.fields).map(([field, [offset, type]]) => {
    const end = offset + FIELD_SIZE[type];
    if (!Number.isInteger(offset) || offset < 0 || offset % FIELD_SIZE[type] !== 0) {
      throw new Error(`Layout of ${name} is wrong: ${field} at ${offset} is misaligned`);
    }
    if (end > layout.size) {
      throw new Error(`Layout of ${name} is wrong: ${field} ends at ${end} > ${layout.size}`);
    }
    return { field, offset, end };
  });
  spans.sort((a, b) => a.offset - b.offset);
  for (let i = 1; i < spans.length; i++) {
    const before = spans[i - 1]!;
    const span = spans[i]!;
    if (span.offset < before.end) {
      throw new Error(`Layout of ${name} is wrong: ${span.field} overlaps ${before.field}`);
    }
  }
}

/**
 * Reads a field from a struct's bytes.
 *
 * @param view a view of the struct (offset 0 is the struct's start)
 * @param field the field
 * @returns its value; 64-bit fields as exact numbers
 * @throws {RangeError} when a 64-bit value is not a safe integer (2^53 or more)
 */
export function readField(view: DataView, field: Field): number {
  const [offset, type] = field;
  switch (type) {
    case "u16":
      return view.getUint16(offset, true);
    case "u32":
      return view.getUint32(offset, true);
    case "i32":
      return view.getInt32(offset, true);
    case "f64":
      return view.getFloat64(offset, true);
    case "u64":
    case "i64": {
      // Two halves avoid a BigInt per field; hi * 2^32 + lo is exact below 2^53.
      const lo = view.getUint32(offset, true);
      const hi = type === "u64"
        ? view.getUint32(offset + 4, true)
        : view.getInt32(offset + 4, true);
      const value = hi * 0x1_0000_0000 + lo;
      if (!Number.isSafeInteger(value)) {
        throw new RangeError(`Cannot read ${type} at offset ${offset}: not a safe integer`);
      }
      return value;
    }
  }
}

/**
 * Writes a field into a struct's bytes.
 *
 * @param view a view of the struct
 * @param field the field
 * @param value a number (64-bit fields: a safe integer)
 */
export function writeField(view: DataView, field: Field, value: number): void {
  const [offset, type] = field;
  switch (type) {
    case "u16":
      return view.setUint16(offset, value, true);
    case "u32":
      return view.setUint32(offset, value >>> 0, true);
    case "i32":
      return view.setInt32(offset, value, true);
    case "f64":
      return view.setFloat64(offset, value, true);
    case "u64":
    case "i64": {
      // Two 32-bit halves: no BigInt (a listing writes a dozen of these per entry).
      const n = Math.trunc(value);
      const hi = Math.floor(n / 0x1_0000_0000);
      view.setUint32(offset, n - hi * 0x1_0000_0000, true);
      return view.setUint32(offset + 4, hi >>> 0, true); // two's complement when negative
    }
  }
}

if (new Uint8Array(new Uint16Array([1]).buffer)[0] !== 1) {
  throw new Error("Cannot use ffi/libc struct layouts: this platform is not little-endian");
}
checkLayout("struct statx", STATX);
checkLayout("struct statvfs", STATVFS);
