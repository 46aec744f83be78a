import { notFound } from "../../../src/core/errors.ts";
import type { TopicCatalog } from "../../../src/groups/catalog.ts";

/**
 * A topic catalog over plain maps. Record timestamps are `offset * 1000` ms, so the first offset
 * at or after time t is ⌈t / 1000⌉.
 */
export class FakeCatalog implements TopicCatalog {
  private readonly topics = new Map<string, { partitions: number; topicId: string; start: Map<number, bigint>; end: Map<number, bigint> }>();
  private created = 0;

  /** A topic with a fresh id, as one created again after a delete gets. */
  createTopic(topic: string, partitions: number): this {
    this.topics.set(topic, { partitions, topicId: `${topic}-${++this.created}`, start: new Map(), end: new Map() });
    return this;
  }

  addPartitions(topic: string, partitions: number): void {
    this.topic(topic).partitions = partitions;
  }

  deleteTopic(topic: string): void {
    this.topics.delete(topic);
  }

  setOffsets(topic: string, partition: number, start: bigint, end: bigint): void {
    this.topic(topic).start.set(partition, start);
    this.topic(topic).end.set(partition, end);
  }

  async describe(topic: string): Promise<{ partitions: number; topicId: string }> {
    const { partitions, topicId } = this.topic(topic);
    return { partitions, topicId };
  }

  async highWatermark(topic: string, partition: number): Promise<bigint> {
    return this.topic(topic).end.get(this.check(topic, partition)) ?? 0n;
  }

  async highWatermarks(topic: string, partitions: readonly number[]): Promise<Map<number, bigint>> {
    return new Map(await Promise.all(partitions.map(async (p) => [p, await this.highWatermark(topic, p)] as const)));
  }

  async logStartOffset(topic: string, partition: number): Promise<bigint> {
    return this.topic(topic).start.get(this.check(topic, partition)) ?? 0n;
  }

  async offsetForTimestamp(topic: string, partition: number, timestampMs: number): Promise<bigint | null> {
    const start = await this.logStartOffset(topic, partition);
    const end = await this.highWatermark(topic, partition);
    const at = BigInt(Math.ceil(timestampMs / 1000));
    const offset = at < start ? start : at;
    return offset < end ? offset : null;
  }

  private topic(topic: string) {
    const t = this.topics.get(topic);
    if (t === undefined) throw notFound(`topic ${topic} does not exist`);
    return t;
  }

  private check(topic: string, partition: number): number {
    if (partition >= this.topic(topic).partitions) throw notFound(`${topic}/${partition} does not exist`);
    return partition;
  }
}

/** mulberry32: a tiny seeded PRNG, so a failing simulation can be replayed from its seed. */
export class Rng {
  private state: number;

  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** An integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  chance(p: number): boolean {
    return this.next() < p;
  }

  pick<T>(items: readonly T[]): T {
    const item = items[this.int(items.length)];
    if (item === undefined) throw new Error("pick from an empty list");
    return item;
  }
}
