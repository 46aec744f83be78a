/**
 * Zstandard for Kafka batches (Kafka writes one zstd frame with zstd-jni's `ZstdOutputStream`).
 *
 *   Frame    => Magic:uint32le(0xFD2FB528) FHD:uint8 [WindowDescriptor:uint8] [DictionaryId]
 *               [FrameContentSize] Block* [ContentChecksum:uint32le]
 *   FHD      => FCS_flag(2 bits) SingleSegment(1) unused(1) reserved(1, =0) Checksum(1) DictIdFlag(2)
 *   Window   => exponent(5 bits) mantissa(3 bits): (1 << (10 + e)) + ((1 << (10 + e)) / 8) * m;
 *               absent when SingleSegment, the window then being the content size
 *   Block    => header:uint24le = Last(1 bit) Type(2 bits: 0 raw, 1 RLE, 2 compressed, 3 reserved)
 *               Size(21 bits); then Size bytes (raw, compressed) or 1 byte (RLE, repeated Size times)
 *   Skippable frame => Magic:uint32le(0x184D2A5?) Size:uint32le Data(Size bytes)
 *
 * Decoding is `fzstd` (pure JS, synchronous). Before handing it anything, a pre-scan walks the
 * frame and block headers: it bounds the window fzstd allocates, rejects dictionaries and
 * reserved values, and checks every block lies inside the input. Output is counted block by
 * block, so a zstd bomb stops at `maxBytes` instead of filling memory.
 *
 * Encoding is libzstd compiled to WebAssembly (`@hpcc-js/wasm-zstd`, no install scripts, the wasm
 * is inlined in the package). WebAssembly loads asynchronously, so encoding needs
 * `await loadZstdEncoder()` once per process; before that, encoding zstd throws `Invalid` with
 * code `UnsupportedCompression`.
 */
import { Decompress } from "fzstd";
import { corrupt, overLimit, unsupportedCompression } from "./codec-errors.ts";
import { OutputBuffer } from "./output-buffer.ts";

const FRAME_MAGIC = 0xfd2fb528;
const BLOCK_MAX = 128 * 1024;
/** Windows above this are refused even under a larger `maxBytes` (libzstd's default limit is 128 MiB). */
const MIN_WINDOW_LIMIT = 8 * 1024 * 1024;
const ZSTD_LEVEL = 3;

const readU32 = (b: Uint8Array, i: number): number =>
  (b[i]! | (b[i + 1]! << 8) | (b[i + 2]! << 16) | (b[i + 3]! << 24)) >>> 0;

interface ZstdEncoder {
  compress(data: Uint8Array, level?: number): Uint8Array;
}

let encoder: ZstdEncoder | undefined;
let loading: Promise<void> | undefined;

/** Loads the zstd encoder (WebAssembly). Idempotent; decoding never needs it. */
export function loadZstdEncoder(): Promise<void> {
  loading ??= import("@hpcc-js/wasm-zstd").then(async ({ Zstd }) => {
    encoder = await Zstd.load();
  });
  return loading;
}

/** Compresses `data` to one zstd frame at level 3 (Kafka's default). */
export function zstdCompress(data: Uint8Array): Uint8Array {
  if (encoder === undefined) {
    throw unsupportedCompression("zstd encoding is not loaded: call `await loadCompressionCodecs()` once first");
  }
  return encoder.compress(data, ZSTD_LEVEL);
}

/** Decompresses zstd frames; the result is at most `maxBytes` long. */
export function zstdDecompress(data: Uint8Array, maxBytes: number): Uint8Array {
  prescan(data, maxBytes);
  const out = new OutputBuffer(Math.max(BLOCK_MAX, data.length * 4), maxBytes, () =>
    overLimit(`zstd data inflates to more than ${maxBytes} bytes`, "UncompressedTooLarge"),
  );
  new Decompress((chunk: Uint8Array) => out.append(chunk)).push(data, true);
  return out.result();
}

/** Walks frame and block headers without decoding; throws on anything fzstd should not see. */
function prescan(data: Uint8Array, maxBytes: number): void {
  if (data.length === 0) throw corrupt("empty zstd data");
  const windowLimit = Math.max(maxBytes, MIN_WINDOW_LIMIT);
  let pos = 0;
  while (pos < data.length) {
    if (data.length - pos < 8) throw corrupt("zstd frame header truncated");
    const magic = readU32(data, pos);
    if ((magic & 0xfffffff0) === 0x184d2a50) {
      const size = readU32(data, pos + 4);
      if (size > data.length - pos - 8) throw corrupt("skippable zstd frame overruns the data");
      pos += 8 + size;
      continue;
    }
    if (magic !== FRAME_MAGIC) throw corrupt("not a zstd frame");
    const fhd = data[pos + 4]!;
    pos += 5;
    if (fhd & 0x08) throw corrupt("zstd frame header reserved bit set");
    const singleSegment = (fhd & 0x20) !== 0;
    const fcsFlag = fhd >>> 6;
    const dictBytes = [0, 1, 2, 4][fhd & 3]!;
    const fcsBytes = fcsFlag === 0 ? (singleSegment ? 1 : 0) : 1 << fcsFlag;
    let windowSize = 0;
    if (!singleSegment) {
      const wd = data[pos++]!;
      const base = 2 ** (10 + (wd >>> 3));
      windowSize = base + (base / 8) * (wd & 7);
    }
    if (data.length - pos < dictBytes + fcsBytes + 3) throw corrupt("zstd frame header truncated");
    for (let i = 0; i < dictBytes; i++) {
      if (data[pos + i] !== 0) throw corrupt("zstd frames with a dictionary are not supported");
    }
    pos += dictBytes;
    let contentSize = -1;
    if (fcsBytes > 0) {
      contentSize = 0;
      for (let i = 0; i < fcsBytes; i++) contentSize += data[pos + i]! * 2 ** (8 * i);
      if (fcsBytes === 2) contentSize += 256;
      pos += fcsBytes;
      if (contentSize > maxBytes) throw overLimit(`zstd frame declares ${contentSize} bytes, over ${maxBytes}`, "UncompressedTooLarge");
    }
    if (singleSegment) windowSize = contentSize;
    if (windowSize > windowLimit) throw overLimit(`zstd window of ${windowSize} bytes is over ${windowLimit}`, "UncompressedTooLarge");
    const blockMax = Math.min(BLOCK_MAX, Math.max(windowSize, 1));
    for (;;) {
      if (data.length - pos < 3) throw corrupt("zstd block header truncated");
      const header = data[pos]! | (data[pos + 1]! << 8) | (data[pos + 2]! << 16);
      pos += 3;
      const last = header & 1;
      const type = (header >>> 1) & 3;
      const size = header >>> 3;
      if (type === 3) throw corrupt("zstd block type is reserved");
      if (size > blockMax) throw corrupt(`zstd block of ${size} bytes exceeds ${blockMax}`);
      const stored = type === 1 ? 1 : size;
      if (stored > data.length - pos) throw corrupt("zstd block truncated");
      pos += stored;
      if (last) break;
    }
    if (fhd & 0x04) {
      if (data.length - pos < 4) throw corrupt("zstd content checksum truncated");
      pos += 4;
    }
  }
}
