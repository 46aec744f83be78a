// Type declarations for the untyped CommonJS packages the codec and its tests use.

declare module "snappyjs" {
  /** Raw (unframed) Snappy. Returns a Uint8Array for Uint8Array input, a Buffer for Buffer input. */
  export function compress(input: Uint8Array): Uint8Array;
  export function uncompress(input: Uint8Array, maxLength?: number): Uint8Array;
}

declare module "lz4js" {
  /** An LZ4 frame (dependent blocks, 4 MiB maximum block size). */
  export function compress(input: Uint8Array, maxSize?: number): Uint8Array;
  export function decompress(input: Uint8Array, maxSize?: number): Uint8Array;
}
