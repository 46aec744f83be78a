/**
 * LZ4 for Kafka batches: the LZ4 frame format, as Kafka's `Lz4BlockOutputStream` writes it.
 *
 *   Frame      => Magic:uint32le(0x184D2204) FLG:uint8 BD:uint8 [ContentSize:uint64le] HC:uint8
 *                 Block* EndMark:uint32le(0) [ContentChecksum:uint32le]
 *   FLG        => version(2 bits, =01) blockIndependence(1) blockChecksum(1) contentSize(1)
 *                 contentChecksum(1) reserved(1, =0) dictId(1)
 *   BD         => reserved(1) blockMaxSize(3 bits: 4=64 KiB 5=256 KiB 6=1 MiB 7=4 MiB) reserved(4)
 *   HC         => (xxh32(FLG … ContentSize) >> 8) & 0xFF
 *   Block      => Size:uint32le (high bit set: stored uncompressed) Data [BlockChecksum:uint32le]
 *   Block data => Sequence*; Sequence => Token:uint8 [LiteralLength+] Literals [Offset:uint16le [MatchLength+]]
 *                 (token high nibble = literal length, low nibble = match length − 4; 15 means
 *                 more length bytes follow, each added, until one is not 255)
 *
 * Encoding mirrors the Java client: version 1, independent blocks, no checksums, 64 KiB blocks.
 * (Java rejects frames without the block-independence flag — "Dependent block stream is
 * unsupported" — which is why `lz4js`'s own frame writer cannot be used for produce.) The block
 * compressor below is a greedy hash-chain-free LZ4 that keeps the format's end-of-block rules
 * (last match starts at least 12 bytes before the end; the last 5 bytes are literals) which
 * reference decoders enforce. Decoding accepts any valid frame, dependent blocks included, and
 * verifies every checksum present.
 */
import { corrupt, overLimit } from "./codec-errors.ts";
import { OutputBuffer } from "./output-buffer.ts";
import { xxh32 } from "./xxh32.ts";

const MAGIC = 0x184d2204;
const FLG_VERSION_1 = 0x40;
const FLG_BLOCK_INDEPENDENCE = 0x20;
const FLG_BLOCK_CHECKSUM = 0x10;
const FLG_CONTENT_SIZE = 0x08;
const FLG_CONTENT_CHECKSUM = 0x04;
const FLG_RESERVED = 0x02;
const FLG_DICT_ID = 0x01;
const BD_64KB = 4 << 4;
const BLOCK_BYTES = 64 * 1024;
const UNCOMPRESSED_BIT = 0x80000000;

const MIN_MATCH = 4;
const MF_LIMIT = 12;
const LAST_LITERALS = 5;
const HASH_LOG = 16;

const readU32 = (b: Uint8Array, i: number): number =>
  (b[i]! | (b[i + 1]! << 8) | (b[i + 2]! << 16) | (b[i + 3]! << 24)) >>> 0;
const writeU32 = (b: Uint8Array, i: number, v: number): void => {
  b[i] = v;
  b[i + 1] = v >>> 8;
  b[i + 2] = v >>> 16;
  b[i + 3] = v >>> 24;
};

/** Compresses `data` to one LZ4 frame the Java client can read. */
export function lz4Compress(data: Uint8Array): Uint8Array {
  const blocks = Math.ceil(data.length / BLOCK_BYTES);
  // Worst case: every block stored raw, plus header (7) and end mark (4).
  const out = new Uint8Array(7 + blocks * (4 + BLOCK_BYTES) + 4);
  writeU32(out, 0, MAGIC);
  out[4] = FLG_VERSION_1 | FLG_BLOCK_INDEPENDENCE;
  out[5] = BD_64KB;
  out[6] = (xxh32(out, 4, 6) >>> 8) & 0xff;
  let pos = 7;
  const table = new Int32Array(1 << HASH_LOG);
  const scratch = new Uint8Array(BLOCK_BYTES + ((BLOCK_BYTES / 255) | 0) + 16);
  for (let start = 0; start < data.length; start += BLOCK_BYTES) {
    const end = Math.min(data.length, start + BLOCK_BYTES);
    table.fill(0);
    const size = compressBlock(data, start, end, scratch, table);
    if (size > 0 && size < end - start) {
      writeU32(out, pos, size);
      out.set(scratch.subarray(0, size), pos + 4);
      pos += 4 + size;
    } else {
      writeU32(out, pos, (UNCOMPRESSED_BIT | (end - start)) >>> 0);
      out.set(data.subarray(start, end), pos + 4);
      pos += 4 + end - start;
    }
  }
  writeU32(out, pos, 0);
  return out.subarray(0, pos + 4);
}

/** Compresses `src[start, end)` as one independent LZ4 block into `dst`; returns its size. */
function compressBlock(src: Uint8Array, start: number, end: number, dst: Uint8Array, table: Int32Array): number {
  let d = 0;
  let anchor = start;
  if (end - start > MF_LIMIT) {
    const matchStartLimit = end - MF_LIMIT;
    const matchEndLimit = end - LAST_LITERALS;
    let s = start;
    while (s <= matchStartLimit) {
      const seq = readU32(src, s);
      const h = Math.imul(seq, 0x9e3779b1) >>> (32 - HASH_LOG);
      const ref = table[h]! - 1;
      table[h] = s + 1 - start;
      const refAbs = ref + start;
      if (ref < 0 || s - refAbs > 0xffff || readU32(src, refAbs) !== seq) {
        s += 1 + ((s - anchor) >>> 6);
        continue;
      }
      let m = s;
      let r = refAbs;
      while (m > anchor && r > start && src[m - 1] === src[r - 1]) {
        m--;
        r--;
      }
      let e = s + MIN_MATCH;
      let re = refAbs + MIN_MATCH;
      while (e < matchEndLimit && src[e] === src[re]) {
        e++;
        re++;
      }
      d = writeSequence(src, anchor, m, dst, d, m - r, e - m - MIN_MATCH);
      anchor = e;
      s = e;
    }
  }
  if (anchor === start) return 0;
  return writeSequence(src, anchor, end, dst, d, 0, -1);
}

/** Writes literals `src[litStart, litEnd)` and, unless `matchExtra` is −1, a match. */
function writeSequence(
  src: Uint8Array,
  litStart: number,
  litEnd: number,
  dst: Uint8Array,
  d: number,
  offset: number,
  matchExtra: number,
): number {
  const lit = litEnd - litStart;
  const tokenPos = d++;
  let token = (lit >= 15 ? 15 : lit) << 4;
  if (lit >= 15) {
    let n = lit - 15;
    for (; n >= 255; n -= 255) dst[d++] = 255;
    dst[d++] = n;
  }
  if (lit > 32) dst.set(src.subarray(litStart, litEnd), d);
  else for (let i = 0; i < lit; i++) dst[d + i] = src[litStart + i]!;
  d += lit;
  if (matchExtra >= 0) {
    dst[d++] = offset & 0xff;
    dst[d++] = offset >>> 8;
    token |= matchExtra >= 15 ? 15 : matchExtra;
    if (matchExtra >= 15) {
      let n = matchExtra - 15;
      for (; n >= 255; n -= 255) dst[d++] = 255;
      dst[d++] = n;
    }
  }
  dst[tokenPos] = token;
  return d;
}

/** Decompresses one LZ4 frame; the result is at most `maxBytes` long. */
export function lz4Decompress(data: Uint8Array, maxBytes: number): Uint8Array {
  if (data.length < 7 || readU32(data, 0) !== MAGIC) throw corrupt("not an LZ4 frame");
  const flg = data[4]!;
  const bd = data[5]!;
  if ((flg & 0xc0) !== FLG_VERSION_1) throw corrupt(`LZ4 frame version ${flg >>> 6} is not supported`);
  if (flg & FLG_RESERVED || bd & 0x8f) throw corrupt("LZ4 frame reserved bits set");
  if (flg & FLG_DICT_ID) throw corrupt("LZ4 frames with a dictionary are not supported");
  const bsId = (bd >>> 4) & 7;
  if (bsId < 4) throw corrupt(`LZ4 block size id ${bsId} is invalid`);
  const maxBlock = 1 << (2 * bsId + 8);
  let pos = 6;
  let contentSize = -1;
  if (flg & FLG_CONTENT_SIZE) {
    if (data.length < pos + 9) throw corrupt("LZ4 frame header truncated");
    const high = readU32(data, pos + 4);
    const low = readU32(data, pos);
    if (high > 0 || low > maxBytes) throw overLimit(`LZ4 frame declares more than ${maxBytes} bytes`, "UncompressedTooLarge");
    // LZ4 expands at most ~255× (each length byte adds 255), so a larger claim is corrupt.
    if (low > data.length * 256) throw corrupt(`LZ4 frame declares ${low} bytes from ${data.length}`);
    contentSize = low;
    pos += 8;
  }
  if (pos >= data.length) throw corrupt("LZ4 frame header truncated");
  if (data[pos] !== ((xxh32(data, 4, pos) >>> 8) & 0xff)) throw corrupt("LZ4 frame descriptor checksum mismatch");
  pos++;

  const blockChecksum = (flg & FLG_BLOCK_CHECKSUM) !== 0;
  const out =
    contentSize >= 0
      ? new OutputBuffer(contentSize, contentSize, () => corrupt("LZ4 frame inflates past its declared content size"))
      : new OutputBuffer(Math.max(BLOCK_BYTES, data.length * 4), maxBytes, () =>
          overLimit(`LZ4 data inflates to more than ${maxBytes} bytes`, "UncompressedTooLarge"),
        );
  for (;;) {
    if (data.length - pos < 4) throw corrupt("LZ4 block header truncated");
    const header = readU32(data, pos);
    pos += 4;
    if (header === 0) break;
    const size = header & 0x7fffffff;
    if (size > maxBlock) throw corrupt(`LZ4 block of ${size} bytes exceeds the frame's ${maxBlock}`);
    if (data.length - pos < size + (blockChecksum ? 4 : 0)) throw corrupt("LZ4 block truncated");
    if (blockChecksum && readU32(data, pos + size) !== xxh32(data, pos, pos + size)) throw corrupt("LZ4 block checksum mismatch");
    if (header & UNCOMPRESSED_BIT) out.append(data.subarray(pos, pos + size));
    else decodeBlock(data, pos, pos + size, out, maxBlock);
    pos += size + (blockChecksum ? 4 : 0);
  }
  if (flg & FLG_CONTENT_CHECKSUM) {
    if (data.length - pos < 4) throw corrupt("LZ4 content checksum truncated");
    if (readU32(data, pos) !== xxh32(out.bytes, 0, out.length)) throw corrupt("LZ4 content checksum mismatch");
    pos += 4;
  }
  if (pos !== data.length) throw corrupt("trailing bytes after the LZ4 frame");
  if (contentSize >= 0 && out.length !== contentSize) throw corrupt("LZ4 frame content size mismatch");
  return out.result();
}

/** Decodes one compressed block `src[s, end)`, appending to `out`. */
function decodeBlock(src: Uint8Array, s: number, end: number, out: OutputBuffer, maxBlock: number): void {
  let o = out.length;
  const blockEnd = o + maxBlock;
  for (;;) {
    if (s >= end) throw corrupt("LZ4 sequence truncated");
    const token = src[s++]!;
    let lit = token >>> 4;
    if (lit === 15) {
      let b: number;
      do {
        if (s >= end) throw corrupt("LZ4 literal length truncated");
        b = src[s++]!;
        lit += b;
      } while (b === 255);
    }
    if (lit > end - s || o + lit > blockEnd) throw corrupt("LZ4 literals overrun the block");
    let dst = out.reserve(o + lit);
    if (lit > 32) dst.set(src.subarray(s, s + lit), o);
    else for (let i = 0; i < lit; i++) dst[o + i] = src[s + i]!;
    s += lit;
    o += lit;
    out.length = o;
    if (s === end) return;
    if (end - s < 2) throw corrupt("LZ4 match offset truncated");
    const offset = src[s]! | (src[s + 1]! << 8);
    s += 2;
    if (offset === 0 || offset > o) throw corrupt("LZ4 match offset out of range");
    let len = token & 15;
    if (len === 15) {
      let b: number;
      do {
        if (s >= end) throw corrupt("LZ4 match length truncated");
        b = src[s++]!;
        len += b;
      } while (b === 255);
    }
    len += MIN_MATCH;
    if (o + len > blockEnd) throw corrupt("LZ4 match overruns the block");
    dst = out.reserve(o + len);
    if (offset >= len) dst.copyWithin(o, o - offset, o - offset + len);
    else for (let i = 0; i < len; i++) dst[o + i] = dst[o - offset + i]!;
    o += len;
    out.length = o;
  }
}
