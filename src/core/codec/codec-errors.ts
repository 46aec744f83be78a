/**
 * The codec's typed failures. Corrupt or truncated bytes are `Invalid` with code `CorruptRecord`;
 * a batch that is well formed but over a configured limit (records, uncompressed bytes) is
 * `TooLarge`; a codec this build cannot run is `Invalid` with code `UnsupportedCompression`.
 */
import { SeglogError, isSeglogError } from "../errors.ts";

export const corrupt = (message: string, cause?: unknown): SeglogError =>
  new SeglogError("Invalid", message, cause === undefined ? { code: "CorruptRecord" } : { code: "CorruptRecord", cause });

export const overLimit = (message: string, code: string): SeglogError => new SeglogError("TooLarge", message, { code });

export const unsupportedCompression = (message: string): SeglogError =>
  new SeglogError("Invalid", message, { code: "UnsupportedCompression" });

/** Runs `fn`; anything it throws that is not already a `SeglogError` becomes `CorruptRecord`. */
export function asCorrupt<T>(what: string, fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    if (isSeglogError(e)) throw e;
    throw corrupt(`${what}: ${e instanceof Error ? e.message : String(e)}`, e);
  }
}
