/**
 * The version of realize, shown by `realize --version` and sent to peers.
 *
 * @module
 */

/** realize's own version (semver). */
export const VERSION = "0.1.0";
