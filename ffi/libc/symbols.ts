/**
 * The libc symbols realize calls, as a Deno FFI table. Every parameter carries its C
 * prototype. x86_64 / aarch64 glibc.
 *
 * @module
 */

export const LIBC_SYMBOLS = {
  // int open(const char *pathname, int flags, mode_t mode);
  open: { parameters: ["buffer", "i32", "u32"], result: "i32" },
  // int close(int fd);
  close: { parameters: ["i32"], result: "i32" },
  // The same, off the JS thread: the last close of a deleted file frees its blocks.
  close_nonblocking: { name: "close", parameters: ["i32"], result: "i32", nonblocking: true },
  // ssize_t pread(int fd, void *buf, size_t count, off_t offset);
  pread: { parameters: ["i32", "buffer", "usize", "i64"], result: "isize" },
  // int flock(int fd, int operation);
  flock: { parameters: ["i32", "i32"], result: "i32" },
  // ssize_t pwrite(int fd, const void *buf, size_t count, off_t offset);
  pwrite: { parameters: ["i32", "buffer", "usize", "i64"], result: "isize" },
  // int ftruncate(int fd, off_t length);
  ftruncate: { parameters: ["i32", "i64"], result: "i32" },
  // off_t lseek(int fd, off_t offset, int whence);   whence 3/4: SEEK_DATA/SEEK_HOLE
  lseek: { parameters: ["i32", "i64", "i32"], result: "i64" },
  // int fallocate(int fd, int mode, off_t offset, off_t len);
  fallocate: { parameters: ["i32", "i32", "i64", "i64"], result: "i32" },
  // int statvfs(const char *restrict path, struct statvfs *restrict buf);
  statvfs: { parameters: ["buffer", "buffer"], result: "i32" },
  // int statx(int dirfd, const char *restrict pathname, int flags, unsigned int mask,
  //           struct statx *restrict statxbuf);   (glibc >= 2.28)
  statx: { parameters: ["i32", "buffer", "i32", "u32", "buffer"], result: "i32" },
  // ssize_t lgetxattr(const char *path, const char *name, void *value, size_t size);
  lgetxattr: { parameters: ["buffer", "buffer", "buffer", "usize"], result: "isize" },
  // int lsetxattr(const char *path, const char *name, const void *value, size_t size,
  //               int flags);
  lsetxattr: { parameters: ["buffer", "buffer", "buffer", "usize", "i32"], result: "i32" },
  // int lremovexattr(const char *path, const char *name);
  lremovexattr: { parameters: ["buffer", "buffer"], result: "i32" },
  // ssize_t llistxattr(const char *path, char *list, size_t size);
  llistxattr: { parameters: ["buffer", "buffer", "usize"], result: "isize" },
  // int inotify_init1(int flags);
  inotify_init1: { parameters: ["i32"], result: "i32" },
  // int inotify_add_watch(int fd, const char *pathname, uint32_t mask);
  inotify_add_watch: { parameters: ["i32", "buffer", "u32"], result: "i32" },
  // int inotify_rm_watch(int fd, int wd);
  inotify_rm_watch: { parameters: ["i32", "i32"], result: "i32" },
  // int eventfd(unsigned int initval, int flags);
  eventfd: { parameters: ["u32", "i32"], result: "i32" },
  // ssize_t read(int fd, void *buf, size_t count);
  read: { parameters: ["i32", "buffer", "usize"], result: "isize" },
  // ssize_t write(int fd, const void *buf, size_t count);
  write: { parameters: ["i32", "buffer", "usize"], result: "isize" },
  // int dup3(int oldfd, int newfd, int flags);
  dup3: { parameters: ["i32", "i32", "i32"], result: "i32" },
  // int ioctl(int fd, unsigned long request, void *argp);
  ioctl: { parameters: ["i32", "u64", "buffer"], result: "i32" },
  // int pipe2(int pipefd[2], int flags);
  pipe2: { parameters: ["buffer", "i32"], result: "i32" },
  // ssize_t splice(int fd_in, off64_t *off_in, int fd_out, off64_t *off_out, size_t len,
  //                unsigned int flags);
  splice: { parameters: ["i32", "buffer", "i32", "buffer", "usize", "u32"], result: "isize" },
  // int fcntl(int fd, int cmd, ... /* int arg */);   (F_GETFL 3, F_SETFL 4, F_SETPIPE_SZ 1031)
  fcntl: { parameters: ["i32", "i32", "i32"], result: "i32" },
  // void free(void *ptr);
  free: { parameters: ["pointer"], result: "void" },
  // size_t strnlen(const char *s, size_t maxlen);
  strnlen: { parameters: ["pointer", "usize"], result: "usize" },
  // int poll(struct pollfd *fds, nfds_t nfds, int timeout);   Blocks: runs off the JS thread.
  poll: { parameters: ["buffer", "u64", "i32"], result: "i32", nonblocking: true },
  // int mount(const char *source, const char *target, const char *filesystemtype,
  //           unsigned long mountflags, const void *data);
  mount: { parameters: ["buffer", "buffer", "buffer", "u64", "buffer"], result: "i32" },
  // int umount2(const char *target, int flags);
  umount2: { parameters: ["buffer", "i32"], result: "i32" },
  // int *__errno_location(void);
  __errno_location: { parameters: [], result: "pointer" },
  // char *strerror(int errnum);
  strerror: { parameters: ["i32"], result: "pointer" },
} as const satisfies Deno.ForeignLibraryInterface;
