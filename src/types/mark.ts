/**
 * Marks decide where a file lives (seed `#marks`):
 * - `watch`: cached on demand, evictable; a local copy is dropped once a peer has it;
 * - `keep`: downloaded and kept in the cache, refreshed when it changes;
 * - `own`: kept as a real local file; remote changes are downloaded.
 *
 * @module
 */

/** Every mark, in a stable order (also their database codes: index). */
export const MARKS = ["watch", "keep", "own"] as const;

/** A placement mark. */
export type Mark = typeof MARKS[number];

/** The mark of an arena when neither the configuration nor the user set one. */
export const DEFAULT_MARK: Mark = "watch";

/**
 * Whether `text` is a mark (exact, case-sensitive).
 *
 * @param text candidate
 * @returns true for `watch`, `keep` or `own`
 */
export function isMark(text: string): text is Mark {
  return (MARKS as readonly string[]).includes(text);
}

/**
 * Parses a mark.
 *
 * @param text `watch`, `keep` or `own`
 * @returns the mark
 * @throws {TypeError} for anything else
 */
export function parseMark(text: string): Mark {
  if (!isMark(text)) throw new TypeError(`Invalid mark "${text}": expected watch, keep or own`);
  return text;
}
