/**
 * kafkajs's own RecordBatch v2 encoder and decoder (the ones its producer and fetch v4+ use),
 * typed for tests and benches. kafkajs is an independent implementation: its encoder, varints,
 * CRC-32C and decoder share no code with Seglog's codec.
 */
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);

/** kafkajs's codec interface: it compresses an Encoder (`.buffer`) and decompresses a Buffer. */
export interface KafkajsCodec {
  compress(encoder: { buffer: Buffer }): Promise<Buffer>;
  decompress(buffer: Buffer): Promise<Buffer>;
}

interface KafkajsRecordInput {
  offsetDelta: number;
  timestampDelta: number;
  key: Buffer | null;
  value: Buffer | null;
  headers?: Record<string, Buffer | Buffer[]>;
}

interface KafkajsEncoded {
  buffer: Buffer;
}

export interface KafkajsDecodedRecord {
  offset: string;
  timestamp: string;
  key: Buffer | null;
  value: Buffer | null;
  headers: Record<string, Buffer | null | (Buffer | null)[]>;
  isControlRecord: boolean;
}

export interface KafkajsDecodedBatch {
  firstOffset: string;
  firstTimestamp: string;
  maxTimestamp: string;
  partitionLeaderEpoch: number;
  inTransaction: boolean;
  isControlBatch: boolean;
  lastOffsetDelta: number;
  producerId: string;
  producerEpoch: number;
  firstSequence: number;
  timestampType: number;
  records: KafkajsDecodedRecord[];
}

const { RecordBatch } = require("kafkajs/src/protocol/recordBatch/v0/index.js") as {
  RecordBatch: (args: {
    compression?: number;
    firstOffset?: string;
    firstTimestamp?: number;
    maxTimestamp?: number;
    partitionLeaderEpoch?: number;
    lastOffsetDelta?: number;
    transactional?: boolean;
    producerId?: string;
    producerEpoch?: number;
    firstSequence?: number;
    records: unknown[];
  }) => Promise<KafkajsEncoded>;
};
const Record = require("kafkajs/src/protocol/recordBatch/record/v0/index.js") as (r: KafkajsRecordInput) => unknown;
const decodeBatch = require("kafkajs/src/protocol/recordBatch/v0/decoder.js") as (
  decoder: unknown,
) => Promise<KafkajsDecodedBatch>;
const Decoder = require("kafkajs/src/protocol/decoder.js") as new (buffer: Buffer) => unknown;
const compression = require("kafkajs/src/protocol/message/compression/index.js") as {
  Types: { None: 0; GZIP: 1; Snappy: 2; LZ4: 3; ZSTD: 4 };
  Codecs: Record<number, () => KafkajsCodec>;
};
const kafkajsMurmur2 = require("kafkajs/src/producer/partitioners/default/murmur2.js") as (key: Buffer | string) => number;
const { Partitioners } = require("kafkajs") as {
  Partitioners: {
    JavaCompatiblePartitioner: () => (args: {
      topic: string;
      partitionMetadata: { partitionId: number; leader: number }[];
      message: { key: Buffer; partition?: number | null };
    }) => number;
  };
};

export const kafkajsCodecIds = { none: 0, gzip: 1, snappy: 2, lz4: 3, zstd: 4 } as const;

/** Registers a codec with kafkajs (it ships gzip only; the others are pluggable). */
export function registerKafkajsCodec(id: 1 | 2 | 3 | 4, codec: KafkajsCodec): void {
  compression.Codecs[id] = () => codec;
}

export interface OracleRecord {
  key: Uint8Array | null;
  value: Uint8Array | null;
  headers?: Record<string, Buffer | Buffer[]>;
  timestamp: number;
}

const toBuffer = (b: Uint8Array | null): Buffer | null =>
  b === null ? null : Buffer.from(b.buffer, b.byteOffset, b.byteLength);

/** kafkajs's producer path: one `Record` per message, then `RecordBatch`. */
export async function kafkajsEncode(
  records: readonly OracleRecord[],
  options: { compression?: number; baseOffset?: bigint; producerId?: bigint; producerEpoch?: number; baseSequence?: number } = {},
): Promise<Buffer> {
  const first = records[0]?.timestamp ?? 0;
  let max = first;
  const encoded = records.map((r, i) => {
    if (r.timestamp > max) max = r.timestamp;
    return Record({
      offsetDelta: i,
      timestampDelta: r.timestamp - first,
      key: toBuffer(r.key),
      value: toBuffer(r.value),
      ...(r.headers === undefined ? {} : { headers: r.headers }),
    });
  });
  const batch = await RecordBatch({
    compression: options.compression ?? 0,
    firstOffset: String(options.baseOffset ?? 0n),
    firstTimestamp: first,
    maxTimestamp: max,
    lastOffsetDelta: records.length - 1,
    producerId: String(options.producerId ?? -1n),
    producerEpoch: options.producerEpoch ?? 0,
    firstSequence: options.baseSequence ?? 0,
    records: encoded,
  });
  return batch.buffer;
}

/** kafkajs's fetch (v4+) batch decoder. It does not check the CRC. */
export function kafkajsDecode(bytes: Uint8Array): Promise<KafkajsDecodedBatch> {
  return decodeBatch(new Decoder(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)));
}

export { kafkajsMurmur2 };

/** kafkajs's Java-compatible partitioner for a keyed message over `partitions` live partitions. */
export function kafkajsPartition(key: Buffer, partitions: number): number {
  const partitioner = Partitioners.JavaCompatiblePartitioner();
  const partitionMetadata = Array.from({ length: partitions }, (_, i) => ({ partitionId: i, leader: 0 }));
  return partitioner({ topic: "t", partitionMetadata, message: { key } });
}
