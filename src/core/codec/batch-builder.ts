/**
 * A RecordBatch written record by record, as Kafka's `MemoryRecordsBuilder` writes one: each
 * record goes into the batch's buffer as it is appended (its bytes copied once, there), and
 * `build` writes the header in front and the CRC. The Producer appends each record at `send`, so
 * it holds no record objects or copies of its own while a batch fills; `encodeRecordBatch` sizes
 * the buffer exactly and appends a whole batch at once.
 *
 * The buffer starts with `headroom` bytes for the caller (a produce frame's partition) and room
 * for the header; it doubles when a record does not fit.
 */
import { Buffer } from "node:buffer";
import { invalid } from "../errors.ts";
import { ATTR_CONTROL, ATTR_LOG_APPEND_TIME, ATTR_TRANSACTIONAL, BATCH_HEADER_BYTES, CRC_START, LOG_OVERHEAD } from "./batch-header.ts";
import { COMPRESSION_IDS, compress, type Compression } from "./compression.ts";
import { crc32c } from "./crc32c.ts";
import { sizeOfVarint, sizeOfVarlong, writeVarint, writeVarlong } from "./varint.ts";
import type { TimestampType } from "./batch-header.ts";

/** A key, value or header value: bytes, text (written as UTF-8) or null. */
export type FieldValue = Uint8Array | string | null;

export interface AppendedRecord {
  readonly key: FieldValue;
  readonly value: FieldValue;
  /** Milliseconds since the epoch, within ±2^52. */
  readonly timestamp: number;
  readonly headers?: ReadonlyArray<{ readonly key: string; readonly value: FieldValue }>;
}

/** The header fields `build` writes. */
export interface BatchHeaderFields {
  /** @default 0 (the log assigns it later with `patchBaseOffset`) */
  baseOffset?: bigint | number;
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
}

const INT16_MIN = -0x8000;
const INT16_MAX = 0x7fff;
const INT32_MIN = -0x80000000;
const INT32_MAX = 0x7fffffff;
const INT64_MIN = -(1n << 63n);
const INT64_MAX = (1n << 63n) - 1n;
/** Keeps every timestamp delta a safe integer. */
export const MAX_TIMESTAMP = 2 ** 52;

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

const byteLengthOf = (v: Uint8Array | string): number => (typeof v === "string" ? Buffer.byteLength(v, "utf8") : v.byteLength);

/** A bytes field's size: its length varint, then the bytes (−1 alone for null). */
function sizeOfField(v: FieldValue): number {
  if (v === null) return 1;
  const n = byteLengthOf(v);
  return sizeOfVarint(n) + n;
}

/** Bytes a record's body takes in the records section: all of it but its length varint. */
export function sizeOfRecordBody(record: AppendedRecord, offsetDelta: number, timestampDelta: number): number {
  let size = 1 + sizeOfVarlong(timestampDelta) + sizeOfVarint(offsetDelta) + sizeOfField(record.key) + sizeOfField(record.value);
  const headers = record.headers;
  if (headers === undefined || headers.length === 0) {
    size += 1;
  } else {
    size += sizeOfVarint(headers.length);
    for (const h of headers) size += sizeOfField(h.key) + sizeOfField(h.value);
  }
  return size;
}

function writeField(buf: Buffer, pos: number, v: FieldValue): number {
  if (v === null) {
    buf[pos] = 1; // zig-zag −1
    return pos + 1;
  }
  if (typeof v === "string") {
    const n = Buffer.byteLength(v, "utf8");
    pos = writeVarint(buf, pos, n);
    return pos + buf.write(v, pos, n, "utf8");
  }
  pos = writeVarint(buf, pos, v.byteLength);
  buf.set(v, pos);
  return pos + v.byteLength;
}

function checkField(v: FieldValue, what: string, at: number): void {
  if (v !== null && typeof v !== "string" && !(v instanceof Uint8Array)) throw invalid(`record ${at}: ${what} must be bytes, a string or null`, "InvalidBatch");
}

export class BatchBuilder {
  private buf: Buffer;
  /** Where the next record goes. */
  private pos: number;
  private count_ = 0;
  private baseTimestamp = 0;
  private maxTimestamp = 0;

  /** `capacity`: the records' bytes to make room for at first. */
  constructor(
    capacity: number,
    private readonly headroom = 0,
  ) {
    // Never a slice of Node's shared pool, so callers may hand `.buffer` on.
    this.buf = Buffer.allocUnsafeSlow(headroom + BATCH_HEADER_BYTES + Math.max(0, capacity));
    this.pos = headroom + BATCH_HEADER_BYTES;
  }

  /** Records appended so far. */
  get count(): number {
    return this.count_;
  }

  /** The batch's size so far, uncompressed and with its header. */
  get bytes(): number {
    return this.pos - this.headroom;
  }

  /** Writes the record as the batch's next. Throws `Invalid`/`InvalidBatch` on a field of another
   * type, a timestamp outside ±2^52 or a batch past 2 GiB, and then holds nothing of it. */
  append(record: AppendedRecord): void {
    const at = this.count_;
    const ts = record.timestamp;
    if (!isInt(ts, -MAX_TIMESTAMP, MAX_TIMESTAMP)) throw invalid(`record ${at}: timestamp must be an integer (ms) within ±2^52, got ${ts}`, "InvalidBatch");
    checkField(record.key, "key", at);
    checkField(record.value, "value", at);
    const headers = record.headers;
    if (headers !== undefined) {
      for (const h of headers) {
        if (typeof h.key !== "string") throw invalid(`record ${at}: header key must be a string`, "InvalidBatch");
        checkField(h.value, "header value", at);
      }
    }
    const base = at === 0 ? ts : this.baseTimestamp;
    const body = sizeOfRecordBody(record, at, ts - base);
    const size = sizeOfVarint(body) + body;
    if (this.pos - this.headroom + size > INT32_MAX) throw invalid("record batch would exceed 2 GiB", "InvalidBatch");
    this.reserve(size);

    const buf = this.buf;
    let pos = writeVarint(buf, this.pos, body);
    buf[pos++] = 0;
    pos = writeVarlong(buf, pos, ts - base);
    pos = writeVarint(buf, pos, at);
    pos = writeField(buf, pos, record.key);
    pos = writeField(buf, pos, record.value);
    if (headers === undefined || headers.length === 0) {
      buf[pos++] = 0;
    } else {
      pos = writeVarint(buf, pos, headers.length);
      for (const h of headers) {
        pos = writeField(buf, pos, h.key);
        pos = writeField(buf, pos, h.value);
      }
    }
    this.pos = pos;
    if (at === 0) this.baseTimestamp = this.maxTimestamp = ts;
    else if (ts > this.maxTimestamp) this.maxTimestamp = ts;
    this.count_ = at + 1;
  }

  /**
   * The batch: the header written in front of the records (compressed into a new buffer unless
   * `none`), then the CRC. With headroom, the bytes returned start with it, for the caller to
   * fill. Throws `Invalid`/`InvalidBatch` on an empty batch or a field out of range.
   */
  build(fields: BatchHeaderFields = {}): Uint8Array {
    const n = this.count_;
    if (n === 0) throw invalid("a record batch needs at least one record", "InvalidBatch");
    const codec = fields.compression ?? "none";
    if (!Object.hasOwn(COMPRESSION_IDS, codec)) throw invalid(`unknown compression ${String(codec)}`, "InvalidBatch");
    const baseOffset = int64Of("baseOffset", fields.baseOffset ?? 0);
    const producerId = int64Of("producerId", fields.producerId ?? -1);
    const producerEpoch = intOf("producerEpoch", fields.producerEpoch ?? -1, INT16_MIN, INT16_MAX);
    const baseSequence = intOf("baseSequence", fields.baseSequence ?? -1, INT32_MIN, INT32_MAX);
    const leaderEpoch = intOf("partitionLeaderEpoch", fields.partitionLeaderEpoch ?? -1, INT32_MIN, INT32_MAX);

    const recordsStart = this.headroom + BATCH_HEADER_BYTES;
    let out: Buffer;
    if (codec === "none") {
      out = this.buf.subarray(0, this.pos);
    } else {
      const packed = compress(codec, this.buf.subarray(recordsStart, this.pos));
      if (packed.length > INT32_MAX - BATCH_HEADER_BYTES) throw invalid("compressed batch is too large", "InvalidBatch");
      out = Buffer.allocUnsafeSlow(recordsStart + packed.length);
      out.set(packed, recordsStart);
    }
    const batch = this.headroom === 0 ? out : out.subarray(this.headroom);
    const attributes =
      COMPRESSION_IDS[codec] |
      (fields.timestampType === "logAppend" ? ATTR_LOG_APPEND_TIME : 0) |
      (fields.isTransactional === true ? ATTR_TRANSACTIONAL : 0) |
      (fields.isControl === true ? ATTR_CONTROL : 0);
    batch.writeBigInt64BE(baseOffset, 0);
    batch.writeInt32BE(batch.length - LOG_OVERHEAD, 8);
    batch.writeInt32BE(leaderEpoch, 12);
    batch[16] = 2;
    batch.writeInt16BE(attributes, 21);
    batch.writeInt32BE(n - 1, 23);
    batch.writeBigInt64BE(BigInt(this.baseTimestamp), 27);
    batch.writeBigInt64BE(BigInt(this.maxTimestamp), 35);
    batch.writeBigInt64BE(producerId, 43);
    batch.writeInt16BE(producerEpoch, 51);
    batch.writeInt32BE(baseSequence, 53);
    batch.writeInt32BE(n, 57);
    batch.writeUInt32BE(crc32c(batch, CRC_START), 17);
    return out;
  }

  /** Room for `size` more bytes: the buffer doubles (at least) when they do not fit. */
  private reserve(size: number): void {
    if (this.pos + size <= this.buf.length) return;
    const grown = Buffer.allocUnsafeSlow(Math.max(this.pos + size, 2 * this.buf.length));
    this.buf.copy(grown, 0, 0, this.pos);
    this.buf = grown;
  }
}
