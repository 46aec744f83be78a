import { decodeRecordBatch, patchBaseOffset } from "../core/codec/record-batch.ts";
import { SeglogError, invalid, notFound, tooLarge } from "../core/errors.ts";
import { segmentObjectKey } from "../core/keys.ts";
import type { SegmentObjects } from "../storage/objects.ts";
import type { Registry, TopicRecord } from "../storage/registry.ts";
import type { LogOptions } from "./options.ts";
import type { Topics } from "./topics.ts";

/** A client's RecordBatch that passed every check; its bytes are stored as they came. */
export interface CheckedBatch {
  readonly bytes: Uint8Array;
  readonly records: number;
  /** Offsets the batch takes: `lastOffsetDelta + 1`. */
  readonly span: number;
  readonly firstTs: number;
  readonly maxTs: number;
}

export interface AppendResult {
  readonly partition: number;
  readonly baseOffset: number;
  readonly lastOffset: number;
  readonly count: number;
}

/**
 * Checks one RecordBatch v2 as Kafka's broker does before accepting it: size against the
 * topic's `max.message.bytes`, CRC and structure (by decoding it, bounded), consecutive offset
 * deltas, and no transactional or control batches (Seglog has no transactions).
 */
export function checkBatch(bytes: Uint8Array, maxMessageBytes: number): CheckedBatch {
  if (bytes.byteLength > maxMessageBytes) {
    throw tooLarge(
      `Record batch of ${bytes.byteLength} bytes exceeds the topic's max.message.bytes (${maxMessageBytes})`,
    );
  }
  const batch = decodeRecordBatch(bytes, { maxUncompressedBytes: 8 * maxMessageBytes });
  if (batch.isTransactional || batch.isControl) {
    throw invalid("Transactional and control batches are not supported", "UnsupportedBatch");
  }
  if (batch.timestampType !== "create") {
    throw invalid("Producers must send CreateTime timestamps", "UnsupportedBatch");
  }
  const n = batch.records.length;
  if (n === 0) throw invalid("Record batch holds no records", "CorruptRecord");
  if (batch.lastOffsetDelta !== n - 1 || batch.records.some((r, i) => r.offsetDelta !== i)) {
    throw invalid("Record offset deltas must be 0..n-1 in order", "CorruptRecord");
  }
  return {
    bytes,
    records: n,
    span: n,
    firstTs: Number(batch.baseTimestamp),
    maxTs: Number(batch.maxTimestamp),
  };
}

/** The produce protocol: reserve → write → commit (docs/produce-and-fetch.md). */
export class Appender {
  constructor(
    private readonly registry: Registry,
    private readonly objects: SegmentObjects,
    private readonly topics: Topics,
    private readonly options: Pick<LogOptions, "now">,
  ) {}

  async append(topic: TopicRecord, partition: number, batch: CheckedBatch): Promise<AppendResult> {
    const reservation = await this.reserve(topic, partition, batch.span);
    const { seq, baseOffset } = reservation;
    const key = segmentObjectKey(reservation.topic.name, reservation.topic.topicId, partition, baseOffset);
    patchBaseOffset(batch.bytes, BigInt(baseOffset));
    await this.objects.put(key, batch.bytes);
    const committed = await this.registry.decide(reservation.topic.topicId, partition, {
      seq,
      toSeq: seq,
      state: "C",
      base: baseOffset,
      count: batch.span,
      records: batch.records,
      bytes: batch.bytes.byteLength,
      firstTs: batch.firstTs,
      maxTs: batch.maxTs,
      at: this.options.now(),
    });
    if (!committed) {
      throw new SeglogError(
        "Conflict",
        `The reservation at offset ${baseOffset} was aborted before it committed (the write was too slow); send the batch again`,
        { retriable: true, code: "ReservationAborted" },
      );
    }
    return { partition, baseOffset, lastOffset: baseOffset + batch.span - 1, count: batch.records };
  }

  private async reserve(topic: TopicRecord, partition: number, span: number) {
    const first = await this.registry.reserve(topic.topicId, partition, span, this.options.now());
    if (first) return { ...first, topic };
    // No head under this topicId: the cached topic was deleted or recreated. Re-read once.
    const fresh = await this.topics.get(topic.name);
    if (fresh.topicId !== topic.topicId && partition < fresh.partitions) {
      const second = await this.registry.reserve(fresh.topicId, partition, span, this.options.now());
      if (second) return { ...second, topic: fresh };
    }
    throw notFound(`Topic '${topic.name}' has no partition ${partition}`);
  }
}
