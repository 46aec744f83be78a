/**
 * Snappy for Kafka batches: raw Snappy blocks, optionally wrapped in xerial's snappy-java stream
 * framing, which is what the Java producer writes (`SnappyOutputStream`).
 *
 * Raw Snappy block:
 *   Block    => UncompressedLength Element*
 *   UncompressedLength => unsigned varint (at most 5 bytes, 32 bits)
 *   Element  => tag:uint8 … by tag & 3:
 *     0 literal: length−1 = tag>>2 when < 60, else the next (tag>>2)−59 bytes (little-endian)
 *     1 copy:    length = 4 + ((tag>>2)&7), offset = (tag>>5)<<8 | next byte
 *     2 copy:    length = (tag>>2)+1, offset = next 2 bytes (little-endian)
 *     3 copy:    length = (tag>>2)+1, offset = next 4 bytes (little-endian)
 *
 * xerial framing (snappy-java `SnappyOutputStream`):
 *   Stream   => Magic Version:int32 CompatibleVersion:int32 Chunk*
 *   Magic    => 0x82 'S' 'N' 'A' 'P' 'P' 'Y' 0x00
 *   Chunk    => Length:int32 (big-endian) RawSnappyBlock(Length bytes)
 *
 * Decoding accepts both, like snappy-java's own `SnappyInputStream` and librdkafka. Encoding writes
 * xerial framing with 32 KiB chunks (snappy-java's default block size), so Java consumers read it.
 * Compression itself is `snappyjs`; decoding is our own strict decoder, because snappyjs's
 * decoder trusts lengths in ways a corrupt block can turn into a very long loop.
 */
import { compress as snappyjsCompress } from "snappyjs";
import { corrupt, overLimit } from "./codec-errors.ts";

const XERIAL_MAGIC = [0x82, 0x53, 0x4e, 0x41, 0x50, 0x50, 0x59, 0x00] as const;
const XERIAL_HEADER_BYTES = 16;
const XERIAL_CHUNK_BYTES = 32 * 1024;

export function isXerialFramed(data: Uint8Array): boolean {
  if (data.length < XERIAL_HEADER_BYTES) return false;
  for (let i = 0; i < XERIAL_MAGIC.length; i++) if (data[i] !== XERIAL_MAGIC[i]) return false;
  return true;
}

/** Compresses `data` as xerial-framed Snappy (what the Java producer writes). */
export function snappyCompress(data: Uint8Array): Uint8Array {
  const chunks: Uint8Array[] = [];
  let total = XERIAL_HEADER_BYTES;
  for (let start = 0; start < data.length; start += XERIAL_CHUNK_BYTES) {
    const chunk = snappyjsCompress(data.subarray(start, Math.min(data.length, start + XERIAL_CHUNK_BYTES)));
    chunks.push(chunk);
    total += 4 + chunk.length;
  }
  const out = new Uint8Array(total);
  out.set(XERIAL_MAGIC, 0);
  const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
  view.setInt32(8, 1);
  view.setInt32(12, 1);
  let pos = XERIAL_HEADER_BYTES;
  for (const chunk of chunks) {
    view.setInt32(pos, chunk.length);
    out.set(chunk, pos + 4);
    pos += 4 + chunk.length;
  }
  return out;
}

/** Decompresses xerial-framed or raw Snappy; the result is at most `maxBytes` long. */
export function snappyDecompress(data: Uint8Array, maxBytes: number): Uint8Array {
  if (!isXerialFramed(data)) {
    const { length, pos } = readPreamble(data, 0, data.length);
    if (length > maxBytes) throw overLimit(`snappy block inflates to ${length} bytes, over ${maxBytes}`, "UncompressedTooLarge");
    const out = new Uint8Array(length);
    decodeBlock(data, pos, data.length, out, 0, length);
    return out;
  }
  // First pass: validate the chunk layout and add up the uncompressed lengths.
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  let total = 0;
  const chunks: number[] = [];
  for (let pos = XERIAL_HEADER_BYTES; pos < data.length; ) {
    if (data.length - pos < 4) throw corrupt("xerial snappy chunk header truncated");
    const size = view.getInt32(pos);
    if (size < 0 || size > data.length - pos - 4) throw corrupt(`xerial snappy chunk of ${size} bytes overruns the data`);
    const start = pos + 4;
    const end = start + size;
    const preamble = readPreamble(data, start, end);
    total += preamble.length;
    if (total > maxBytes) throw overLimit(`snappy data inflates to more than ${maxBytes} bytes`, "UncompressedTooLarge");
    chunks.push(preamble.pos, end, preamble.length);
    pos = end;
  }
  const out = new Uint8Array(total);
  let outPos = 0;
  for (let i = 0; i < chunks.length; i += 3) {
    const length = chunks[i + 2]!;
    decodeBlock(data, chunks[i]!, chunks[i + 1]!, out, outPos, length);
    outPos += length;
  }
  return out;
}

/** Snappy expands at most ~21× (a 3-byte copy yields 64 bytes); a larger claim is corrupt. */
const MAX_EXPANSION = 32;

function readPreamble(src: Uint8Array, pos: number, end: number): { length: number; pos: number } {
  let length = 0;
  for (let shift = 0; shift < 35; shift += 7) {
    if (pos >= end) throw corrupt("snappy length truncated");
    const b = src[pos++]!;
    length += (b & 0x7f) * 2 ** shift;
    if (b < 0x80) {
      if (length > (end - pos) * MAX_EXPANSION) throw corrupt(`snappy block claims ${length} bytes from ${end - pos}`);
      return { length, pos };
    }
  }
  throw corrupt("snappy length longer than 5 bytes");
}

/** Decodes the elements in `src[pos, end)` into exactly `out[outStart, outStart + length)`. */
function decodeBlock(src: Uint8Array, pos: number, end: number, out: Uint8Array, outStart: number, length: number): void {
  const outEnd = outStart + length;
  let o = outStart;
  while (pos < end) {
    const tag = src[pos++]!;
    const type = tag & 3;
    if (type === 0) {
      let len = tag >>> 2;
      if (len >= 60) {
        const extra = len - 59;
        if (end - pos < extra) throw corrupt("snappy literal length truncated");
        len = 0;
        for (let i = 0; i < extra; i++) len += src[pos + i]! * 2 ** (8 * i);
        pos += extra;
      }
      len += 1;
      if (len > end - pos || len > outEnd - o) throw corrupt("snappy literal overruns its block");
      if (len > 16) out.set(src.subarray(pos, pos + len), o);
      else for (let i = 0; i < len; i++) out[o + i] = src[pos + i]!;
      pos += len;
      o += len;
      continue;
    }
    let len: number;
    let offset: number;
    if (type === 1) {
      if (pos >= end) throw corrupt("snappy copy truncated");
      len = 4 + ((tag >>> 2) & 7);
      offset = ((tag >>> 5) << 8) | src[pos++]!;
    } else if (type === 2) {
      if (end - pos < 2) throw corrupt("snappy copy truncated");
      len = (tag >>> 2) + 1;
      offset = src[pos]! | (src[pos + 1]! << 8);
      pos += 2;
    } else {
      if (end - pos < 4) throw corrupt("snappy copy truncated");
      len = (tag >>> 2) + 1;
      offset = (src[pos]! | (src[pos + 1]! << 8) | (src[pos + 2]! << 16) | (src[pos + 3]! << 24)) >>> 0;
      pos += 4;
    }
    if (offset === 0 || offset > o - outStart) throw corrupt("snappy copy offset out of range");
    if (len > outEnd - o) throw corrupt("snappy copy overruns its block");
    if (offset >= len) out.copyWithin(o, o - offset, o - offset + len);
    else for (let i = 0; i < len; i++) out[o + i] = out[o - offset + i]!;
    o += len;
  }
  if (o !== outEnd) throw corrupt(`snappy block decoded to ${o - outStart} bytes, expected ${length}`);
}
