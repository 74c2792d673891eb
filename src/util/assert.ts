/**
 * Assertions for programmer errors. A failed assertion means a bug in realize, not a
 * problem in the world (a missing file, a peer going away, a full disk): those are
 * handled with errors, never asserted.
 *
 * @module
 */

/** Thrown when an internal invariant does not hold. Never caught on purpose. */
export class AssertionError extends Error {
  override name = "AssertionError";
}

/**
 * Checks an invariant.
 *
 * @param condition what must hold
 * @param message what was expected, for the crash report
 * @throws {AssertionError} when `condition` is false
 */
export function assert(condition: unknown, message: string): asserts condition {
  if (!condition) throw new AssertionError(`Assertion failed: ${message}`);
}

/**
 * Marks a branch that the type system proves unreachable (exhaustive switches).
 *
 * @param value the value whose type is `never` here
 * @throws {AssertionError} always: reaching it is a bug
 */
export function unreachable(value: never): never {
  throw new AssertionError(`Unreachable: ${JSON.stringify(value)}`);
}
