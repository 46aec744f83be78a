/**
 * Kafka's variable-length integers (the protobuf encoding, as in `ByteUtils` of the Java client).
 *
 *   varint  => zig-zag encoded int32, 7 bits per byte, least significant group first, the high bit
 *              of each byte set when another byte follows; at most 5 bytes
 *   varlong => the same for int64; at most 10 bytes
 *
 * Zig-zag maps signed to unsigned so that small magnitudes stay short: 0→0, −1→1, 1→2, −2→3 …
 * Writers take a target buffer and a position and return the next position, so callers can size
 * a batch once and write it into one preallocated buffer.
 */
import { corrupt } from "./codec-errors.ts";

/** Bytes needed for `value` (an int32) as a varint. */
export function sizeOfVarint(value: number): number {
  let v = ((value << 1) ^ (value >> 31)) >>> 0;
  let n = 1;
  while (v >= 0x80) {
    v >>>= 7;
    n++;
  }
  return n;
}

/** Writes `value` (an int32) as a varint at `pos`; returns the position after it. */
export function writeVarint(buf: Uint8Array, pos: number, value: number): number {
  let v = ((value << 1) ^ (value >> 31)) >>> 0;
  while (v >= 0x80) {
    buf[pos++] = (v & 0x7f) | 0x80;
    v >>>= 7;
  }
  buf[pos++] = v;
  return pos;
}

const zigzag64 = (value: bigint): bigint => BigInt.asUintN(64, (value << 1n) ^ (value >> 63n));

/** Bytes needed for `value` (an int64; a safe-integer number or a bigint) as a varlong. */
export function sizeOfVarlong(value: number | bigint): number {
  if (typeof value === "number" && value >= -0x40000000 && value < 0x40000000) return sizeOfVarint(value);
  let v = zigzag64(BigInt(value));
  let n = 1;
  while (v >= 0x80n) {
    v >>= 7n;
    n++;
  }
  return n;
}

/** Writes `value` (an int64) as a varlong at `pos`; returns the position after it. */
export function writeVarlong(buf: Uint8Array, pos: number, value: number | bigint): number {
  if (typeof value === "number" && value >= -0x40000000 && value < 0x40000000) return writeVarint(buf, pos, value);
  let v = zigzag64(BigInt(value));
  while (v >= 0x80n) {
    buf[pos++] = Number(v & 0x7fn) | 0x80;
    v >>= 7n;
  }
  buf[pos++] = Number(v);
  return pos;
}

/**
 * A read position over `buf[pos, end)`. Every read checks the end and throws `Invalid` with code
 * `CorruptRecord` instead of reading past it, so a truncated or corrupt input cannot run away.
 */
export class ByteCursor {
  buf: Uint8Array;
  pos: number;
  end: number;

  constructor(buf: Uint8Array, pos = 0, end = buf.length) {
    this.buf = buf;
    this.pos = pos;
    this.end = end;
  }

  readInt8(): number {
    if (this.pos >= this.end) throw corrupt("record truncated");
    return (this.buf[this.pos++]! << 24) >> 24;
  }

  /** A varint as a signed int32. */
  readVarint(): number {
    const buf = this.buf;
    const end = this.end;
    let pos = this.pos;
    let raw = 0;
    let shift = 0;
    for (;;) {
      if (pos >= end) throw corrupt("varint truncated");
      const b = buf[pos++]!;
      if (shift === 28) {
        // The fifth byte carries the top 4 bits; Java rejects a sixth byte as "too long".
        if (b & 0x80) throw corrupt("varint longer than 5 bytes");
        raw |= b << 28;
        break;
      }
      raw |= (b & 0x7f) << shift;
      if (b < 0x80) break;
      shift += 7;
    }
    this.pos = pos;
    return (raw >>> 1) ^ -(raw & 1);
  }

  /**
   * A varlong: a number when the value is a safe integer (always so for millisecond deltas),
   * otherwise a bigint.
   */
  readVarlong(): number | bigint {
    const buf = this.buf;
    const end = this.end;
    let pos = this.pos;
    // Fast path: up to 4 bytes (28 bits) fits int32 arithmetic.
    let raw = 0;
    for (let shift = 0; shift < 28; shift += 7) {
      if (pos >= end) throw corrupt("varlong truncated");
      const b = buf[pos++]!;
      raw |= (b & 0x7f) << shift;
      if (b < 0x80) {
        this.pos = pos;
        return (raw >>> 1) ^ -(raw & 1);
      }
    }
    // Slow path: accumulate the remaining groups as a bigint.
    let big = BigInt(raw >>> 0);
    let shift = 28n;
    for (let i = 4; ; i++) {
      if (pos >= end) throw corrupt("varlong truncated");
      if (i === 10) throw corrupt("varlong longer than 10 bytes");
      const b = buf[pos++]!;
      big |= BigInt(b & 0x7f) << shift;
      if (b < 0x80) break;
      shift += 7n;
    }
    this.pos = pos;
    big = BigInt.asUintN(64, big);
    const value = BigInt.asIntN(64, (big >> 1n) ^ -(big & 1n));
    return value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(value) : value;
  }

  /** A view of the next `length` bytes (no copy). */
  readBytes(length: number): Uint8Array {
    if (length > this.end - this.pos) throw corrupt(`field of ${length} bytes overruns its record`);
    const start = this.pos;
    this.pos = start + length;
    return this.buf.subarray(start, this.pos);
  }
}
