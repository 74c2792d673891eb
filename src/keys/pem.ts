/**
 * PEM armour (RFC 7468) for keys: `-----BEGIN LABEL-----`, base64 lines of 64, `-----END LABEL-----`.
 *
 * @module
 */

/** Thrown for malformed PEM text or a key of the wrong kind. */
export class KeyError extends Error {
  override name = "KeyError";
}

/**
 * Armours DER bytes.
 *
 * @param label e.g. `PUBLIC KEY`
 * @param der the bytes
 * @returns the PEM text, ending with a newline
 */
export function pemEncode(label: string, der: Uint8Array): string {
  const b64 = btoa(String.fromCharCode(...der));
  const lines = b64.match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join("\n")}\n-----END ${label}-----\n`;
}

/**
 * Extracts the DER bytes of the single PEM block with `label`.
 *
 * @param text PEM text (surrounding whitespace allowed)
 * @param label the expected label, e.g. `PRIVATE KEY`
 * @returns the DER bytes
 * @throws {KeyError} when there is no such block, or its base64 is invalid
 */
export function pemDecode(text: string, label: string): Uint8Array<ArrayBuffer> {
  const re = new RegExp(
    `^-----BEGIN ${label}-----\\s*([A-Za-z0-9+/=\\s]*?)-----END ${label}-----$`,
  );
  const m = re.exec(text.trim());
  if (m === null || m[1] === undefined) {
    throw new KeyError(`expected a PEM block "-----BEGIN ${label}-----"`);
  }
  const b64 = m[1].replace(/\s+/g, "");
  let bin: string;
  try {
    bin = atob(b64);
  } catch (cause) {
    throw new KeyError(`invalid base64 in PEM block "${label}"`, { cause });
  }
  if (bin.length === 0) throw new KeyError(`empty PEM block "${label}"`);
  return Uint8Array.from(bin, (c) => c.charCodeAt(0));
}
