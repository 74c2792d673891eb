/**
 * The error of the delta module.
 *
 * @module
 */

/**
 * Thrown when a signature, a delta or a compressed chunk is malformed, exceeds a limit, or
 * does not fit the data it is applied to. Such bytes come from a peer: the network layer
 * catches this error and reports a protocol error, it never asserts.
 */
export class DeltaError extends Error {
  override name = "DeltaError";
}
