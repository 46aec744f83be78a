import type { SeglogError } from "../errors.ts";

/**
 * Decompressor output whose final size is not known up front: grows by doubling, never past
 * `limit`, so a decompression bomb fails with `overflow()` instead of exhausting memory.
 */
export class OutputBuffer {
  bytes: Uint8Array;
  length = 0;
  private readonly limit: number;
  private readonly overflow: () => SeglogError;

  constructor(initialBytes: number, limit: number, overflow: () => SeglogError) {
    this.bytes = new Uint8Array(Math.min(initialBytes, limit));
    this.limit = limit;
    this.overflow = overflow;
  }

  /** Makes room for the output to reach `total` bytes; returns the (possibly new) array. */
  reserve(total: number): Uint8Array {
    if (total <= this.bytes.length) return this.bytes;
    if (total > this.limit) throw this.overflow();
    const grown = new Uint8Array(Math.min(this.limit, Math.max(total, this.bytes.length * 2)));
    grown.set(this.bytes.subarray(0, this.length));
    this.bytes = grown;
    return grown;
  }

  append(chunk: Uint8Array): void {
    this.reserve(this.length + chunk.length).set(chunk, this.length);
    this.length += chunk.length;
  }

  result(): Uint8Array {
    return this.bytes.subarray(0, this.length);
  }
}
