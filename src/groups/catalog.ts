/**
 * What the group service needs to know about topics, implemented over the log engine. Kept
 * narrow so that the service can be tested with a fake.
 */
export interface TopicCatalog {
  /** Current partition count (partitions only grow) and the topic's id, which a topic deleted and
   * created again under the name does not keep; throws `NotFound` for an unknown topic. */
  describe(topic: string): Promise<{ partitions: number; topicId: string }>;
  /** The next offset to be written (log end offset) of a partition. */
  highWatermark(topic: string, partition: number): Promise<bigint>;
  /** `highWatermark` of several partitions of a topic, read together. */
  highWatermarks(topic: string, partitions: readonly number[]): Promise<Map<number, bigint>>;
  /** The first offset still in the log (after retention). */
  logStartOffset(topic: string, partition: number): Promise<bigint>;
  /** The first offset whose record timestamp is ≥ `timestampMs`, or null when there is none. */
  offsetForTimestamp(topic: string, partition: number, timestampMs: number): Promise<bigint | null>;
}
