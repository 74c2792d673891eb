/**
 * Small helpers every layer may use: assertions and logging.
 *
 * @module
 */

export { assert, AssertionError, unreachable } from "./assert.ts";
export * from "./log.ts";
