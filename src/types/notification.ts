/**
 * What a peer tells the others about its local files (upstream.md §3.6): the domain
 * form of the history a peer publishes. The wire form lives in `src/net/`.
 *
 * `hash` is `null` while a file's version is pending (seen but not hashed yet, seed
 * `#musthash`); its hash follows in a later notification for the same path.
 *
 * @module
 */

import type { Hash } from "./hash.ts";
import type { Path } from "./path.ts";
import type { UnixTime } from "./time.ts";

/** A file appeared (or its pending version got its hash). */
export interface AddNotification {
  readonly kind: "add";
  /** History index of the entry this comes from. */
  readonly index: number;
  readonly path: Path;
  readonly size: number;
  readonly mtime: UnixTime;
  /** Content hash, `null` while pending. */
  readonly hash: Hash | null;
}

/** The file at `path` replaced version `oldHash`. */
export interface ReplaceNotification {
  readonly kind: "replace";
  readonly index: number;
  readonly path: Path;
  readonly size: number;
  readonly mtime: UnixTime;
  readonly hash: Hash | null;
  /** The version replaced; `null` when it was never hashed. */
  readonly oldHash: Hash | null;
}

/** The file at `path`, version `oldHash`, was deleted. */
export interface RemoveNotification {
  readonly kind: "remove";
  readonly index: number;
  readonly path: Path;
  readonly oldHash: Hash | null;
}

/** This peer no longer keeps version `oldHash` of `path` (others still may). */
export interface DropNotification {
  readonly kind: "drop";
  readonly index: number;
  readonly path: Path;
  readonly oldHash: Hash;
}

/** Content `hash` at `path` now also exists at `dest` (`branch`) or moved there (`rename`). */
export interface MoveNotification {
  readonly kind: "branch" | "rename";
  readonly index: number;
  readonly path: Path;
  readonly dest: Path;
  readonly hash: Hash;
}

/** A change notification derived from one history entry. */
export type Notification =
  | AddNotification
  | ReplaceNotification
  | RemoveNotification
  | DropNotification
  | MoveNotification;
