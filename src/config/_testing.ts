/**
 * Helpers for the tests of `src/config/`. Not used by product code.
 *
 * @module
 */

import assert from "node:assert/strict";
import { ConfigError } from "./error.ts";
import { encodePublicKeyPem } from "../keys/mod.ts";

/** Environment for the default control socket, fixed so that tests do not depend on it. */
export const TEST_ENV = { XDG_RUNTIME_DIR: "/run/user/1000", uid: 1000 } as const;

/**
 * A new ED25519 public key as PEM SPKI, made with WebCrypto.
 *
 * @returns the PEM text and the raw 32-byte key
 */
export async function newPublicKeyPem(): Promise<{ pem: string; raw: Uint8Array }> {
  const pair = await crypto.subtle.generateKey({ name: "Ed25519" }, true, [
    "sign",
    "verify",
  ]) as CryptoKeyPair;
  const spki = new Uint8Array(await crypto.subtle.exportKey("spki", pair.publicKey));
  const raw = new Uint8Array(await crypto.subtle.exportKey("raw", pair.publicKey));
  return { pem: encodePublicKeyPem(spki), raw };
}

/**
 * Asserts that `fn` throws a {@linkcode ConfigError} with exactly this message, and
 * that its `line` and `key` fields agree with it.
 *
 * @param fn the code that must fail
 * @param message the whole expected message
 * @param key the expected key path, when the error has one
 * @returns the error
 */
export function assertConfigError(fn: () => unknown, message: string, key?: string): ConfigError {
  let error: unknown;
  try {
    fn();
  } catch (e) {
    error = e;
  }
  return checkConfigError(error, message, key);
}

/**
 * Like {@linkcode assertConfigError}, for an async function.
 *
 * @param fn the code that must fail
 * @param message the whole expected message
 * @param key the expected key path, when the error has one
 * @returns the error
 */
export async function assertConfigErrorAsync(
  fn: () => Promise<unknown>,
  message: string,
  key?: string,
): Promise<ConfigError> {
  let error: unknown;
  try {
    await fn();
  } catch (e) {
    error = e;
  }
  return checkConfigError(error, message, key);
}

function checkConfigError(error: unknown, message: string, key?: string): ConfigError {
  assert.ok(error instanceof ConfigError, `expected a ConfigError, got ${error}`);
  assert.equal(error.message, message);
  const line = /^[^:]*:(\d+):/.exec(message)?.[1];
  assert.equal(error.line, line === undefined ? null : Number(line));
  if (key !== undefined) assert.equal(error.key, key);
  return error;
}
