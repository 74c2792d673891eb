/**
 * Bounds-checked reading and LEB128 varints for the binary formats of this directory.
 * Every read checks that its bytes are there and throws {@linkcode DeltaError} otherwise,
 * so a hostile input can only fail, never read out of bounds.
 *
 * @module
 */

import { DeltaError } from "./errors.ts";

/** Most bytes of a varint: 5 hold a 32-bit value. */
export const VARINT_BYTES_MAX = 5;

/** Largest varint value: they encode block indexes, counts and lengths, all 32-bit. */
export const VARINT_VALUE_MAX = 0xffff_ffff;

const TWO_POW_32 = 2 ** 32;

/** Reads a byte array front to back, checking every length against what is left. */
export class ByteReader {
  readonly #bytes: Uint8Array;
  readonly #view: DataView;
  readonly #what: string;
  #offset = 0;

  /**
   * @param bytes the input; read, never kept past the reader
   * @param what its name in error messages, e.g. `delta`
   */
  constructor(bytes: Uint8Array, what: string) {
    this.#bytes = bytes;
    this.#view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.#what = what;
  }

  /** Bytes read so far. */
  get offset(): number {
    return this.#offset;
  }

  /** Bytes left. */
  get remaining(): number {
    return this.#bytes.length - this.#offset;
  }

  /**
   * Makes the error for a problem at the current offset.
   *
   * @param problem what is wrong, e.g. `unknown op 7`
   * @returns the error, to throw
   */
  error(problem: string): DeltaError {
    return new DeltaError(`Invalid ${this.#what}: ${problem} at byte ${this.#offset}`);
  }

  #need(count: number, field: string): number {
    if (count > this.remaining) {
      throw this.error(`truncated ${field} (${count} bytes needed, ${this.remaining} left)`);
    }
    const at = this.#offset;
    this.#offset += count;
    return at;
  }

  /** Reads one byte. */
  u8(field: string): number {
    return this.#view.getUint8(this.#need(1, field));
  }

  /** Reads a little-endian 16-bit value. */
  u16(field: string): number {
    return this.#view.getUint16(this.#need(2, field), true);
  }

  /** Reads a little-endian 32-bit value. */
  u32(field: string): number {
    return this.#view.getUint32(this.#need(4, field), true);
  }

  /**
   * Reads a little-endian 64-bit value that must not exceed `max`.
   *
   * @throws {DeltaError} when it does (checked without losing precision)
   */
  u64(field: string, max: number): number {
    const at = this.#need(8, field);
    const low = this.#view.getUint32(at, true);
    const high = this.#view.getUint32(at + 4, true);
    if (high >= TWO_POW_32 / 2 ** 11 || high * TWO_POW_32 + low > max) {
      this.#offset = at;
      throw this.error(`${field} exceeds ${max}`);
    }
    return high * TWO_POW_32 + low;
  }

  /**
   * Reads an unsigned LEB128 varint of at most {@linkcode VARINT_BYTES_MAX} bytes and
   * {@linkcode VARINT_VALUE_MAX}.
   */
  varint(field: string): number {
    let value = 0;
    for (let i = 0; i < VARINT_BYTES_MAX; i++) {
      const byte = this.u8(field);
      value += (byte & 0x7f) * 2 ** (7 * i);
      if ((byte & 0x80) === 0) {
        if (value > VARINT_VALUE_MAX) throw this.error(`${field} exceeds ${VARINT_VALUE_MAX}`);
        return value;
      }
    }
    throw this.error(`${field} is longer than ${VARINT_BYTES_MAX} bytes`);
  }

  /** Returns the next `count` bytes as a view (no copy). */
  bytes(count: number, field: string): Uint8Array {
    const at = this.#need(count, field);
    return this.#bytes.subarray(at, at + count);
  }
}

/**
 * The length of a value's varint.
 *
 * @param value from 0 to {@linkcode VARINT_VALUE_MAX}
 * @returns 1 to 5
 */
export function varintSize(value: number): number {
  let size = 1;
  while (value >= 0x80) {
    value = Math.floor(value / 0x80);
    size++;
  }
  return size;
}

/**
 * Writes a varint.
 *
 * @param out where to write; must have room
 * @param offset where the varint starts
 * @param value from 0 to {@linkcode VARINT_VALUE_MAX}
 * @returns the offset after it
 */
export function writeVarint(out: Uint8Array, offset: number, value: number): number {
  while (value >= 0x80) {
    out[offset++] = (value & 0x7f) | 0x80;
    value = Math.floor(value / 0x80);
  }
  out[offset++] = value;
  return offset;
}

/**
 * Writes a little-endian 64-bit value.
 *
 * @param view where to write
 * @param offset where the value starts
 * @param value a non-negative safe integer
 */
export function writeU64(view: DataView, offset: number, value: number): void {
  view.setUint32(offset, value % TWO_POW_32, true);
  view.setUint32(offset + 4, Math.floor(value / TWO_POW_32), true);
}
