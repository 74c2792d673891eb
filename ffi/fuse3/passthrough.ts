/**
 * FUSE passthrough (kernel ≥ 6.9): an open file whose reads the kernel serves from a
 * backing file itself — for realize, a complete cached blob — with no request to us.
 * libfuse 3.14 (Debian 12) predates it, so two replies are made here:
 *
 * - INIT: libfuse answers it into a pipe put in place of the device descriptor, and the
 *   reply is patched (`FUSE_PASSTHROUGH` in `flags2`, `max_stack_depth`) and written to
 *   the device. Only when the kernel offered it.
 * - OPEN: the backing file is registered with `FUSE_DEV_IOC_BACKING_OPEN` and the reply
 *   (`FOPEN_PASSTHROUGH` and the backing id) written to the device directly; libfuse's
 *   request is then freed without a reply. The id must stay registered until the kernel
 *   has handled the reply (closing it at once made the open fail with EIO); it holds the
 *   file, so opens may share one id until the last is released.
 *
 * @module
 */

import { ErrnoError, lastErrno, libc } from "../libc/library.ts";
import type { ReadOnlyFile } from "../libc/read_only_file.ts";
import { fuse3 } from "./library.ts";
import { FUSE_BUF } from "./structs.ts";
import { F, O } from "../libc/linux.ts";

const FUSE_INIT = 26;
/** `struct fuse_in_header` is 40 bytes; `struct fuse_init_in` follows. */
const INIT_IN_FLAGS = 40 + 12;
const INIT_IN_FLAGS2 = 40 + 16;
/** `struct fuse_out_header` is 16 bytes; `struct fuse_init_out` follows. */
const INIT_OUT_FLAGS = 16 + 12;
const INIT_OUT_FLAGS2 = 16 + 32;
const INIT_OUT_MAX_STACK_DEPTH = 16 + 36;
const FUSE_INIT_EXT = 1 << 30;
/** `FUSE_PASSTHROUGH` is bit 37 of the 64 flags: bit 5 of `flags2`. */
const FLAGS2_PASSTHROUGH = 1 << 5;
const FOPEN_PASSTHROUGH = 1 << 7;
/** `_IOW(229, 1, struct fuse_backing_map)` and `_IOW(229, 2, uint32_t)`. */
const FUSE_DEV_IOC_BACKING_OPEN = 0x4010e501n;
const FUSE_DEV_IOC_BACKING_CLOSE = 0x4004e502n;
/** `struct fuse_req { struct fuse_session *se; uint64_t unique; ... }` (libfuse 3). */
const REQ_UNIQUE = 8;

/**
 * Whether a received request is the kernel's INIT.
 *
 * @param buf a `struct fuse_buf` filled by `fuse_session_receive_buf`
 * @returns true for INIT
 */
export function isInit(buf: Uint8Array): boolean {
  return request(buf)?.getUint32(4) === FUSE_INIT;
}

/** The request a `struct fuse_buf` holds, or `null`. */
function request(buf: Uint8Array): Deno.UnsafePointerView | null {
  const mem = new DataView(buf.buffer).getBigUint64(FUSE_BUF.fields.mem[0], true);
  const p = Deno.UnsafePointer.create(mem);
  return p === null ? null : new Deno.UnsafePointerView(p);
}

/**
 * Lets libfuse process INIT, with passthrough added to its reply when the kernel offers it.
 *
 * @param se the session
 * @param buf the received INIT
 * @param device the session's device descriptor
 * @returns whether passthrough was negotiated (false: libfuse answered as usual)
 */
export function processInit(se: Deno.PointerValue, buf: Uint8Array, device: number): boolean {
  const req = request(buf);
  const offered = req !== null && (req.getUint32(INIT_IN_FLAGS) & FUSE_INIT_EXT) !== 0 &&
    (req.getUint32(INIT_IN_FLAGS2) & FLAGS2_PASSTHROUGH) !== 0;
  if (!offered) {
    fuse3().fuse_session_process_buf(se, buf);
    return false;
  }
  const c = libc();
  const fds = new Int32Array(2);
  if (c.pipe2(new Uint8Array(fds.buffer), O.CLOEXEC) !== 0) {
    fuse3().fuse_session_process_buf(se, buf);
    return false;
  }
  const [r, w] = [fds[0]!, fds[1]!];
  // Every descriptor here keeps close-on-exec (dup and dup2 drop it): a device descriptor
  // inherited by a child process would keep the mount's connection alive after we exit.
  const saved = c.fcntl(device, F.DUPFD_CLOEXEC, 0);
  let reply = new Uint8Array(0);
  let writer = w;
  try {
    if (saved < 0 || c.dup3(w, device, O.CLOEXEC) < 0) {
      fuse3().fuse_session_process_buf(se, buf);
      return false;
    }
    try {
      fuse3().fuse_session_process_buf(se, buf); // the reply goes into the pipe
    } finally {
      c.dup3(saved, device, O.CLOEXEC);
    }
    c.close(writer); // no writer left: the read below ends even if libfuse wrote nothing
    writer = -1;
    const out = new Uint8Array(256);
    const n = Number(c.read(r, out, BigInt(out.length)));
    reply = out.subarray(0, Math.max(0, n));
  } finally {
    c.close(r);
    if (writer >= 0) c.close(writer); // never twice: the number may be another file's by then
    if (saved >= 0) c.close(saved);
  }
  const view = new DataView(reply.buffer, reply.byteOffset, reply.byteLength);
  const patched = reply.length >= INIT_OUT_MAX_STACK_DEPTH + 4 &&
    view.getUint32(0, true) === reply.length && view.getInt32(4, true) === 0 &&
    (view.getUint32(INIT_OUT_FLAGS, true) & FUSE_INIT_EXT) !== 0;
  if (patched) {
    view.setUint32(
      INIT_OUT_FLAGS2,
      view.getUint32(INIT_OUT_FLAGS2, true) | FLAGS2_PASSTHROUGH,
      true,
    );
    view.setUint32(INIT_OUT_MAX_STACK_DEPTH, 1, true);
  }
  if (reply.length > 0 && Number(c.write(device, reply, BigInt(reply.length))) !== reply.length) {
    throw new ErrnoError("write(INIT reply)", lastErrno());
  }
  return patched;
}

/**
 * Registers a backing file with the kernel.
 *
 * @param device the session's device descriptor
 * @param file the backing file (it may be closed once this returns: the id holds it)
 * @returns its backing id, or `null` when the kernel refuses it (no CAP_SYS_ADMIN, a
 *   stacked filesystem)
 */
export function openBacking(device: number, file: ReadOnlyFile): number | null {
  const map = new Uint8Array(16); // struct fuse_backing_map { s32 fd; u32 flags; u64 padding; }
  new DataView(map.buffer).setInt32(0, file.descriptor, true);
  const id = libc().ioctl(device, FUSE_DEV_IOC_BACKING_OPEN, map);
  return id < 0 ? null : id;
}

/**
 * Answers an OPEN with passthrough to a registered backing file.
 *
 * @param req the request (freed here when the reply was sent)
 * @param device the session's device descriptor
 * @param fh the file handle to give the kernel
 * @param id the backing id ({@linkcode openBacking}); it must stay registered until the
 *   kernel has handled the reply (closing it at once made the open fail with EIO)
 * @returns false, with nothing sent and the request still to answer, when writing failed
 */
export function replyPassthrough(
  req: Deno.PointerValue,
  device: number,
  fh: number,
  id: number,
): boolean {
  const unique = new Deno.UnsafePointerView(req!).getBigUint64(REQ_UNIQUE);
  const reply = new Uint8Array(32);
  const v = new DataView(reply.buffer);
  v.setUint32(0, reply.length, true); // fuse_out_header { len, error, unique }
  v.setInt32(4, 0, true);
  v.setBigUint64(8, unique, true);
  v.setBigUint64(16, BigInt(fh), true); // fuse_open_out { fh, open_flags, backing_id }
  v.setUint32(24, FOPEN_PASSTHROUGH, true);
  v.setInt32(28, id, true);
  if (Number(libc().write(device, reply, BigInt(reply.length))) !== reply.length) return false;
  fuse3().fuse_reply_none(req); // frees libfuse's request; the reply is out
  return true;
}

/**
 * Unregisters a backing file (the kernel keeps its own reference while files use it).
 *
 * @param device the session's device descriptor
 * @param id what {@linkcode openPassthrough} returned
 */
export function closeBacking(device: number, id: number): void {
  const idBuf = new Uint8Array(4);
  new DataView(idBuf.buffer).setUint32(0, id, true);
  libc().ioctl(device, FUSE_DEV_IOC_BACKING_CLOSE, idBuf);
}
