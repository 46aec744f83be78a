/** Keys of the single table and of the bucket (DESIGN §2). Zero-padded so string order is numeric. */

export const pad = (n: number, width: number): string => String(n).padStart(width, "0");

export const TOPIC_PK = "TOPIC";
/** Deleted topics waiting for the maintenance function to remove their data. */
export const TOMBSTONE_PK = "DELETED";
export const HEAD_SK = "HEAD";

export const partitionPk = (topicId: string, partition: number): string => `P#${topicId}#${partition}`;
export const segmentSk = (seq: number): string => `S#${pad(seq, 12)}`;
export const seqOfSegmentSk = (sk: string): number => Number(sk.slice(2));
export const offsetKey = (offset: number): string => pad(offset, 20);

export const segmentPrefix = (topic: string, topicId: string, partition: number): string =>
  `log/${topic}/${topicId}/${partition}/`;
export const segmentObjectKey = (topic: string, topicId: string, partition: number, baseOffset: number): string =>
  `${segmentPrefix(topic, topicId, partition)}${offsetKey(baseOffset)}.log`;

/** A merged segment: the batches from `baseOffset` to `lastOffset`, back to back (DESIGN §2). */
export const mergedObjectKey = (topic: string, topicId: string, partition: number, baseOffset: number, lastOffset: number): string =>
  `${segmentPrefix(topic, topicId, partition)}${offsetKey(baseOffset)}-${offsetKey(lastOffset)}.log`;

/** Objects that hold several partitions' batches of one produce request, back to back: one PUT
 * per request rather than per batch (docs/produce-and-fetch.md). Named by the first batch's
 * partition and base offset, which no other reservation can take. */
export const sharedPrefix = (topic: string, topicId: string): string => `log/${topic}/${topicId}/r/`;
export const sharedObjectKey = (topic: string, topicId: string, partition: number, baseOffset: number): string =>
  `${sharedPrefix(topic, topicId)}${partition}-${offsetKey(baseOffset)}.log`;

/** The object an index entry names: its own key if merged or shared, else the one its base offset gives. */
export const entryObjectKey = (
  topic: { readonly name: string; readonly topicId: string },
  partition: number,
  entry: { readonly base: number; readonly objectKey?: string },
): string => entry.objectKey ?? segmentObjectKey(topic.name, topic.topicId, partition, entry.base);
