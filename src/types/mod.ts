/**
 * Core value types shared by every subsystem.
 *
 * @module
 */

export * as paths from "./path.ts";
export { type Path, PathError, ROOT } from "./path.ts";
export * from "./names.ts";
export * from "./mark.ts";
export * from "./hash.ts";
export * from "./byte_ranges.ts";
export * from "./time.ts";
export type * from "./notification.ts";
