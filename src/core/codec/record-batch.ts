/**
 * Encoding and decoding of whole Kafka RecordBatch v2 batches, byte for byte as the Java client.
 * The header layout is in `batch-header.ts`; each record in the records section is:
 *
 *   Record =>
 *     length          varint   bytes after this field
 *     attributes      int8     unused, 0
 *     timestampDelta  varlong  timestamp − baseTimestamp
 *     offsetDelta     varint   offset − baseOffset
 *     keyLength       varint   −1 for a null key
 *     key             bytes
 *     valueLength     varint   −1 for a null value
 *     value           bytes
 *     headerCount     varint
 *     headers         [Header]
 *   Header =>
 *     keyLength       varint   ≥ 0
 *     key             UTF-8
 *     valueLength     varint   −1 for a null value
 *     value           bytes
 *
 * Decoding verifies the CRC, then every length against the bytes actually left, so corrupt input
 * throws `Invalid`/`CorruptRecord` and never allocates more than the input (or, compressed,
 * `maxUncompressedBytes`). Keys and values are views into the input (or the decompressed
 * buffer): no copies, but they keep that buffer alive.
 */
import { Buffer } from "node:buffer";
import { invalid } from "../errors.ts";
import {
  ATTR_CONTROL,
  ATTR_LOG_APPEND_TIME,
  ATTR_TRANSACTIONAL,
  BATCH_HEADER_BYTES,
  CRC_START,
  LOG_OVERHEAD,
  MIN_RECORD_BYTES,
  readBatchHeader,
  type BatchHeader,
  type TimestampType,
} from "./batch-header.ts";
import { corrupt, overLimit } from "./codec-errors.ts";
import { COMPRESSION_IDS, compress, decompress, type Compression } from "./compression.ts";
import { crc32c } from "./crc32c.ts";
import { ByteCursor, sizeOfVarint, sizeOfVarlong, writeVarint, writeVarlong } from "./varint.ts";

// The rest of Seglog imports the whole codec from this module.
export {
  BATCH_HEADER_BYTES,
  iterateBatches,
  patchBaseOffset,
  patchBaseSequence,
  readBatchHeader,
  verifyCrc,
  type BatchHeader,
  type TimestampType,
} from "./batch-header.ts";
export { COMPRESSIONS, loadCompressionCodecs, type Compression } from "./compression.ts";

export interface KafkaHeader {
  key: string;
  value: Uint8Array | null;
}

export interface KafkaRecord {
  offsetDelta: number;
  timestampDelta: bigint | number;
  key: Uint8Array | null;
  value: Uint8Array | null;
  headers: KafkaHeader[];
  attributes?: number;
}

export interface RecordBatch extends BatchHeader {
  records: KafkaRecord[];
}

/** A record with its absolute position and time, as consumers want it. */
export interface DecodedRecord {
  offset: bigint;
  /** Milliseconds since the epoch: the batch's maxTimestamp for `logAppend` batches. */
  timestamp: number;
  key: Uint8Array | null;
  value: Uint8Array | null;
  headers: KafkaHeader[];
}

export interface RecordInput {
  key?: Uint8Array | null;
  value: Uint8Array | null;
  headers?: KafkaHeader[];
  /** Milliseconds since the epoch; defaults to the batch's `defaultTimestamp`. */
  timestamp?: number;
}

export interface EncodeBatchInput {
  /** @default 0 (the log assigns it later with `patchBaseOffset`) */
  baseOffset?: bigint | number;
  records: readonly RecordInput[];
  /** @default "none" */
  compression?: Compression;
  /** @default -1 (not idempotent) */
  producerId?: bigint | number;
  /** @default -1 */
  producerEpoch?: number;
  /** @default -1 */
  baseSequence?: number;
  /** @default -1 (Kafka's NO_PARTITION_LEADER_EPOCH) */
  partitionLeaderEpoch?: number;
  /** @default "create" */
  timestampType?: TimestampType;
  /** @default false */
  isTransactional?: boolean;
  /** @default false */
  isControl?: boolean;
  /** Timestamp for records without one. @default Date.now() at encode time */
  defaultTimestamp?: number;
}

export interface DecodeBatchOptions {
  /** Rejects (`TooLarge`/`TooManyRecords`) a batch declaring more records. @default unbounded */
  maxRecords?: number;
  /** Rejects (`TooLarge`/`UncompressedTooLarge`) compressed records inflating past this. @default 64 MiB */
  maxUncompressedBytes?: number;
  /**
   * Checks the CRC-32C before decoding. Turn off only for bytes whose CRC was already verified
   * (e.g. a segment Seglog checked on append): the CRC is most of the cost of a decode (about
   * 0.6 ms per MB in JS). Structure and lengths are checked either way. @default true
   */
  verifyCrc?: boolean;
}

export const DEFAULT_MAX_UNCOMPRESSED_BYTES = 64 * 1024 * 1024;

const INT16_MIN = -0x8000;
const INT16_MAX = 0x7fff;
const INT32_MIN = -0x80000000;
const INT32_MAX = 0x7fffffff;
const INT64_MIN = -(1n << 63n);
const INT64_MAX = (1n << 63n) - 1n;
/** Keeps every timestamp delta a safe integer. */
export const MAX_TIMESTAMP = 2 ** 52;

const utf8 = new TextDecoder("utf-8");

const isInt = (v: number, min: number, max: number): boolean => Number.isInteger(v) && v >= min && v <= max;

function int64Of(name: string, v: bigint | number): bigint {
  if (typeof v === "number" && !Number.isSafeInteger(v)) throw invalid(`${name} must be an integer, got ${v}`, "InvalidBatch");
  const big = BigInt(v);
  if (big < INT64_MIN || big > INT64_MAX) throw invalid(`${name} ${big} does not fit in int64`, "InvalidBatch");
  return big;
}

function intOf(name: string, v: number, min: number, max: number): number {
  if (!isInt(v, min, max)) throw invalid(`${name} must be an integer in [${min}, ${max}], got ${v}`, "InvalidBatch");
  return v;
}

const sizeOfBytesField = (b: Uint8Array | null | undefined): number =>
  b == null ? 1 : sizeOfVarint(b.length) + b.length;

/**
 * Encodes one batch. Throws `Invalid`/`InvalidBatch` on bad input (e.g. no records). With
 * `headroom`, the buffer returned starts with that many bytes for the caller to fill (a produce
 * frame's header, `encodeFrame`), and the batch is the rest: no copy to put the two together.
 */
export function encodeRecordBatch(input: EncodeBatchInput, headroom = 0): Uint8Array {
  const records = input.records;
  const n = records.length;
  if (n === 0) throw invalid("a record batch needs at least one record", "InvalidBatch");
  const codec = input.compression ?? "none";
  if (!Object.hasOwn(COMPRESSION_IDS, codec)) throw invalid(`unknown compression ${String(codec)}`, "InvalidBatch");
  const baseOffset = int64Of("baseOffset", input.baseOffset ?? 0);
  const producerId = int64Of("producerId", input.producerId ?? -1);
  const producerEpoch = intOf("producerEpoch", input.producerEpoch ?? -1, INT16_MIN, INT16_MAX);
  const baseSequence = intOf("baseSequence", input.baseSequence ?? -1, INT32_MIN, INT32_MAX);
  const leaderEpoch = intOf("partitionLeaderEpoch", input.partitionLeaderEpoch ?? -1, INT32_MIN, INT32_MAX);
  let fallbackTs = input.defaultTimestamp;

  // Pass 1: timestamps and the exact size of every record.
  const timestamps = new Float64Array(n);
  const bodySizes = new Int32Array(n);
  let baseTs = 0;
  let maxTs = 0;
  let recordsBytes = 0;
  for (let i = 0; i < n; i++) {
    const r = records[i]!;
    let ts = r.timestamp;
    if (ts === undefined) ts = fallbackTs ??= Date.now();
    if (!isInt(ts, -MAX_TIMESTAMP, MAX_TIMESTAMP)) {
      throw invalid(`record ${i}: timestamp must be an integer (ms) within ±2^52, got ${ts}`, "InvalidBatch");
    }
    if (i === 0) baseTs = maxTs = ts;
    else if (ts > maxTs) maxTs = ts;
    timestamps[i] = ts;
    if (r.value !== null && !(r.value instanceof Uint8Array)) {
      throw invalid(`record ${i}: value must be a Uint8Array or null`, "InvalidBatch");
    }
    if (r.key != null && !(r.key instanceof Uint8Array)) throw invalid(`record ${i}: key must be a Uint8Array or null`, "InvalidBatch");
    let size = 1 + sizeOfVarlong(ts - baseTs) + sizeOfVarint(i) + sizeOfBytesField(r.key) + sizeOfBytesField(r.value);
    const headers = r.headers;
    if (headers === undefined || headers.length === 0) {
      size += 1;
    } else {
      size += sizeOfVarint(headers.length);
      for (const h of headers) {
        if (typeof h.key !== "string") throw invalid(`record ${i}: header key must be a string`, "InvalidBatch");
        if (h.value !== null && !(h.value instanceof Uint8Array)) {
          throw invalid(`record ${i}: header value must be a Uint8Array or null`, "InvalidBatch");
        }
        const keyBytes = Buffer.byteLength(h.key, "utf8");
        size += sizeOfVarint(keyBytes) + keyBytes + sizeOfBytesField(h.value);
      }
    }
    if (size > INT32_MAX) throw invalid(`record ${i} is too large`, "InvalidBatch");
    bodySizes[i] = size;
    recordsBytes += sizeOfVarint(size) + size;
    if (recordsBytes > INT32_MAX - BATCH_HEADER_BYTES) throw invalid("record batch would exceed 2 GiB", "InvalidBatch");
  }

  // Pass 2: write the records into one buffer — the batch itself when uncompressed.
  const uncompressed = codec === "none";
  // The result is never a slice of Node's shared pool, so callers may hand `.buffer` on safely.
  const recordsBuf = uncompressed ? Buffer.allocUnsafeSlow(headroom + BATCH_HEADER_BYTES + recordsBytes) : Buffer.allocUnsafe(recordsBytes);
  let pos = uncompressed ? headroom + BATCH_HEADER_BYTES : 0;
  for (let i = 0; i < n; i++) {
    const r = records[i]!;
    pos = writeVarint(recordsBuf, pos, bodySizes[i]!);
    recordsBuf[pos++] = 0;
    pos = writeVarlong(recordsBuf, pos, timestamps[i]! - baseTs);
    pos = writeVarint(recordsBuf, pos, i);
    pos = writeBytesField(recordsBuf, pos, r.key ?? null);
    pos = writeBytesField(recordsBuf, pos, r.value);
    const headers = r.headers;
    if (headers === undefined || headers.length === 0) {
      recordsBuf[pos++] = 0;
    } else {
      pos = writeVarint(recordsBuf, pos, headers.length);
      for (const h of headers) {
        pos = writeVarint(recordsBuf, pos, Buffer.byteLength(h.key, "utf8"));
        pos += recordsBuf.write(h.key, pos, "utf8");
        pos = writeBytesField(recordsBuf, pos, h.value);
      }
    }
  }

  let out: Buffer;
  if (uncompressed) {
    out = recordsBuf;
  } else {
    const packed = compress(codec, recordsBuf);
    if (packed.length > INT32_MAX - BATCH_HEADER_BYTES) throw invalid("compressed batch is too large", "InvalidBatch");
    out = Buffer.allocUnsafeSlow(headroom + BATCH_HEADER_BYTES + packed.length);
    out.set(packed, headroom + BATCH_HEADER_BYTES);
  }
  const batch = headroom === 0 ? out : out.subarray(headroom);
  const attributes =
    COMPRESSION_IDS[codec] |
    (input.timestampType === "logAppend" ? ATTR_LOG_APPEND_TIME : 0) |
    (input.isTransactional === true ? ATTR_TRANSACTIONAL : 0) |
    (input.isControl === true ? ATTR_CONTROL : 0);
  batch.writeBigInt64BE(baseOffset, 0);
  batch.writeInt32BE(batch.length - LOG_OVERHEAD, 8);
  batch.writeInt32BE(leaderEpoch, 12);
  batch[16] = 2;
  batch.writeInt16BE(attributes, 21);
  batch.writeInt32BE(n - 1, 23);
  batch.writeBigInt64BE(BigInt(baseTs), 27);
  batch.writeBigInt64BE(BigInt(maxTs), 35);
  batch.writeBigInt64BE(producerId, 43);
  batch.writeInt16BE(producerEpoch, 51);
  batch.writeInt32BE(baseSequence, 53);
  batch.writeInt32BE(n, 57);
  batch.writeUInt32BE(crc32c(batch, CRC_START), 17);
  return out;
}

function writeBytesField(buf: Buffer, pos: number, b: Uint8Array | null): number {
  if (b === null) {
    buf[pos] = 1; // zig-zag −1
    return pos + 1;
  }
  pos = writeVarint(buf, pos, b.length);
  buf.set(b, pos);
  return pos + b.length;
}

/**
 * Decodes the one batch that `bytes` holds exactly. Verifies the structure and the CRC; any
 * problem throws a typed `SeglogError` (see `DecodeBatchOptions` for the limits).
 */
export function decodeRecordBatch(bytes: Uint8Array, options: DecodeBatchOptions = {}): RecordBatch {
  const header = readBatchHeader(bytes, 0);
  const size = header.sizeInBytes;
  if (size !== bytes.length) throw corrupt(`${bytes.length - size} trailing bytes after the record batch`);
  if (options.verifyCrc !== false && crc32c(bytes, CRC_START, size) !== header.crc) {
    throw corrupt("record batch CRC mismatch");
  }
  const count = header.recordCount;
  if (options.maxRecords !== undefined && count > options.maxRecords) {
    throw overLimit(`record batch holds ${count} records, over ${options.maxRecords}`, "TooManyRecords");
  }
  let src = bytes;
  let start = BATCH_HEADER_BYTES;
  let end = size;
  if (header.compression !== "none") {
    const maxBytes = options.maxUncompressedBytes ?? DEFAULT_MAX_UNCOMPRESSED_BYTES;
    if (count > maxBytes / MIN_RECORD_BYTES) {
      throw overLimit(`record batch holds ${count} records, more than ${maxBytes} bytes can`, "UncompressedTooLarge");
    }
    src = decompress(header.compression, bytes.subarray(BATCH_HEADER_BYTES, size), maxBytes);
    start = 0;
    end = src.length;
    if (count > end / MIN_RECORD_BYTES) throw corrupt(`record count ${count} cannot fit in ${end} bytes`);
  }
  const cursor = new ByteCursor(src, start, end);
  const records = new Array<KafkaRecord>(count);
  for (let i = 0; i < count; i++) records[i] = readRecord(cursor);
  if (cursor.pos !== end) throw corrupt(`${end - cursor.pos} bytes left after the last record`);
  return { ...header, records };
}

function readRecord(c: ByteCursor): KafkaRecord {
  const length = c.readVarint();
  if (length < 0 || length > c.end - c.pos) throw corrupt(`record length ${length} overruns the batch`);
  const outerEnd = c.end;
  const recordEnd = c.pos + length;
  c.end = recordEnd;
  const attributes = c.readInt8();
  const timestampDelta = c.readVarlong();
  const offsetDelta = c.readVarint();
  const key = readNullableBytes(c, "key");
  const value = readNullableBytes(c, "value");
  const headerCount = c.readVarint();
  if (headerCount < 0 || headerCount > (recordEnd - c.pos) / 2) throw corrupt(`header count ${headerCount} is invalid`);
  const headers: KafkaHeader[] = [];
  for (let i = 0; i < headerCount; i++) {
    const keyLength = c.readVarint();
    if (keyLength < 0) throw corrupt(`header key length ${keyLength} is negative`);
    const headerKey = utf8.decode(c.readBytes(keyLength));
    headers.push({ key: headerKey, value: readNullableBytes(c, "header value") });
  }
  if (c.pos !== recordEnd) throw corrupt(`record declares ${length} bytes but holds ${length - (recordEnd - c.pos)}`);
  c.end = outerEnd;
  return { offsetDelta, timestampDelta, key, value, headers, attributes };
}

function readNullableBytes(c: ByteCursor, what: string): Uint8Array | null {
  const length = c.readVarint();
  if (length === -1) return null;
  if (length < -1) throw corrupt(`${what} length ${length} is invalid`);
  return c.readBytes(length);
}

/** The records of a decoded batch with absolute offsets and timestamps. */
export function recordsOf(batch: RecordBatch): DecodedRecord[] {
  const logAppend = batch.timestampType === "logAppend";
  const base = Number(batch.baseTimestamp);
  const max = Number(batch.maxTimestamp);
  return batch.records.map((r) => ({
    offset: batch.baseOffset + BigInt(r.offsetDelta),
    timestamp: logAppend
      ? max
      : typeof r.timestampDelta === "number"
        ? base + r.timestampDelta
        : Number(batch.baseTimestamp + r.timestampDelta),
    key: r.key,
    value: r.value,
    headers: r.headers,
  }));
}
