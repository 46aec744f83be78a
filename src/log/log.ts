import { invalid, noSuchPartition } from "../core/errors.ts";
import type { PartitionAnswer, SegmentsAnswer, SharedObject } from "../core/segment-locations.ts";
import type { TopicRecord } from "../storage/registry.ts";
import { Maintenance, type MaintenanceOptions, type MaintenanceReport } from "./maintenance.ts";
import type { LogOptions } from "./options.ts";
import { Reader, type FetchRequest, type FetchResult, type PartitionWant } from "./read.ts";
import type { AlterTopicInput, CreateTopicInput } from "./topics.ts";
import { LogWriter, isTopicDeleted, type LogStorage } from "./writer.ts";

export interface PartitionState {
  readonly partition: number;
  readonly logStartOffset: number;
  readonly highWatermark: number;
}

export type OffsetSpec = "earliest" | "latest" | { readonly timestampMs: number };

/** The log engine: topics, produce ({@link LogWriter}), fetch and maintenance over one table and one bucket. */
export class Log extends LogWriter {
  private readonly reader: Reader;

  constructor(storage: LogStorage, options: Partial<LogOptions> = {}) {
    super(storage, options);
    this.reader = new Reader(this.registry, this.objects, this.options);
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

  /** One maintenance run: stale reservations, retention, orphans, deleted topics. */
  runMaintenance(options: MaintenanceOptions = {}): Promise<MaintenanceReport> {
    return new Maintenance(this.registry, this.objects, this.reader, { now: this.options.now, listTopics: () => this.listTopics() }, options).run();
  }

  fetch(topicName: string, partition: number, request: FetchRequest): Promise<FetchResult> {
    const started = this.options.now();
    return this.onPartition(topicName, partition, (topic, again) => this.reader.fetch(topic, partition, again ? this.restOf(request, started) : request));
  }

  /** A fetch answered with presigned segment URLs instead of bytes (`Reader.locate`). */
  locate(topicName: string, partition: number, request: FetchRequest): Promise<SegmentsAnswer> {
    const started = this.options.now();
    return this.onPartition(topicName, partition, (topic, again) => this.reader.locate(topic, partition, again ? this.restOf(request, started) : request));
  }

  /**
   * Reads one partition of the topic as this instance knows it; if that topic id has been
   * deleted since (its heads are gone), once more (`again`) on the topic as it is now: NotFound
   * if it is gone, the topic recreated under the name if there is one.
   */
  private onPartition<T>(topicName: string, partition: number, read: (topic: TopicRecord, again: boolean) => Promise<T>): Promise<T> {
    return this.onTopic(topicName, () => this.topics.withPartition(topicName, partition), read);
  }

  /** Reads the topic `topicOf` gives; if that topic id has been deleted since, once more on the topic under the name now. */
  private async onTopic<T>(topicName: string, topicOf: () => Promise<TopicRecord>, read: (topic: TopicRecord, again: boolean) => Promise<T>): Promise<T> {
    try {
      return await read(await topicOf(), false);
    } catch (e) {
      if (!isTopicDeleted(e)) throw e;
      this.topics.forget(topicName);
      return read(await topicOf(), true);
    }
  }

  /** A request whose long poll began at `started`, with what is left of its wait: a read tried
   * again on the topic created again under the name does not wait it all over again. */
  private restOf<R extends { readonly maxWaitMs?: number }>(request: R, started: number): R {
    const wait = Math.min(request.maxWaitMs ?? this.options.defaultMaxWaitMs, this.options.maxWaitMsLimit);
    return { ...request, maxWaitMs: Math.max(0, wait - (this.options.now() - started)) };
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
    const locate = (t: TopicRecord, r: typeof request) => {
      const known = wants.filter((w) => w.partition < t.partitions);
      // A partition that does not exist is news too: the answer does not wait (a long poll ends
      // as soon as any partition has news).
      const wait = known.length < wants.length ? { ...r, maxWaitMs: 0 } : r;
      return known.length === 0 ? { partitions: [], objects: [] } : this.reader.locateMany(t, known, wait);
    };
    const started = this.options.now();
    let { partitions: answers, objects } = await locate(topic, request);
    if (answers.some((a) => "error" in a && isTopicDeleted(a.error))) {
      // The topic this instance knew was deleted: read the one under the name now, if any.
      this.topics.forget(topicName);
      topic = await this.topics.get(topicName);
      ({ partitions: answers, objects } = await locate(topic, this.restOf(request, started)));
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
