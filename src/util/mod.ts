/**
 * Small helpers every layer may use: assertions, logging, abortable waits.
 *
 * @module
 */

export { abortable } from "./abort.ts";
export { assert, AssertionError, unreachable } from "./assert.ts";
export * from "./log.ts";
