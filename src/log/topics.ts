import { randomUUID } from "node:crypto";
import { invalid, isSeglogError, noSuchPartition, unknownTopic } from "../core/errors.ts";
import {
  DEFAULT_TOPIC_CONFIG,
  parseTopicConfig,
  validatePartitionCount,
  validateTopicName,
  type TopicConfig,
} from "../core/topic-config.ts";
import { TOMBSTONE_PK } from "../core/keys.ts";
import type { Registry, TopicRecord } from "../storage/registry.ts";
import type { LogOptions } from "./options.ts";

export interface CreateTopicInput {
  readonly name: string;
  readonly partitions: number;
  readonly config?: Partial<TopicConfig>;
}

export interface AlterTopicInput {
  readonly partitions?: number;
  readonly config?: Partial<TopicConfig>;
}

/** The topic registry: ZooKeeper-style versioned items, plus a short per-instance cache. */
export class Topics {
  private readonly cache = new Map<string, { topic: TopicRecord; at: number }>();

  constructor(
    private readonly registry: Registry,
    private readonly options: Pick<LogOptions, "topicCacheMs" | "now">,
  ) {}

  async create(input: CreateTopicInput): Promise<{ topic: TopicRecord; warning?: string }> {
    const { warning } = validateTopicName(input.name);
    const partitions = validatePartitionCount(input.partitions);
    const config = { ...DEFAULT_TOPIC_CONFIG, ...parseTopicConfig(input.config) };
    const topic: TopicRecord = {
      name: input.name,
      topicId: randomUUID().replaceAll("-", ""),
      partitions,
      config,
      state: "ACTIVE",
      version: 1,
      createdAt: this.options.now(),
    };
    // Heads first: a crash before the topic item leaves unreachable heads, never a topic that cannot take writes.
    await this.registry.createHeads(topic.topicId, 0, partitions);
    await this.registry.putTopic(topic);
    this.remember(topic);
    return warning === undefined ? { topic } : { topic, warning };
  }

  async list(): Promise<TopicRecord[]> {
    const all = await this.registry.listTopics();
    return all.filter((t) => t.state === "ACTIVE").sort((a, b) => a.name.localeCompare(b.name));
  }

  /** The current topic, read through to DynamoDB. */
  async get(name: string): Promise<TopicRecord> {
    validateTopicName(name);
    const topic = await this.registry.getTopic(name);
    if (!topic || topic.state !== "ACTIVE") {
      this.cache.delete(name);
      throw unknownTopic(name);
    }
    this.remember(topic);
    return topic;
  }

  /** The topic as this instance last saw it, at most `topicCacheMs` old. */
  async cached(name: string): Promise<TopicRecord> {
    const hit = this.cache.get(name);
    if (hit && this.options.now() - hit.at < this.options.topicCacheMs) return hit.topic;
    return this.get(name);
  }

  /** The topic, re-read once if the cache may be behind an alter that added `partition`. */
  async covering(name: string, partition: number): Promise<TopicRecord> {
    const topic = await this.cached(name);
    return partition >= topic.partitions ? this.get(name) : topic;
  }

  /** A topic known to have `partition`, re-reading once if the cache may be behind an alter. */
  async withPartition(name: string, partition: number): Promise<TopicRecord> {
    if (!Number.isInteger(partition) || partition < 0) throw invalid(`Invalid partition ${partition}`);
    const topic = await this.covering(name, partition);
    if (partition >= topic.partitions) {
      throw noSuchPartition(name, partition, topic.partitions);
    }
    return topic;
  }

  forget(name: string): void {
    this.cache.delete(name);
  }

  async alter(name: string, input: AlterTopicInput): Promise<TopicRecord> {
    const current = await this.get(name);
    let partitions = current.partitions;
    if (input.partitions !== undefined) {
      partitions = validatePartitionCount(input.partitions);
      if (partitions <= current.partitions) {
        throw invalid(
          `Topic '${name}' has ${current.partitions} partitions; ${partitions} would not be an increase (the count can only grow)`,
          "InvalidPartitions",
        );
      }
    }
    const next: TopicRecord = {
      ...current,
      partitions,
      config: { ...current.config, ...parseTopicConfig(input.config) },
      version: current.version + 1,
    };
    await this.registry.createHeads(current.topicId, current.partitions, partitions);
    await this.registry.putTopic(next, current.version);
    this.remember(next);
    return next;
  }

  /**
   * Tombstone (for maintenance to remove the data), the topic DELETING, then its heads gone: a
   * function instance that still has the topic cached finds no head to reserve offsets on or
   * read, re-reads the topic, and answers NotFound, or goes on with a topic recreated under the
   * name. Of two deletes at once, the one that loses finds the topic gone. A delete of a topic
   * already DELETING answers NotFound too, once it has removed the heads again: a retry of a
   * delete that failed after marking the topic finishes it.
   */
  async delete(name: string): Promise<void> {
    validateTopicName(name);
    const stored = await this.registry.getTopic(name);
    if (stored?.state === "DELETING") {
      // Then NotFound, whatever the name holds by now: a topic created meanwhile is not this delete's.
      await this.registry.deleteHeads(stored.topicId, stored.partitions);
      this.cache.delete(name);
      throw unknownTopic(name);
    }
    const current = await this.get(name);
    await this.registry.putTombstone(current, this.options.now());
    try {
      await this.registry.putTopic({ ...current, state: "DELETING", version: current.version + 1 }, current.version);
    } catch (e) {
      // Still ACTIVE under this id (an alter came first, or the write failed): the tombstone goes.
      // One another delete wrote for the same id, which won, stays. (Maintenance also passes over
      // the tombstone of a topic still ACTIVE under its id, should this fail too.)
      const stored = await this.registry.getTopic(name).catch(() => undefined);
      if (stored?.topicId === current.topicId && stored.state === "ACTIVE") {
        await this.registry.deleteItems(TOMBSTONE_PK, [current.topicId]).catch(() => undefined);
      }
      if (isSeglogError(e) && e.code === "VersionMismatch") await this.get(name); // NotFound if another delete won
      throw e;
    }
    this.cache.delete(name);
    await this.registry.deleteHeads(current.topicId, current.partitions);
  }

  private remember(topic: TopicRecord): void {
    this.cache.set(topic.name, { topic, at: this.options.now() });
  }
}
