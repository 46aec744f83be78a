/**
 * Kafka's default partitioner for keyed records, bit-compatible with the Java client
 * (`Utils.murmur2` and `Utils.toPositive`), so a key lands on the same partition number whether a
 * Java producer or Seglog picks it. Null keys are the caller's business (sticky per request).
 */
import { invalid } from "./errors.ts";

const SEED = 0x9747b28c;
const M = 0x5bd1e995;

/** MurmurHash2 as the Java client computes it: a signed 32-bit result. */
export function murmur2(key: Uint8Array): number {
  const length = key.length;
  let h = SEED ^ length;
  const tail = length & ~3;
  for (let i = 0; i < tail; i += 4) {
    let k = key[i]! | (key[i + 1]! << 8) | (key[i + 2]! << 16) | (key[i + 3]! << 24);
    k = Math.imul(k, M);
    k ^= k >>> 24;
    k = Math.imul(k, M);
    h = Math.imul(h, M) ^ k;
  }
  // Java's switch falls through from 3 to 1; spelled out, since the project forbids fallthrough.
  const rest = length & 3;
  if (rest === 3) h ^= key[tail + 2]! << 16;
  if (rest >= 2) h ^= key[tail + 1]! << 8;
  if (rest >= 1) {
    h ^= key[tail]!;
    h = Math.imul(h, M);
  }
  h ^= h >>> 13;
  h = Math.imul(h, M);
  h ^= h >>> 15;
  return h | 0;
}

/** Java's `Utils.toPositive`: clears the sign bit (not `Math.abs`, which fails on MIN_VALUE). */
export const toPositive = (n: number): number => n & 0x7fffffff;

/** The partition of a keyed record: `toPositive(murmur2(key)) % partitions`. */
export function partitionForKey(key: Uint8Array, partitions: number): number {
  if (!Number.isInteger(partitions) || partitions < 1) throw invalid(`partitions must be a positive integer, got ${partitions}`);
  return toPositive(murmur2(key)) % partitions;
}
