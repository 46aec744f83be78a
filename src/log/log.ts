import { randomInt } from "node:crypto";
import type { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import type { S3Client } from "@aws-sdk/client-s3";
import { encodeRecordBatch } from "../core/codec/record-batch.ts";
import { SeglogError, TOPIC_DELETED, invalid, isSeglogError, noSuchPartition } from "../core/errors.ts";
import { partitionForKey } from "../core/partitioner.ts";
import type { PartitionAnswer, SegmentsAnswer, SharedObject } from "../core/segment-locations.ts";
import { SegmentObjects } from "../storage/objects.ts";
import { Producers } from "../storage/producers.ts";
import { Registry, type TopicRecord } from "../storage/registry.ts";
import { Appender, checkBatch, type AppendOutcome } from "./append.ts";
import { Maintenance, type MaintenanceOptions, type MaintenanceReport } from "./maintenance.ts";
import { checkedLogOptions, type LogOptions } from "./options.ts";
import { Reader, type FetchRequest, type FetchResult, type PartitionWant } from "./read.ts";
import { Topics, type AlterTopicInput, type CreateTopicInput } from "./topics.ts";

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

export interface PartitionState {
  readonly partition: number;
  readonly logStartOffset: number;
  readonly highWatermark: number;
}

export type OffsetSpec = "earliest" | "latest" | { readonly timestampMs: number };

export interface LogStorage {
  readonly dynamo: DynamoDBClient;
  readonly s3: S3Client;
  readonly table: string;
  readonly bucket: string;
}

/** The log engine: topics, produce and fetch over one table and one bucket. */
export class Log {
  readonly options: LogOptions;
  readonly topics: Topics;
  private readonly appender: Appender;
  private readonly reader: Reader;
  private readonly producers: Producers;
  private readonly registry: Registry;
  private readonly objects: SegmentObjects;

  constructor(storage: LogStorage, options: Partial<LogOptions> = {}) {
    this.options = checkedLogOptions(options);
    const registry = (this.registry = new Registry(storage.dynamo, storage.table));
    const objects = (this.objects = new SegmentObjects(storage.s3, storage.bucket));
    this.topics = new Topics(registry, this.options);
    this.producers = new Producers(storage.dynamo, storage.table);
    this.appender = new Appender(registry, objects, this.producers, this.topics, this.options);
    this.reader = new Reader(registry, objects, this.options);
  }

  createTopic(input: CreateTopicInput) {
    return this.topics.create(input);
  }

  listTopics(): Promise<TopicRecord[]> {
    return this.topics.list();
  }

  /** The topic's record (name, id, partition count, config), as the topic cache has it. */
  topic(name: string): Promise<TopicRecord> {
    return this.topics.get(name);
  }

  async describeTopic(name: string): Promise<{ topic: TopicRecord; partitions: PartitionState[] }> {
    const topic = await this.topics.get(name);
    const ends = await this.reader.highWatermarks(topic, Array.from({ length: topic.partitions }, (_, p) => p));
    const partitions = [...ends].map(([partition, { head, highWatermark }]) => ({ partition, logStartOffset: head.logStartOffset, highWatermark }));
    return { topic, partitions };
  }

  alterTopic(name: string, input: AlterTopicInput): Promise<TopicRecord> {
    return this.topics.alter(name, input);
  }

  deleteTopic(name: string): Promise<void> {
    return this.topics.delete(name);
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
   * Produces client-built batches; every batch is checked before any is written. A batch whose
   * topic turns out deleted and created again goes on into the new topic at its partition, unless
   * `recreated: "refuse"` (the server chose the partitions, on the old topic's count): it then
   * fails NotFound with code `UnknownTopicId`.
   */
  async produceFrames(topicName: string, frames: readonly ProduceFrame[], options: { recreated?: "go-on" | "refuse" } = {}): Promise<ProduceResult[]> {
    if (frames.length === 0) throw invalid("No record batches to produce");
    let topic = await this.topics.cached(topicName);
    const highest = Math.max(...frames.map((f) => f.partition));
    if (highest >= topic.partitions) topic = await this.topics.withPartition(topicName, highest);
    const checked = frames.map((f, i) => {
      try {
        return { partition: f.partition, batch: checkBatch(f.bytes, topic.config["max.message.bytes"]) };
      } catch (e) {
        // Which batch of several, so that a client can tell (the request is refused whole).
        if (frames.length === 1 || !isSeglogError(e)) throw e;
        throw new SeglogError(e.kind, `Batch ${i + 1} of ${frames.length} (partition ${f.partition}): ${e.message}`, { retriable: e.retriable, ...(e.code === undefined ? {} : { code: e.code }) });
      }
    });
    const producers = new Map(checked.filter((c) => c.batch.producerId >= 0).map((c) => [`${c.batch.producerId}/${c.batch.producerEpoch}`, c.batch]));
    await Promise.all([...producers.values()].map((b) => this.appender.checkProducer(b.producerId, b.producerEpoch)));
    return this.appender.appendAll(topic, checked, options.recreated ?? "go-on");
  }

  /** One maintenance run: stale reservations, retention, orphans, deleted topics. */
  runMaintenance(options: MaintenanceOptions = {}): Promise<MaintenanceReport> {
    return new Maintenance(this.registry, this.objects, this.reader, { now: this.options.now, listTopics: () => this.listTopics() }, options).run();
  }

  /** Kafka's InitProducerId: a new id, or for a stable id the same id at a new epoch. */
  initProducer(transactionalId?: string): Promise<{ producerId: number; epoch: number }> {
    return this.producers.init(transactionalId);
  }

  fetch(topicName: string, partition: number, request: FetchRequest): Promise<FetchResult> {
    return this.onPartition(topicName, partition, (topic) => this.reader.fetch(topic, partition, request));
  }

  /** A fetch answered with presigned segment URLs instead of bytes (`Reader.locate`). */
  locate(topicName: string, partition: number, request: FetchRequest): Promise<SegmentsAnswer> {
    return this.onPartition(topicName, partition, (topic) => this.reader.locate(topic, partition, request));
  }

  /**
   * Reads one partition of the topic as this instance knows it; if that topic id has been
   * deleted since (its heads are gone), once more on the topic as it is now: NotFound if it is
   * gone, the topic recreated under the name if there is one.
   */
  private onPartition<T>(topicName: string, partition: number, read: (topic: TopicRecord) => Promise<T>): Promise<T> {
    return this.onTopic(topicName, () => this.topics.withPartition(topicName, partition), read);
  }

  /** Reads the topic `topicOf` gives; if that topic id has been deleted since, once more on the topic under the name now. */
  private async onTopic<T>(topicName: string, topicOf: () => Promise<TopicRecord>, read: (topic: TopicRecord) => Promise<T>): Promise<T> {
    try {
      return await read(await topicOf());
    } catch (e) {
      if (!isTopicDeleted(e)) throw e;
      this.topics.forget(topicName);
      return read(await topicOf());
    }
  }

  /** `locate` for several partitions of one topic in one long poll (`Reader.locateMany`). A
   * partition the topic does not have is that partition's error; the others are read. */
  async locateMany(
    topicName: string,
    wants: readonly PartitionWant[],
    request: { maxBytes?: number; maxWaitMs?: number },
  ): Promise<{ partitions: PartitionAnswer[]; objects: SharedObject[] }> {
    const distinct = new Set(wants.map((w) => w.partition));
    if (wants.length === 0 || distinct.size !== wants.length) throw invalid("Name each partition once, and at least one");
    let topic = await this.topics.cached(topicName);
    const top = Math.max(...distinct);
    if (top >= topic.partitions) topic = await this.topics.get(topicName);
    const locate = (t: TopicRecord) => {
      const known = wants.filter((w) => w.partition < t.partitions);
      // A partition that does not exist is news too: the answer does not wait (a long poll ends
      // as soon as any partition has news).
      const wait = known.length < wants.length ? { ...request, maxWaitMs: 0 } : request;
      return known.length === 0 ? { partitions: [], objects: [] } : this.reader.locateMany(t, known, wait);
    };
    let { partitions: answers, objects } = await locate(topic);
    if (answers.some((a) => "error" in a && isTopicDeleted(a.error))) {
      // The topic this instance knew was deleted: read the one under the name now, if any.
      this.topics.forget(topicName);
      topic = await this.topics.get(topicName);
      ({ partitions: answers, objects } = await locate(topic));
    }
    const partitions = wants.map(
      (w): PartitionAnswer =>
        answers.find((a) => a.partition === w.partition) ?? {
          partition: w.partition,
          error: noSuchPartition(topicName, w.partition, topic.partitions),
        },
    );
    return { partitions, objects };
  }

  /** `offsetFor(…, "latest")` of several partitions of a topic at once (their heads in one read;
   * Kafka's ListOffsets takes many too). A partition the topic does not have is left out. */
  async highWatermarks(topicName: string, partitions: readonly number[]): Promise<Map<number, number>> {
    if (partitions.length === 0) return new Map();
    const top = Math.max(...partitions);
    const ends = await this.onTopic(
      topicName,
      () => this.topics.covering(topicName, top),
      (topic) => this.reader.highWatermarks(topic, partitions.filter((p) => p < topic.partitions)),
    );
    return new Map([...ends].map(([partition, { highWatermark }]) => [partition, highWatermark]));
  }

  offsetFor(topicName: string, partition: number, spec: OffsetSpec): Promise<{ offset: number; timestamp: number | null }> {
    return this.onPartition(topicName, partition, async (topic) => {
      if (spec === "earliest") {
        const { head } = await this.reader.highWatermark(topic, partition);
        return { offset: head.logStartOffset, timestamp: null };
      }
      if (spec === "latest") {
        const { highWatermark } = await this.reader.highWatermark(topic, partition);
        return { offset: highWatermark, timestamp: null };
      }
      return this.reader.offsetForTimestamp(topic, partition, spec.timestampMs);
    });
  }
}

const isTopicDeleted = (e: unknown): boolean => isSeglogError(e) && e.code === TOPIC_DELETED;

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
