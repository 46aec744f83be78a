/**
 * The fixed 61-byte header of a Kafka RecordBatch v2 (magic 2), read without touching records.
 *
 *   RecordBatch =>
 *     baseOffset           int64    offset  0   not covered by the CRC: patched in place on append
 *     batchLength          int32    offset  8   bytes after this field (total = 12 + batchLength)
 *     partitionLeaderEpoch int32    offset 12   not covered by the CRC
 *     magic                int8     offset 16   2
 *     crc                  uint32   offset 17   CRC-32C of bytes 21 … end
 *     attributes           int16    offset 21   bits 0–2 compression, 3 timestampType (1 = logAppend),
 *                                               4 isTransactional, 5 isControl, 6 hasDeleteHorizon
 *     lastOffsetDelta      int32    offset 23
 *     baseTimestamp        int64    offset 27   the first record's timestamp
 *     maxTimestamp         int64    offset 35
 *     producerId           int64    offset 43   −1 when not idempotent
 *     producerEpoch        int16    offset 51
 *     baseSequence         int32    offset 53
 *     recordCount          int32    offset 57
 *     records              …        offset 61   [Record] — compressed as one stream when bits 0–2 ≠ 0
 */
import { invalid } from "../errors.ts";
import { corrupt } from "./codec-errors.ts";
import { compressionOfId, type Compression } from "./compression.ts";
import { crc32c } from "./crc32c.ts";

export const BATCH_HEADER_BYTES = 61;
/** Offset of the first byte the CRC covers (the attributes). */
export const CRC_START = 21;
/** `batchLength` counts the bytes after the length field itself. */
export const LOG_OVERHEAD = 12;
/** The smallest record: length, attributes, timestampDelta, offsetDelta, key, value, header count. */
export const MIN_RECORD_BYTES = 7;

export const ATTR_COMPRESSION_MASK = 0x07;
export const ATTR_LOG_APPEND_TIME = 0x08;
export const ATTR_TRANSACTIONAL = 0x10;
export const ATTR_CONTROL = 0x20;

const MAX_INT64 = (1n << 63n) - 1n;

export type TimestampType = "create" | "logAppend";

/** Every batch-level field of a RecordBatch, plus sizes a reader needs to walk a buffer. */
export interface BatchHeader {
  baseOffset: bigint;
  batchLength: number;
  partitionLeaderEpoch: number;
  magic: 2;
  /** As stored (unsigned); see `verifyCrc`. */
  crc: number;
  attributes: number;
  compression: Compression;
  timestampType: TimestampType;
  isTransactional: boolean;
  isControl: boolean;
  lastOffsetDelta: number;
  baseTimestamp: bigint;
  maxTimestamp: bigint;
  producerId: bigint;
  producerEpoch: number;
  baseSequence: number;
  recordCount: number;
  /** Bytes of the whole batch: `12 + batchLength`. */
  sizeInBytes: number;
}

const viewOf = (bytes: Uint8Array): DataView => new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);

/**
 * Reads and checks the header of the batch at `offset`: that the whole batch is present, magic is
 * 2, the compression id is known, and the record count is possible. Does not check the CRC.
 */
export function readBatchHeader(bytes: Uint8Array, offset = 0): BatchHeader {
  const remaining = bytes.length - offset;
  if (!Number.isInteger(offset) || offset < 0 || remaining < BATCH_HEADER_BYTES) {
    throw corrupt(`record batch truncated: ${Math.max(0, remaining)} bytes, a header needs ${BATCH_HEADER_BYTES}`);
  }
  const view = viewOf(bytes);
  const batchLength = view.getInt32(offset + 8);
  if (batchLength < BATCH_HEADER_BYTES - LOG_OVERHEAD) throw corrupt(`record batch length ${batchLength} is too small`);
  if (batchLength > remaining - LOG_OVERHEAD) {
    throw corrupt(`record batch truncated: declares ${LOG_OVERHEAD + batchLength} bytes, ${remaining} present`);
  }
  const magic = bytes[offset + 16]!;
  if (magic !== 2) throw corrupt(`record batch magic ${magic} is not supported (only v2)`);
  const attributes = view.getInt16(offset + 21);
  const recordCount = view.getInt32(offset + 57);
  if (recordCount < 0) throw corrupt(`record count ${recordCount} is negative`);
  const compression = compressionOfId(attributes & ATTR_COMPRESSION_MASK);
  const sizeInBytes = LOG_OVERHEAD + batchLength;
  if (compression === "none" && recordCount > (sizeInBytes - BATCH_HEADER_BYTES) / MIN_RECORD_BYTES) {
    throw corrupt(`record count ${recordCount} cannot fit in ${sizeInBytes - BATCH_HEADER_BYTES} bytes`);
  }
  return {
    baseOffset: view.getBigInt64(offset),
    batchLength,
    partitionLeaderEpoch: view.getInt32(offset + 12),
    magic: 2,
    crc: view.getUint32(offset + 17),
    attributes,
    compression,
    timestampType: attributes & ATTR_LOG_APPEND_TIME ? "logAppend" : "create",
    isTransactional: (attributes & ATTR_TRANSACTIONAL) !== 0,
    isControl: (attributes & ATTR_CONTROL) !== 0,
    lastOffsetDelta: view.getInt32(offset + 23),
    baseTimestamp: view.getBigInt64(offset + 27),
    maxTimestamp: view.getBigInt64(offset + 35),
    producerId: view.getBigInt64(offset + 43),
    producerEpoch: view.getInt16(offset + 51),
    baseSequence: view.getInt32(offset + 53),
    recordCount,
    sizeInBytes,
  };
}

/** True when the stored CRC matches the batch at `offset` (whose structure must be valid). */
export function verifyCrc(bytes: Uint8Array, offset = 0): boolean {
  const header = readBatchHeader(bytes, offset);
  return crc32c(bytes, offset + CRC_START, offset + header.sizeInBytes) === header.crc;
}

/**
 * Walks batches stored back to back (a merged segment, a fetch response body). Yields each
 * header and a view of the batch's bytes; throws `CorruptRecord` on a truncated tail.
 */
export function* iterateBatches(bytes: Uint8Array): Generator<{ header: BatchHeader; bytes: Uint8Array }, void, undefined> {
  let offset = 0;
  while (offset < bytes.length) {
    const header = readBatchHeader(bytes, offset);
    yield { header, bytes: bytes.subarray(offset, offset + header.sizeInBytes) };
    offset += header.sizeInBytes;
  }
}

/**
 * Sets the batch's baseOffset in place. The CRC does not cover it, so the batch stays valid: this
 * is how an append assigns offsets without re-encoding.
 */
export function patchBaseOffset(bytes: Uint8Array, baseOffset: bigint | number, offset = 0): void {
  const header = readBatchHeader(bytes, offset);
  const value = BigInt(baseOffset);
  if (value < 0n || value + BigInt(Math.max(0, header.lastOffsetDelta)) > MAX_INT64) {
    throw invalid(`baseOffset ${value} is out of range`, "InvalidOffset");
  }
  viewOf(bytes).setBigInt64(offset, value);
}

/**
 * Sets an idempotent batch's baseSequence in place and recomputes its CRC, which covers it: how
 * a producer gives a batch already encoded the sequences of a topic created again under it.
 */
export function patchBaseSequence(bytes: Uint8Array, baseSequence: number, offset = 0): void {
  const header = readBatchHeader(bytes, offset);
  if (!(Number.isInteger(baseSequence) && baseSequence >= 0 && baseSequence <= 0x7fffffff)) throw invalid(`baseSequence ${baseSequence} is out of range`);
  const view = viewOf(bytes);
  view.setInt32(offset + 53, baseSequence);
  view.setUint32(offset + 17, crc32c(bytes, offset + CRC_START, offset + header.sizeInBytes));
}

