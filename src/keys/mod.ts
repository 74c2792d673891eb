/**
 * Peer identities: ED25519 keys and their PEM forms.
 *
 * @module
 */

export * from "./keys.ts";
export { KeyError, pemDecode, pemEncode } from "./pem.ts";
export * from "./public_key.ts";
