/**
 * libfuse3 3.x struct layouts on x86_64 / aarch64 Linux (explicit offsets, checked when
 * this module loads; `structs_test.ts` compares them with a C `offsetof` probe when the
 * libfuse3 headers are installed).
 *
 * @module
 */

import { checkLayout, type StructLayout } from "../libc/structs.ts";

/** `struct stat` (glibc, 64-bit). */
export const STAT = {
  size: 144,
  fields: {
    st_dev: [0, "u64"],
    st_ino: [8, "u64"],
    st_nlink: [16, "u64"],
    st_mode: [24, "u32"],
    st_uid: [28, "u32"],
    st_gid: [32, "u32"],
    st_rdev: [40, "u64"],
    st_size: [48, "i64"],
    st_blksize: [56, "i64"],
    st_blocks: [64, "i64"],
    st_atim_sec: [72, "i64"],
    st_atim_nsec: [80, "i64"],
    st_mtim_sec: [88, "i64"],
    st_mtim_nsec: [96, "i64"],
    st_ctim_sec: [104, "i64"],
    st_ctim_nsec: [112, "i64"],
  },
} as const satisfies StructLayout;

/** `struct fuse_entry_param`: the inode, its attributes (a `struct stat` at 16), timeouts. */
export const ENTRY_PARAM = {
  size: 176,
  fields: {
    ino: [0, "u64"],
    generation: [8, "u64"],
    attr: [16, "u64"], // start of the embedded struct stat (STAT.size bytes)
    attr_timeout: [160, "f64"],
    entry_timeout: [168, "f64"],
  },
} as const satisfies StructLayout;

/**
 * `struct fuse_file_info` (3.x): `flags`, then a 32-bit bitfield word (bit 1 `direct_io`,
 * bit 2 `keep_cache`, bit 6 `cache_readdir`), padding, `fh`.
 */
export const FILE_INFO = {
  size: 40,
  fields: {
    flags: [0, "i32"],
    bits: [4, "u32"],
    fh: [16, "u64"],
    lock_owner: [24, "u64"],
    poll_events: [32, "u32"],
  },
} as const satisfies StructLayout;

/** Bits of `FILE_INFO.bits`. */
export const FILE_INFO_BITS = { directIo: 1 << 1, keepCache: 1 << 2, cacheReaddir: 1 << 6 };

/** `struct fuse_args { int argc; char **argv; int allocated; }`. */
export const FUSE_ARGS = {
  size: 24,
  fields: { argc: [0, "i32"], argv: [8, "u64"], allocated: [16, "i32"] },
} as const satisfies StructLayout;

/**
 * `struct fuse_lowlevel_ops` (libfuse 3.14: 44 function pointers). Offsets of the slots
 * realize fills; the others stay NULL (libfuse answers ENOSYS or its default).
 */
export const LOWLEVEL_OPS = {
  size: 352,
  fields: {
    init: [0, "u64"],
    destroy: [8, "u64"],
    lookup: [16, "u64"],
    forget: [24, "u64"],
    getattr: [32, "u64"],
    setattr: [40, "u64"],
    readlink: [48, "u64"],
    mknod: [56, "u64"],
    mkdir: [64, "u64"],
    unlink: [72, "u64"],
    rmdir: [80, "u64"],
    symlink: [88, "u64"],
    rename: [96, "u64"],
    link: [104, "u64"],
    open: [112, "u64"],
    read: [120, "u64"],
    write: [128, "u64"],
    flush: [136, "u64"],
    release: [144, "u64"],
    fsync: [152, "u64"],
    opendir: [160, "u64"],
    readdir: [168, "u64"],
    releasedir: [176, "u64"],
    fsyncdir: [184, "u64"],
    statfs: [192, "u64"],
    setxattr: [200, "u64"],
    getxattr: [208, "u64"],
    listxattr: [216, "u64"],
    removexattr: [224, "u64"],
    access: [232, "u64"],
    create: [240, "u64"],
    forget_multi: [304, "u64"],
    readdirplus: [328, "u64"],
    lseek: [344, "u64"],
  },
} as const satisfies StructLayout;

/** `struct fuse_forget_data { uint64_t ino; uint64_t nlookup; }`. */
export const FORGET_DATA = {
  size: 16,
  fields: { ino: [0, "u64"], nlookup: [8, "u64"] },
} as const satisfies StructLayout;

/** `struct fuse_buf { size_t size; enum fuse_buf_flags flags; void *mem; int fd; off_t pos; }`. */
export const FUSE_BUF = {
  size: 40,
  fields: {
    size: [0, "u64"],
    flags: [8, "u32"],
    mem: [16, "u64"],
    fd: [24, "i32"],
    pos: [32, "i64"],
  },
} as const satisfies StructLayout;

/** `struct fuse_bufvec { size_t count, idx, off; struct fuse_buf buf[1]; }`. */
export const FUSE_BUFVEC = {
  size: 64,
  fields: {
    count: [0, "u64"],
    idx: [8, "u64"],
    off: [16, "u64"],
    buf: [24, "u64"], // the first `struct fuse_buf` (FUSE_BUF)
  },
} as const satisfies StructLayout;

/** `struct fuse_conn_info`: the fields realize reads or sets in `init`. */
export const CONN_INFO = {
  size: 128,
  fields: {
    proto_major: [0, "u32"],
    proto_minor: [4, "u32"],
    max_write: [8, "u32"],
    max_read: [12, "u32"],
    max_readahead: [16, "u32"],
    capable: [20, "u32"],
    want: [24, "u32"],
    max_background: [28, "u32"],
  },
} as const satisfies StructLayout;

checkLayout("struct stat", STAT);
checkLayout("struct fuse_entry_param", ENTRY_PARAM);
checkLayout("struct fuse_file_info", FILE_INFO);
checkLayout("struct fuse_args", FUSE_ARGS);
checkLayout("struct fuse_lowlevel_ops", LOWLEVEL_OPS);
checkLayout("struct fuse_forget_data", FORGET_DATA);
checkLayout("struct fuse_buf", FUSE_BUF);
checkLayout("struct fuse_bufvec", FUSE_BUFVEC);
checkLayout("struct fuse_conn_info", CONN_INFO);
