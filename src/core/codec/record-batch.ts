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
import { invalid } from "../errors.ts";
import { BATCH_HEADER_BYTES, CRC_START, MIN_RECORD_BYTES, readBatchHeader, type BatchHeader } from "./batch-header.ts";
import { corrupt, overLimit } from "./codec-errors.ts";
import { BatchBuilder, sizeOfRecordBody, type AppendedRecord, type BatchHeaderFields } from "./batch-builder.ts";
import { decompress } from "./compression.ts";
import { crc32c } from "./crc32c.ts";
import { ByteCursor, sizeOfVarint } from "./varint.ts";

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
export { BatchBuilder, MAX_TIMESTAMP, type BatchHeaderFields, type FieldValue } from "./batch-builder.ts";

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

export interface EncodeBatchInput extends BatchHeaderFields {
  records: readonly RecordInput[];
  /** Timestamp for records without one. @default Date.now() at encode time */
  defaultTimestamp?: number;
}

/** How many times a topic's `max.message.bytes` a compressed batch may unpack to when appended
 * (a bound on the work and memory of a decompression bomb; the producer refuses a record past it). */
export const MAX_UNCOMPRESSED_RATIO = 8;

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

const utf8 = new TextDecoder("utf-8");

/** Encodes one batch. Throws `Invalid`/`InvalidBatch` on bad input (e.g. no records). */
export function encodeRecordBatch(input: EncodeBatchInput): Uint8Array {
  const records = input.records;
  let fallbackTs = input.defaultTimestamp;
  const appended: AppendedRecord[] = records.map((r, i) => {
    if (r.value !== null && !(r.value instanceof Uint8Array)) throw invalid(`record ${i}: value must be a Uint8Array or null`, "InvalidBatch");
    if (r.key != null && !(r.key instanceof Uint8Array)) throw invalid(`record ${i}: key must be a Uint8Array or null`, "InvalidBatch");
    for (const h of r.headers ?? []) {
      if (typeof h.key !== "string") throw invalid(`record ${i}: header key must be a string`, "InvalidBatch");
      if (h.value !== null && !(h.value instanceof Uint8Array)) throw invalid(`record ${i}: header value must be a Uint8Array or null`, "InvalidBatch");
    }
    return { key: r.key ?? null, value: r.value, timestamp: r.timestamp ?? (fallbackTs ??= Date.now()), headers: r.headers };
  });
  // Sized exactly, so the records are written once and never moved.
  const baseTs = appended[0]?.timestamp ?? 0;
  let bytes = 0;
  appended.forEach((r, i) => {
    const body = Number.isSafeInteger(r.timestamp) ? sizeOfRecordBody(r, i, r.timestamp - baseTs) : 0;
    bytes += sizeOfVarint(body) + body;
  });
  if (!(bytes <= 0x7fffffff - BATCH_HEADER_BYTES)) throw invalid("record batch would exceed 2 GiB", "InvalidBatch");
  const builder = new BatchBuilder(bytes);
  for (const r of appended) builder.append(r);
  return builder.build(input);
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
