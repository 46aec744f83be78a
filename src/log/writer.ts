import { randomInt } from "node:crypto";
import type { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import type { S3Client } from "@aws-sdk/client-s3";
import { encodeRecordBatch } from "../core/codec/record-batch.ts";
import { SeglogError, TOPIC_DELETED, invalid, isSeglogError } from "../core/errors.ts";
import { partitionForKey } from "../core/partitioner.ts";
import { SegmentObjects } from "../storage/objects.ts";
import { Producers } from "../storage/producers.ts";
import { Registry } from "../storage/registry.ts";
import { Appender, checkBatch, type AppendOutcome } from "./append.ts";
import { checkedLogOptions, type LogOptions } from "./options.ts";
import { Topics } from "./topics.ts";

export interface ProduceRecord {
  readonly key: Uint8Array | null;
  readonly value: Uint8Array | null;
  readonly headers?: ReadonlyArray<{ key: string; value: Uint8Array | null }>;
  readonly partition?: number;
  readonly timestamp?: number;
}

/** A client-built RecordBatch v2 for one partition (the binary produce body's frame). */
export interface ProduceFrame {
  readonly partition: number;
  readonly bytes: Uint8Array;
}

export type ProduceResult = AppendOutcome;

export interface LogStorage {
  readonly dynamo: DynamoDBClient;
  readonly s3: S3Client;
  readonly table: string;
  readonly bucket: string;
}

/**
 * The log engine's write side: produce and producer ids, over the topic registry. It is all the
 * produce function builds, so that its bundle leaves out reading, merging and maintenance
 * (docs/performance.md, "Cold start"); {@link Log} adds them.
 */
export class LogWriter {
  readonly options: LogOptions;
  readonly topics: Topics;
  protected readonly registry: Registry;
  protected readonly objects: SegmentObjects;
  private readonly producers: Producers;
  private readonly appender: Appender;

  constructor(storage: LogStorage, options: Partial<LogOptions> = {}) {
    this.options = checkedLogOptions(options);
    this.registry = new Registry(storage.dynamo, storage.table);
    this.objects = new SegmentObjects(storage.s3, storage.bucket);
    this.topics = new Topics(this.registry, this.options);
    this.producers = new Producers(storage.dynamo, storage.table);
    this.appender = new Appender(this.registry, this.objects, this.producers, this.topics, this.options);
  }

  /**
   * Produces records: explicit partition wins, keyed records go by murmur2, null-key records of
   * one call all go to one randomly chosen partition (sticky), so that a call costs one batch per
   * partition it touches.
   */
  async produceRecords(topicName: string, records: readonly ProduceRecord[]): Promise<ProduceResult[]> {
    if (records.length === 0) throw invalid("No records to produce");
    const topic = await this.topics.cached(topicName);
    const byPartition = partitionRecords(records, topic.partitions);
    const results = await this.produceFrames(topicName, this.framesOf(byPartition), { recreated: "refuse" });
    // The topic this instance knew was deleted, and perhaps created again: the records it had
    // partitioned by key on its count go again, partitioned on the topic there now.
    const refused = results.filter((r) => "error" in r && isTopicDeleted(r.error));
    if (refused.length === 0) return results;
    const again = refused.flatMap((r) => byPartition.get(r.partition) ?? []);
    const landed = results.filter((r) => !refused.includes(r));
    this.topics.forget(topicName);
    let retried: ProduceResult[];
    try {
      const fresh = await this.topics.get(topicName);
      retried = await this.produceFrames(topicName, this.framesOf(partitionRecords(again, fresh.partitions)));
    } catch (e) {
      // Gone again, say: the batches that landed keep their results beside this error.
      if (!isSeglogError(e)) throw e;
      retried = refused.map((r) => ({ partition: r.partition, error: e }));
    }
    return [...landed, ...retried];
  }

  private framesOf(byPartition: ReadonlyMap<number, readonly ProduceRecord[]>): ProduceFrame[] {
    const now = this.options.now();
    return [...byPartition].map(([partition, rs]) => ({
      partition,
      bytes: encodeRecordBatch({
        records: rs.map((r) => ({
          key: r.key,
          value: r.value,
          headers: (r.headers ?? []).map((h) => ({ key: h.key, value: h.value })),
          timestamp: r.timestamp ?? now,
        })),
      }),
    }));
  }

  /**
   * Produces client-built batches; every batch is checked before any is written. A malformed batch
   * refuses the request whole (naming which); one over the topic's `max.message.bytes`, beside
   * others, is that batch's error, and the others are written (Kafka's MESSAGE_TOO_LARGE is a
   * partition's error too: a limit lowered under a client that still knows the old one must not
   * fail the records of every partition its request carries). A batch whose
   * topic turns out deleted and created again goes on into the new topic at its partition, unless
   * `recreated: "refuse"` (the server chose the partitions, on the old topic's count): it then
   * fails NotFound with code `UnknownTopicId`.
   */
  async produceFrames(topicName: string, frames: readonly ProduceFrame[], options: { recreated?: "go-on" | "refuse" } = {}): Promise<ProduceResult[]> {
    if (frames.length === 0) throw invalid("No record batches to produce");
    let topic = await this.topics.cached(topicName);
    const highest = Math.max(...frames.map((f) => f.partition));
    if (highest >= topic.partitions) topic = await this.topics.withPartition(topicName, highest);
    const tooLarge = new Map<number, SeglogError>();
    const checked = frames.flatMap((f, i) => {
      try {
        return [{ partition: f.partition, batch: checkBatch(f.bytes, topic.config["max.message.bytes"]) }];
      } catch (e) {
        if (frames.length === 1 || !isSeglogError(e)) throw e;
        // Which batch of several, so that a client can tell.
        const named = new SeglogError(e.kind, `Batch ${i + 1} of ${frames.length} (partition ${f.partition}): ${e.message}`, { retriable: e.retriable, ...(e.code === undefined ? {} : { code: e.code }) });
        if (e.kind !== "TooLarge") throw named;
        tooLarge.set(i, named);
        return [];
      }
    });
    if (checked.length === 0) throw tooLarge.values().next().value as SeglogError;
    const producers = new Map(checked.filter((c) => c.batch.producerId >= 0).map((c) => [`${c.batch.producerId}/${c.batch.producerEpoch}`, c.batch]));
    await Promise.all([...producers.values()].map((b) => this.appender.checkProducer(b.producerId, b.producerEpoch)));
    const appended = await this.appender.appendAll(topic, checked, options.recreated ?? "go-on");
    if (tooLarge.size === 0) return appended;
    // In the request's order: each refused batch's error where it was.
    let next = 0;
    return frames.map((f, i) => {
      const refused = tooLarge.get(i);
      return refused === undefined ? (appended[next++] as ProduceResult) : { partition: f.partition, error: refused };
    });
  }

  /** Kafka's InitProducerId: a new id, or for a stable id the same id at a new epoch. */
  initProducer(transactionalId?: string): Promise<{ producerId: number; epoch: number }> {
    return this.producers.init(transactionalId);
  }
}

export const isTopicDeleted = (e: unknown): boolean => isSeglogError(e) && e.code === TOPIC_DELETED;

/** Records by partition: their own, else by key, else one partition for all without a key (sticky). */
function partitionRecords(records: readonly ProduceRecord[], partitions: number): Map<number, ProduceRecord[]> {
  const sticky = randomInt(partitions);
  const byPartition = new Map<number, ProduceRecord[]>();
  for (const r of records) {
    const p = r.partition ?? (r.key === null ? sticky : partitionForKey(r.key, partitions));
    const batch = byPartition.get(p);
    if (batch) batch.push(r);
    else byPartition.set(p, [r]);
  }
  return byPartition;
}
