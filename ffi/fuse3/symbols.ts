/**
 * The libfuse3 (3.x, `libfuse3.so.3`) low-level API symbols realize calls, as a Deno FFI
 * table, with the C prototype of every one.
 *
 * @module
 */

export const FUSE3_SYMBOLS = {
  // struct fuse_session *fuse_session_new(struct fuse_args *args,
  //     const struct fuse_lowlevel_ops *op, size_t op_size, void *userdata);
  fuse_session_new: { parameters: ["buffer", "buffer", "usize", "pointer"], result: "pointer" },
  // int fuse_session_mount(struct fuse_session *se, const char *mountpoint);
  fuse_session_mount: { parameters: ["pointer", "buffer"], result: "i32" },
  // int fuse_session_fd(struct fuse_session *se);
  fuse_session_fd: { parameters: ["pointer"], result: "i32" },
  // int fuse_session_exited(struct fuse_session *se);
  fuse_session_exited: { parameters: ["pointer"], result: "i32" },
  // int fuse_session_receive_buf(struct fuse_session *se, struct fuse_buf *buf);
  //   Reads one request (mallocs buf->mem the first time); -EAGAIN on a non-blocking fd.
  fuse_session_receive_buf: { parameters: ["pointer", "buffer"], result: "i32" },
  // void fuse_session_process_buf(struct fuse_session *se, const struct fuse_buf *buf);
  //   Calls the operation's callback on this thread, before it returns.
  fuse_session_process_buf: { parameters: ["pointer", "buffer"], result: "void" },
  // void fuse_session_exit(struct fuse_session *se);
  fuse_session_exit: { parameters: ["pointer"], result: "void" },
  // void fuse_session_unmount(struct fuse_session *se);
  fuse_session_unmount: { parameters: ["pointer"], result: "void" },
  // void fuse_session_destroy(struct fuse_session *se);
  fuse_session_destroy: { parameters: ["pointer"], result: "void" },
  // int fuse_reply_err(fuse_req_t req, int err);
  fuse_reply_err: { parameters: ["pointer", "i32"], result: "i32" },
  // void fuse_reply_none(fuse_req_t req);
  fuse_reply_none: { parameters: ["pointer"], result: "void" },
  // int fuse_reply_entry(fuse_req_t req, const struct fuse_entry_param *e);
  fuse_reply_entry: { parameters: ["pointer", "buffer"], result: "i32" },
  // int fuse_reply_attr(fuse_req_t req, const struct stat *attr, double attr_timeout);
  fuse_reply_attr: { parameters: ["pointer", "buffer", "f64"], result: "i32" },
  // int fuse_reply_open(fuse_req_t req, const struct fuse_file_info *fi);
  fuse_reply_open: { parameters: ["pointer", "buffer"], result: "i32" },
  // int fuse_reply_data(fuse_req_t req, struct fuse_bufvec *bufv,
  //                     enum fuse_buf_copy_flags flags);
  fuse_reply_data: { parameters: ["pointer", "buffer", "i32"], result: "i32" },
  // int fuse_reply_buf(fuse_req_t req, const char *buf, size_t size);
  fuse_reply_buf: { parameters: ["pointer", "buffer", "usize"], result: "i32" },
  // int fuse_reply_xattr(fuse_req_t req, size_t count);
  fuse_reply_xattr: { parameters: ["pointer", "usize"], result: "i32" },
  // int fuse_reply_statfs(fuse_req_t req, const struct statvfs *stbuf);
  fuse_reply_statfs: { parameters: ["pointer", "buffer"], result: "i32" },
  // size_t fuse_add_direntry(fuse_req_t req, char *buf, size_t bufsize, const char *name,
  //     const struct stat *stbuf, off_t off);
  fuse_add_direntry: {
    parameters: ["pointer", "buffer", "usize", "buffer", "buffer", "i64"],
    result: "usize",
  },
  // size_t fuse_add_direntry_plus(fuse_req_t req, char *buf, size_t bufsize,
  //     const char *name, const struct fuse_entry_param *e, off_t off);
  fuse_add_direntry_plus: {
    parameters: ["pointer", "buffer", "usize", "buffer", "buffer", "i64"],
    result: "usize",
  },
  // Notifications run on a thread of their own (nonblocking): the kernel may make them
  // wait for a page or directory lock held by a request that only the loop's thread can
  // answer (libfuse: never call them in the path of a request).
  // int fuse_lowlevel_notify_inval_inode(struct fuse_session *se, fuse_ino_t ino,
  //     off_t off, off_t len);
  fuse_lowlevel_notify_inval_inode: {
    parameters: ["pointer", "u64", "i64", "i64"],
    result: "i32",
    nonblocking: true,
  },
  // int fuse_lowlevel_notify_inval_entry(struct fuse_session *se, fuse_ino_t parent,
  //     const char *name, size_t namelen);
  fuse_lowlevel_notify_inval_entry: {
    parameters: ["pointer", "u64", "buffer", "usize"],
    result: "i32",
    nonblocking: true,
  },
} as const satisfies Deno.ForeignLibraryInterface;
