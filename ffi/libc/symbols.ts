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
  // int flock(int fd, int operation);
  flock: { parameters: ["i32", "i32"], result: "i32" },
  // ssize_t pwrite(int fd, const void *buf, size_t count, off_t offset);
  pwrite: { parameters: ["i32", "buffer", "usize", "i64"], result: "isize" },
  // int ftruncate(int fd, off_t length);
  ftruncate: { parameters: ["i32", "i64"], result: "i32" },
  // int *__errno_location(void);
  __errno_location: { parameters: [], result: "pointer" },
  // char *strerror(int errnum);
  strerror: { parameters: ["i32"], result: "pointer" },
} as const satisfies Deno.ForeignLibraryInterface;
