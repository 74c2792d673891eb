/**
 * Names of arenas and peers.
 *
 * An arena name follows the rules of a non-root {@linkcode Path} (`photos/2024` shows as
 * nested directories). A peer name is a local label from the configuration; it appears
 * in logs, URLs and CLI arguments, so it is restricted to a safe alphabet.
 *
 * @module
 */

import * as paths from "./path.ts";

declare const arenaBrand: unique symbol;
declare const peerBrand: unique symbol;

/** A validated arena name. */
export type ArenaName = string & { readonly [arenaBrand]: "ArenaName" };
/** A validated peer name. */
export type PeerName = string & { readonly [peerBrand]: "PeerName" };

/** Thrown for an invalid arena or peer name. */
export class NameError extends Error {
  override name = "NameError";
}

const PEER_NAME = /^[\p{L}\p{N}][\p{L}\p{N}._@+-]{0,63}$/u;

/**
 * Why `text` is not a valid arena name, or `null` when it is.
 *
 * @param text candidate name
 * @returns a reason, or `null`
 */
export function arenaNameProblem(text: string): string | null {
  if (text === "") return "must not be empty";
  if (text.endsWith("/")) return "must not end with /";
  return paths.problem(text);
}

/**
 * Parses an arena name.
 *
 * @param text e.g. `"docs"` or `"photos/2024"`
 * @returns the name
 * @throws {NameError} when the name is invalid
 */
export function parseArenaName(text: string): ArenaName {
  const why = arenaNameProblem(text);
  if (why !== null) throw new NameError(`Invalid arena name "${text}": ${why}`);
  return text as ArenaName;
}

/**
 * Why `text` is not a valid peer name, or `null` when it is.
 *
 * @param text candidate name
 * @returns a reason, or `null`
 */
export function peerNameProblem(text: string): string | null {
  if (PEER_NAME.test(text)) return null;
  return "must be 1 to 64 letters, digits or . _ @ + -, starting with a letter or digit";
}

/**
 * Parses a peer name.
 *
 * @param text e.g. `"laptop"`
 * @returns the name
 * @throws {NameError} when the name is invalid
 */
export function parsePeerName(text: string): PeerName {
  const why = peerNameProblem(text);
  if (why !== null) throw new NameError(`Invalid peer name "${text}": ${why}`);
  return text as PeerName;
}

/**
 * Whether two arena names clash: one is a `/`-prefix of the other (`docs` and
 * `docs/x`), so one arena would be a directory inside the other in the filesystem.
 *
 * @param a an arena name
 * @param b another arena name
 * @returns true when they are equal or one contains the other
 */
export function arenaNamesClash(a: ArenaName, b: ArenaName): boolean {
  return a === b || a.startsWith(`${b}/`) || b.startsWith(`${a}/`);
}
