/**
 * The group service's view of topics, over the log engine. Partition counts are read through to
 * the registry: the service caches them itself for `partitionCacheMs`.
 */
import type { Log } from "../log/log.ts";
import type { TopicCatalog } from "./catalog.ts";

export class LogTopicCatalog implements TopicCatalog {
  private readonly log: Log;

  constructor(log: Log) {
    this.log = log;
  }

  async describe(topic: string): Promise<{ partitions: number; topicId: string }> {
    const { partitions, topicId } = await this.log.topics.get(topic);
    return { partitions, topicId };
  }

  async highWatermark(topic: string, partition: number): Promise<bigint> {
    return BigInt((await this.log.offsetFor(topic, partition, "latest")).offset);
  }

  async highWatermarks(topic: string, partitions: readonly number[]): Promise<Map<number, bigint>> {
    const ends = await this.log.highWatermarks(topic, partitions);
    return new Map([...ends].map(([p, end]) => [p, BigInt(end)]));
  }

  async logStartOffset(topic: string, partition: number): Promise<bigint> {
    return BigInt((await this.log.offsetFor(topic, partition, "earliest")).offset);
  }

  async offsetForTimestamp(topic: string, partition: number, timestampMs: number): Promise<bigint | null> {
    const found = await this.log.offsetFor(topic, partition, { timestampMs });
    // The log answers the high watermark with a null timestamp when no record is that recent.
    return found.timestamp === null ? null : BigInt(found.offset);
  }
}
